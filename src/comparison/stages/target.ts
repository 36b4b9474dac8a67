import { errorMessage, UserError } from '../../core/errors.js';
import type { ConnInfo } from '../../postgres/client.js';
import { finding } from '../../report/findings.js';
import type { CompareContext } from '../context.js';
import { modeFor, readSide, type Side } from '../side.js';

/** The target stage: the target read, each table counted the way the source was. Undefined when it could not be. */
export async function targetStage(ctx: CompareContext, src: Side, conn: ConnInfo): Promise<Side | undefined> {
  let target: Side | undefined;
  await ctx.pipe.stage('target', async () => {
    try {
      // The target counts a table the way the source did, so the two numbers are comparable.
      target = await readSide(
        conn,
        ctx.opts,
        (t) => src.counts.get(t.table)?.mode ?? modeFor(ctx.opts, t.estimate),
      );
      return {};
    } catch (e) {
      // TLS, authentication, pg_hba: the user's to fix (one line, exit 2); an unreachable server is a finding.
      if (e instanceof UserError) throw e;
      const message = `could not read ${ctx.result.target}: ${errorMessage(e)}`;
      return { findings: [finding('TARGET_UNREACHABLE', 'target', message)] };
    }
  });
  return target;
}
