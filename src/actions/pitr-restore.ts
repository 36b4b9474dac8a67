import * as core from '@actions/core';
import { defaultWorkDir } from '../backup/options.js';
import { UserError } from '../core/errors.js';
import { parseBool } from '../core/parse.js';
import { resumeFromJournal } from '../pitr/journal.js';
import { plantMarker } from '../pitr/marker.js';
import { parseMarkerOptions, parsePitrOptions } from '../pitr/options.js';
import { pitrFacts, pitrNext } from '../pitr/present.js';
import { pitrOutputs, runPitr } from '../pitr/run.js';
import { removeCluster } from '../postgres/cluster.js';
import { actionInputs, actionsLogger, keptUrlOutput, publish, runAction, stageProgress } from './common.js';

/** The post step: stop and remove a drill cluster kept with keep: true, also on failure or cancellation. */
async function post(): Promise<void> {
  // In place: whatever a cancel or a kill left half done is finished from the journal.
  const live = core.getState('in-place');
  if (live) core.info(`in place: ${resumeFromJournal(live)}`);
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
    if (parseBool('rollback', raw.rollback, false)) {
      const live = raw['data-directory'];
      if (!live)
        throw new UserError(
          'data-directory',
          'is missing',
          'Give the data directory of the in-place run to finish',
        );
      core.info(resumeFromJournal(live));
      core.setOutput('verdict', 'pass');
      return;
    }
    const opts = parsePitrOptions(raw, 'input', actionsLogger);
    if (opts.mode === 'in-place' && !opts.planOnly) core.saveState('in-place', opts.dataDirectory);
    const result = await runPitr(opts, actionsLogger, stageProgress);
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
      (p) => ({
        ...pitrOutputs(result, p),
        ...keptUrlOutput(result.handle ? result.databaseUrl : undefined),
      }),
    );
  });
}
