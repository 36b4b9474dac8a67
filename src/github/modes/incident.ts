import { parseDuration } from '../../core/duration.js';
import type { Finding } from '../../report/findings.js';
import { type IncidentInput, incidentRecord, incidentTitle, SEED_TARGETS } from '../../report/incident.js';
import type { GitHubClient, Repo } from '../client.js';
import { json, num, prefixed, str, when } from '../inputs.js';
import { openIssue } from '../issues.js';
import { readReports, worstVerdict } from '../reports.js';
import { runApprovals } from '../runs.js';
import type { ModeRun, ReportResult } from './mode.js';

/** What the restore job's outputs (and the plan's) say of the restore, for the incident record. */
function restoreFacts(
  restore: Record<string, string>,
  plan: Record<string, string>,
): IncidentInput['restore'] {
  return {
    verdict: str(restore.verdict) ?? 'not run',
    ...when(str(restore['recovered-to']), (recoveredTo) => ({ recoveredTo })),
    ...when(str(restore['base-backup']), (baseBackup) => ({ baseBackup })),
    ...when(str(restore['wal-segments']), (walSegments) => ({ walSegments })),
    ...when(str(restore['wal-range']), (walRange) => ({ walRange })),
    ...when(num(restore['replay-seconds']), (replaySeconds) => ({ replaySeconds })),
    ...when(num(restore['total-seconds']), (totalSeconds) => ({ totalSeconds })),
    ...when(num(plan['estimated-seconds']), (estimatedSeconds) => ({ estimatedSeconds })),
    ...when(str(restore['safety-snapshot']), (safetySnapshot) => ({ safetySnapshot })),
  };
}

/** The incident record's facts: the run, its approvals, the plan's, restore's and verify's outputs. */
async function incidentInput(
  { i, deps, ctx, database }: ModeRun,
  client: GitHubClient,
  repo: Repo,
): Promise<IncidentInput> {
  const approvals = ctx.runId ? await runApprovals(client, repo, ctx.runId) : [];
  const run = ctx.runId
    ? (
        await client.request<{
          created_at?: string;
          actor?: { login?: string };
          triggering_actor?: { login?: string };
        }>('GET /repos/{owner}/{repo}/actions/runs/{run_id}', { ...repo, run_id: ctx.runId })
      ).data
    : {};
  const plan = json('plan', i.plan);
  const restore = json('restore', i.restore);
  // The checks run in the restore job (the restored server is on its runner): its verify-*
  // outputs, unless a verify JSON is given.
  const verify = str(i.verify) ? json('verify', i.verify) : prefixed(restore, 'verify-');
  const reports = i.reports ? readReports(i.reports) : [];
  const findings: Finding[] = reports.flatMap((r) => r.findings).filter((f) => !f.ignored);
  const restoreMode = str(i['restore-mode']) ?? 'drill';
  const targetTime = str(i['target-time']);
  const target = targetTime ?? str(plan['target-name']) ?? 'the latest WAL';
  return {
    database,
    mode: restoreMode,
    reason: str(i.reason) ?? '',
    requestedBy:
      run.triggering_actor?.login ??
      run.actor?.login ??
      deps.env.GITHUB_TRIGGERING_ACTOR ??
      deps.env.GITHUB_ACTOR ??
      'unknown',
    runUrl: ctx.runUrl,
    target,
    ...(targetTime && !Number.isNaN(Date.parse(targetTime)) ? { damageAt: targetTime } : {}),
    ...when(str(i['detected-at']), (detectedAt) => ({ detectedAt })),
    dispatchedAt: run.created_at ?? str(plan['started-at']) ?? deps.now.toISOString(),
    ...when(str(plan['finished-at']), (planFinishedAt) => ({ planFinishedAt })),
    ...when(str(restore['started-at']), (restoreStartedAt) => ({ restoreStartedAt })),
    ...when(str(restore['finished-at']), (restoreFinishedAt) => ({ restoreFinishedAt })),
    ...when(str(verify['finished-at']), (verifyFinishedAt) => ({ verifyFinishedAt })),
    approvals,
    restore: restoreFacts(restore, plan),
    verify: {
      verdict: str(verify.verdict) ?? 'not run',
      ...when(str(verify.detail), (detail) => ({ detail })),
    },
    findings,
    targets: {
      ...SEED_TARGETS,
      rto: parseDuration('rto-target', i['rto-target']),
      rpo: parseDuration('rpo-target', i['rpo-target']),
    },
  };
}

/** The incident record of a PITR run, opened as an issue; notified. */
export async function incident(m: ModeRun): Promise<ReportResult> {
  const { i, deps, ctx, send } = m;
  const client = deps.client();
  const repo = ctx.repo();
  const input = await incidentInput(m, client, repo);
  const body = incidentRecord(input);
  const verdict = worstVerdict(
    [input.restore.verdict, input.verify.verdict].map((v) =>
      v === 'pass' ? 'pass' : v === 'fail' ? 'fail' : 'could-not-verify',
    ),
  );
  const outcome = await openIssue(client, repo, {
    label: str(i.label) ?? 'restorable-incident',
    title: incidentTitle(input),
    body,
  });
  await send(`${incidentTitle(input)}: ${outcome.url}`, verdict !== 'pass');
  return {
    outputs: { verdict, action: outcome.action, 'issue-url': outcome.url ?? '' },
    summary: `${body}\nIncident record: ${outcome.url}\n`,
  };
}
