import * as core from '@actions/core';
import { parseDrillOptions } from '../drill/options.js';
import { drillFacts } from '../drill/present.js';
import { drillOutputs, runDrill } from '../drill/run.js';
import { parseTargetUrl, removeKept } from '../drill/target.js';
import { actionInputs, actionsLogger, keptUrlOutput, publish, runAction, stageProgress } from './common.js';

/**
 * The post step, also when the job failed or was cancelled: stop and remove a cluster kept with
 * keep: true, and remove the scratch cluster the main step stopped after its verdict.
 */
async function post(raw: Record<string, string>): Promise<void> {
  const kept = core.getState('kept-target');
  const stopped = core.getState('stopped-target');
  const handle = kept || stopped;
  if (!handle) return;
  const what = kept ? 'the kept drill target' : 'the drill target';
  const url = raw['target-url'];
  const admin = url ? parseTargetUrl('target-url', url, actionsLogger) : undefined;
  const removed = await removeKept(handle, admin);
  if (removed) core.info(`removed ${what} ${removed}`);
  else core.warning(`${what} was not removed (${handle}): remove it by hand`);
}

export function run(raw: Record<string, string> = actionInputs()): Promise<void> {
  return runAction(async () => {
    if (core.getState('is-post') === 'true') return post(raw);
    core.saveState('is-post', 'true');
    const opts = parseDrillOptions(raw, 'input', actionsLogger);
    // The verdict is published before the target is removed: after it, a scratch cluster's server
    // is stopped, and the post step removes its files (the step ends with its verdict).
    const handOff = (handle: string) => core.saveState('stopped-target', handle);
    await runDrill(
      opts,
      actionsLogger,
      stageProgress,
      async (result) => {
        if (result.target?.handle) core.saveState('kept-target', result.target.handle);
        await publish(
          result,
          {
            ...opts.verify,
            title: 'restore-drill',
            facts: drillFacts(result),
            ...(result.chart ? { extra: result.chart } : {}),
          },
          (p) => ({
            ...drillOutputs(result, p),
            ...keptUrlOutput(result.target?.kind === 'scratch' ? result.target.url : undefined),
          }),
        );
      },
      handOff,
    );
  });
}
