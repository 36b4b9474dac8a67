import * as core from '@actions/core';
import { parseBool } from '../core/parse.js';
import { parseMarkerOptions, parsePitrOptions } from '../pitr/options.js';
import { pitrFacts, pitrNext } from '../pitr/present.js';
import { pitrOutputs, plantMarker, runPitr } from '../pitr/run.js';
import { removeCluster } from '../postgres/cluster.js';
import { defaultWorkDir } from '../verify/options.js';
import { actionInputs, actionsLogger, publish, runAction } from './common.js';

/** The post step: stop and remove a drill cluster kept with keep: true, also on failure or cancellation. */
async function post(): Promise<void> {
  const root = core.getState('kept-target');
  if (!root) return;
  if (await removeCluster(root)) core.info(`removed the kept recovered cluster ${root}`);
  else core.warning(`the kept recovered cluster was not removed (${root}): restorable clean --root ${root}`);
}

export function run(raw: Record<string, string> = actionInputs()): Promise<void> {
  return runAction(async () => {
    if (core.getState('is-post') === 'true') return post();
    core.saveState('is-post', 'true');
    if (parseBool('plant-marker', raw['plant-marker'], false)) {
      const m = await plantMarker(parseMarkerOptions(raw, 'input', actionsLogger).markerUrl, actionsLogger);
      core.setOutput('target-name', m.name);
      core.setOutput('verdict', 'pass');
      await core.summary
        .addRaw(`## pitr-restore: marker planted\n\nRestore point \`${m.name}\` at ${m.plantedAt}.\n`)
        .write();
      return;
    }
    const opts = parsePitrOptions(raw, 'input', actionsLogger);
    const result = await runPitr(opts, actionsLogger, (s) =>
      core.info(`${s.name}: ${s.status} in ${s.seconds.toFixed(2)}s${s.reason ? ` (${s.reason})` : ''}`),
    );
    if (result.handle) core.saveState('kept-target', result.handle);
    await publish(
      result,
      {
        ...(opts.report ? { report: opts.report } : {}),
        workDir: defaultWorkDir(),
        title: 'pitr-restore',
        facts: pitrFacts(result),
        extra: pitrNext(result),
      },
      (p) => pitrOutputs(result, p),
    );
  });
}
