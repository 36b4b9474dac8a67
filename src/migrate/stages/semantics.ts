import { runSmokeQueries } from '../../checks/semantics.js';
import { errorMessage } from '../../core/errors.js';
import { withClient } from '../../postgres/client.js';
import type { MigrateContext } from '../context.js';

/** The semantics stage: the config's smoke queries on the migrated database. */
export async function semanticsStage(ctx: MigrateContext): Promise<void> {
  const queries = ctx.opts.config.semantics ?? [];
  if (queries.length === 0) {
    ctx.pipe.skip('semantics', 'no smoke queries in config');
    return;
  }
  await ctx.pipe.stage('semantics', async () => {
    try {
      const r = await withClient(ctx.conn, (c) => runSmokeQueries(c, queries));
      ctx.result.smoke = r.results;
      return { findings: r.findings };
    } catch (e) {
      return { notRun: `could not connect for the smoke queries: ${errorMessage(e)}` };
    }
  });
}
