import { ident } from '../../postgres/client.js';
import type { DrillContext } from '../context.js';

/** The teardown stage, also after a failure: the target removed, or with keep, left and said how to remove it. */
export async function teardownStage(ctx: DrillContext): Promise<void> {
  await ctx.pipe.stage('teardown', async () => {
    if (!ctx.made) return {};
    const { target, database } = ctx.made;
    if (ctx.opts.keep) {
      ctx.forgetCreated?.(); // kept on purpose: a cancellation from here on leaves it
      const handle = target.keep(database);
      if (ctx.result.target) Object.assign(ctx.result.target, { url: target.url(database), handle });
      ctx.log.info(
        `kept: ${target.url(database)} (${target.kind === 'scratch' ? `remove it with: restorable clean --root ${JSON.parse(handle).root}` : `drop it when done: DROP DATABASE ${ident(database)} WITH (FORCE)`})`,
      );
      return {};
    }
    await target.teardown(database);
    ctx.forgetCreated?.();
    return {};
  });
}
