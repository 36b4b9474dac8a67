import { runSmokeQueries } from '../../checks/semantics.js';
import { withClient } from '../../postgres/client.js';
import type { TargetedDrill } from '../context.js';

/** The semantics rung: the config's smoke queries on the restored database (tier full only). */
export async function semanticsStage(t: TargetedDrill): Promise<void> {
  const { pipe, opts } = t;
  const queries = opts.config.semantics ?? [];
  if (opts.tier === 'schema') pipe.skip('semantics', 'NOT RUN: tier SCHEMA restores no rows');
  else if (queries.length === 0) pipe.skip('semantics', 'no smoke queries in config');
  else if (opts.tier === 'sample')
    pipe.skip('semantics', 'NOT RUN: tier SAMPLE restores only the rows of sample-tables');
  else {
    await pipe.stage('semantics', async () => {
      const r = await withClient(t.conn, (c) => runSmokeQueries(c, queries));
      t.result.smoke = r.results;
      return { findings: r.findings };
    });
  }
}
