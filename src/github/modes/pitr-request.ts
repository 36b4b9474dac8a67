import { validatePitrRequest } from '../pitr-request.js';
import type { ModeRun, ReportResult } from './mode.js';

/** A PITR request checked before anything runs: its target time, mode and reason. */
export async function pitrRequest({ i, deps, database }: ModeRun): Promise<ReportResult> {
  const req = validatePitrRequest(
    {
      database,
      ...(i['target-time'] !== undefined ? { targetTime: i['target-time'] } : {}),
      ...(i['restore-mode'] !== undefined ? { mode: i['restore-mode'] } : {}),
      ...(i.confirm !== undefined ? { confirm: i.confirm } : {}),
      ...(i.reason !== undefined ? { reason: i.reason } : {}),
    },
    deps.now,
  );
  return {
    outputs: { 'target-time': req.targetTime, reason: req.reason },
    summary: `### PITR request\n\n| | |\n|---|---|\n| database | ${database} |\n| target time | ${req.targetTime} |\n| mode | ${req.mode} |\n| reason | ${req.reason || '—'} |\n| requested by | @${deps.env.GITHUB_TRIGGERING_ACTOR ?? deps.env.GITHUB_ACTOR ?? '?'} |\n`,
  };
}
