import { formatSeconds } from '../../core/duration.js';
import { finding } from '../../report/findings.js';
import type { DrillContext } from '../context.js';

/** The rto stage, with rto-budget: the drill's wall time so far against the budget. */
export async function rtoStage(ctx: DrillContext): Promise<void> {
  const budget = ctx.opts.rtoBudgetSeconds;
  if (budget === undefined) return;
  const elapsed = (Date.now() - ctx.pipe.started) / 1000;
  await ctx.pipe.stage('rto', async () =>
    elapsed > budget
      ? {
          findings: [
            finding(
              'RTO_EXCEEDED',
              'rto',
              `the drill took ${formatSeconds(elapsed)}, over the RTO budget of ${formatSeconds(budget)}`,
              { evidence: { seconds: Math.round(elapsed), budget } },
            ),
          ],
        }
      : {},
  );
}
