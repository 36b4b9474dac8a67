import { compareRung } from '../../comparison/run.js';
import type { TargetedDrill } from '../context.js';

/** The compare rung: compare-counts of the live source (or a baseline) against the restored database. */
export async function compareStage(t: TargetedDrill): Promise<void> {
  const { pipe, opts } = t;
  if (opts.compare && opts.tier !== 'full') {
    pipe.skip('compare', `NOT RUN: tier ${opts.tier.toUpperCase()} does not restore every row`);
    return;
  }
  const summary = await compareRung(pipe, opts.compare, t.conn, t.log);
  if (summary) t.result.compare = summary;
}
