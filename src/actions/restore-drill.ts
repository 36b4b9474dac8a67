import * as core from '@actions/core';
import { parseDrillOptions } from '../drill/options.js';
import { drillFacts } from '../drill/present.js';
import { drillOutputs, runDrill } from '../drill/run.js';
import { removeCluster } from '../postgres/cluster.js';
import { actionInputs, actionsLogger, publish, runAction } from './common.js';

/** The post step: stop and remove a cluster kept with keep: true, also when the job failed or was cancelled. */
async function post(): Promise<void> {
  const root = core.getState('kept-cluster');
  if (root && (await removeCluster(root))) core.info(`stopped and removed the kept drill cluster ${root}`);
}

export function run(raw: Record<string, string> = actionInputs()): Promise<void> {
  return runAction(async () => {
    if (core.getState('is-post') === 'true') return post();
    core.saveState('is-post', 'true');
    const opts = parseDrillOptions(raw, 'input');
    const result = await runDrill(opts, actionsLogger, (s) =>
      core.info(`${s.name}: ${s.status} in ${s.seconds.toFixed(2)}s${s.reason ? ` (${s.reason})` : ''}`),
    );
    if (result.target?.root) core.saveState('kept-cluster', result.target.root);
    await publish(
      result,
      {
        ...opts.verify,
        title: 'restore-drill',
        facts: drillFacts(result),
        ...(result.chart ? { extra: result.chart } : {}),
      },
      (p) => drillOutputs(result, p),
    );
  });
}
