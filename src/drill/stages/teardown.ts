import { errorMessage } from '../../core/errors.js';
import { ident } from '../../postgres/client.js';
import type { DrillContext } from '../context.js';
import { discardEarly } from '../scratch.js';

/**
 * The teardown stage, also after a failure. With keep, the target is left and the stage says how to
 * remove it. Otherwise the removal follows the verdict (teardownAfterVerdict, once the report is
 * written and published): the stage records that it is due, and what it will remove.
 */
export async function teardownStage(ctx: DrillContext): Promise<void> {
  await ctx.pipe.stage('teardown', async () => {
    if (!ctx.made) return {};
    const { target, database, restorer } = ctx.made;
    if (ctx.opts.keep) {
      // Later steps (migrate-check's migration) get the restorer's login, not the superuser's.
      if (restorer && target.keepAs) ctx.log.secret(await target.keepAs(restorer));
      ctx.forgetCreated?.(); // kept on purpose: a cancellation from here on leaves it
      ctx.made = undefined;
      const handle = target.keep(database);
      if (ctx.result.target) Object.assign(ctx.result.target, { url: target.url(database), handle });
      ctx.log.info(
        `kept: ${target.url(database)} (${target.kind === 'scratch' ? `remove it with: restorable clean --root ${JSON.parse(handle).root}` : `drop it when done: DROP DATABASE ${ident(database)} WITH (FORCE)`})`,
      );
      return {};
    }
    if (ctx.handOff && target.handOff) {
      return {
        note: 'after the verdict: the scratch cluster is stopped once the report is written, and the post step removes it',
      };
    }
    const what = target.kind === 'scratch' ? 'the scratch cluster' : `the database ${database}`;
    return { note: `after the verdict: ${what} is removed once the report is written` };
  });
}

/**
 * The removal the teardown stage put after the verdict: the scratch cluster stopped and removed, or
 * the drill's database dropped. Runs on every way out of the drill (its cancel hooks stay armed
 * until it is done); a failure cannot change the verdict any more, so it is a warning line. With
 * `ctx.handOff` (the action: its post step removes what it is given), a scratch cluster is only
 * stopped here, and its handle given: the files' removal is off the step's time.
 */
export async function teardownAfterVerdict(ctx: DrillContext): Promise<void> {
  // A cluster started while the backup was read that no target stage took (the backup did not verify).
  const early = ctx.early;
  ctx.early = undefined;
  if (early) await discardEarly(early, ctx.log);
  const made = ctx.made;
  ctx.made = undefined;
  if (!made) return;
  try {
    if (ctx.handOff && made.target.handOff) ctx.handOff(await made.target.handOff());
    else await made.target.teardown(made.database);
    ctx.forgetCreated?.();
  } catch (e) {
    const what =
      made.target.kind === 'scratch'
        ? 'the scratch cluster was not removed (restorable clean removes it)'
        : `the database ${made.database} was not dropped (DROP DATABASE ${ident(made.database)} WITH (FORCE))`;
    ctx.log.warn(`after the verdict, ${what}: ${errorMessage(e)}`);
  }
}
