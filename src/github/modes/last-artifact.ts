import { UserError } from '../../core/errors.js';
import { str } from '../inputs.js';
import { latestArtifactRun } from '../runs.js';
import type { ModeRun, ReportResult } from './mode.js';

/** The newest run that uploaded an artifact of this name. */
export async function lastArtifact({ i, deps, ctx }: ModeRun): Promise<ReportResult> {
  const name = str(i.artifact);
  if (!name) throw new UserError('artifact', 'is required for last-artifact', 'Give the artifact name');
  const runId = await latestArtifactRun(deps.client(), ctx.repo(), name);
  deps.log.info(runId ? `${name}: newest from run ${runId}` : `${name}: none yet`);
  return { outputs: { 'run-id': runId ?? '' }, summary: '' };
}
