import fs from 'node:fs';
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { UserError } from '../core/errors.js';
import { readInputs } from '../core/inputs.js';
import type { Logger } from '../core/log.js';
import type { Finding } from '../report/findings.js';
import { type IncidentInput, incidentRecord, incidentTitle, SEED_TARGETS } from '../report/incident.js';
import { type NotifyTargets, notify } from '../report/notify.js';
import { type GitHubClient, parseRepo, type Repo, repoPath } from './client.js';
import { requireReviewedEnvironment } from './environments.js';
import { openIssue, syncIssue, upsertMarkedComment } from './issues.js';
import { validatePitrRequest } from './pitr-request.js';
import { readReports, summarizeDrill, worstVerdict } from './reports.js';
import { dispatchWorkflow, drillMonthState, latestArtifactRun, runApprovals, workflowFile } from './runs.js';
import { decideCatchUp, decideSchedule } from './schedule.js';
import { githubReportInputs, githubReportSpec } from './spec.js';

export interface ReportDeps {
  /** Made on first use, so modes that need no API (notify, pitr-request) need no token. */
  client: () => GitHubClient;
  log: Logger;
  env: Record<string, string | undefined>;
  now: Date;
  fetchImpl?: typeof fetch;
}

export interface ReportResult {
  outputs: Record<string, string>;
  /** Markdown for the job summary. */
  summary: string;
}

/** The keys of `o` that start with `prefix`, without it (`verify-finished-at` -> `finished-at`). */
function prefixed(o: Record<string, string>, prefix: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(o)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
}

/** A job's outputs as JSON: an object of strings (numbers and booleans read as their text). */
const outputsJson = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

function json(input: string, v: string | undefined): Record<string, string> {
  if (!v?.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {}
  const r = outputsJson.safeParse(parsed);
  if (r.success) return r.data;
  throw new UserError(input, 'is not a JSON object', `Pass toJSON(needs.<job>.outputs)`);
}

const num = (v: string | undefined) => (v && Number.isFinite(Number(v)) ? Number(v) : undefined);
const str = (v: string | undefined) => (v?.trim() ? v.trim() : undefined);
/** The fields `make` gives for a value that is there, else none: `...when(str(x), (y) => ({ y }))`. */
const when = <T, R extends object>(v: T | undefined, make: (v: T) => R): R | Record<never, never> =>
  v === undefined ? {} : make(v);

const pullRequestEvent = z.object({
  pull_request: z.object({ number: z.number().optional() }).optional(),
  number: z.number().optional(),
});

function context(env: ReportDeps['env']) {
  const server = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '');
  const repository = env.GITHUB_REPOSITORY ?? '';
  const runId = env.GITHUB_RUN_ID ?? '';
  return {
    repo: (): Repo => parseRepo(repository),
    runId,
    runUrl: repository && runId ? `${server}/${repository}/actions/runs/${runId}` : '(no run)',
  };
}

function prNumber(raw: string | undefined, env: ReportDeps['env']): number {
  if (raw?.trim()) {
    if (!/^\d+$/.test(raw.trim()))
      throw new UserError('pr-number', `"${raw}" is not a number`, 'Give the PR number');
    return Number(raw);
  }
  const file = env.GITHUB_EVENT_PATH;
  if (file && fs.existsSync(file)) {
    const ev = pullRequestEvent.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    const n = ev.success ? (ev.data.pull_request?.number ?? ev.data.number) : undefined;
    if (n) return n;
  }
  throw new UserError(
    'pr-number',
    'this run is not for a pull request',
    'Run on pull_request, or give pr-number',
  );
}

/** Run one mode of the github-report action. Inputs are the action's, by name. */
export async function runReport(raw: Record<string, string>, deps: ReportDeps): Promise<ReportResult> {
  const i = readInputs(githubReportSpec.command, githubReportInputs, raw, 'input');
  const mode = i.mode;
  const ctx = context(deps.env);
  const targets: NotifyTargets = {
    ...when(str(i['webhook-url']), (webhookUrl) => ({ webhookUrl })),
    ...when(str(i['telegram-token']), (telegramToken) => ({ telegramToken })),
    ...when(str(i['telegram-chat-id']), (telegramChatId) => ({ telegramChatId })),
    ...when(str(i['telegram-api-url']), (telegramApiUrl) => ({ telegramApiUrl })),
  };
  if (targets.webhookUrl) deps.log.secret(targets.webhookUrl);
  if (targets.telegramToken) deps.log.secret(targets.telegramToken);
  const notifyOn = i['notify-on'];
  const send = async (text: string, problem: boolean) => {
    if (notifyOn === 'never' || (notifyOn === 'failure' && !problem)) return;
    if (!targets.webhookUrl && !targets.telegramToken) return;
    await notify(targets, text, deps.log, deps.fetchImpl);
  };
  const database = str(i.database) ?? 'database';

  switch (mode) {
    case 'guard': {
      const decision = decideSchedule({
        now: deps.now,
        event: deps.env.GITHUB_EVENT_NAME ?? '',
        guard: i.guard,
        catchUp: i['catch-up'],
      });
      let dispatch = false;
      let reason = decision.reason;
      if (decision.checkCatchUp) {
        const state = await drillMonthState(deps.client(), ctx.repo(), {
          workflow: workflowFile(deps.env.GITHUB_WORKFLOW_REF),
          drillJob: i['drill-job'],
          now: deps.now,
          currentRunId: ctx.runId,
        });
        const c = decideCatchUp(state);
        dispatch = c.dispatch;
        reason = `${decision.reason}: ${c.reason}`;
      }
      deps.log.info(reason);
      return {
        outputs: { run: String(decision.run), dispatch: String(dispatch), reason },
        summary: `### Restorable schedule guard\n\n${decision.run ? '▶️ drill' : dispatch ? '↪️ catch-up dispatch' : '⏭️ skipped (not a failure)'}: ${reason}\n`,
      };
    }
    case 'dispatch': {
      const workflow = workflowFile(deps.env.GITHUB_WORKFLOW_REF);
      const ref = deps.env.GITHUB_REF ?? '';
      if (!ref) throw new UserError('GITHUB_REF', 'is not set', 'Run inside GitHub Actions');
      // Look again just before: another leg of a fleet may have dispatched one meanwhile.
      const again = decideCatchUp(
        await drillMonthState(deps.client(), ctx.repo(), {
          workflow,
          drillJob: i['drill-job'],
          now: deps.now,
          currentRunId: ctx.runId,
        }),
      );
      if (!again.dispatch) {
        deps.log.info(again.reason);
        return {
          outputs: { action: 'none', reason: again.reason },
          summary: `### Restorable catch-up\n\n${again.reason}\n`,
        };
      }
      await dispatchWorkflow(deps.client(), ctx.repo(), workflow, ref);
      deps.log.info(`dispatched ${workflow} on ${ref}`);
      return {
        outputs: { action: 'dispatched' },
        summary: `### Restorable catch-up\n\nNo drill passed this month: dispatched \`${workflow}\` on \`${ref}\`.\n`,
      };
    }
    case 'drill-issue': {
      const fleet = i.fleet;
      const reports = i.reports ? readReports(i.reports) : [];
      const s = summarizeDrill(reports, {
        database,
        runUrl: ctx.runUrl,
        now: deps.now,
        fleet,
        ...when(str(i['job-result']), (jobResult) => ({ jobResult })),
      });
      const label = str(i.label) ?? (fleet ? 'restorable-fleet' : 'restorable-drill');
      const outcome = await syncIssue(deps.client(), ctx.repo(), {
        label,
        title: s.title,
        verdict: s.verdict,
        body: s.body,
        passBody: `${s.body}\nThe drill passes again: closing.`,
      });
      await send(
        outcome.action === 'closed' ? `${s.line} (closes ${outcome.url})` : s.line,
        s.verdict !== 'pass' || outcome.action === 'closed',
      );
      return {
        outputs: {
          verdict: s.verdict,
          action: outcome.action,
          'issue-url': outcome.url ?? '',
        },
        summary: `${s.body}\n${outcome.action === 'none' ? 'No open issue: nothing to do.' : `Issue ${outcome.action}: ${outcome.url}`}\n`,
      };
    }
    case 'pr-comment': {
      const marker = i.marker.trim();
      if (!/^<!--[^>]*-->$/.test(marker)) {
        throw new UserError(
          'marker',
          `"${marker}" is not one hidden HTML comment`,
          'Write it as <!-- restorable:migrate-check:<database> -->',
        );
      }
      let body = str(i.body);
      let verdict = 'pass';
      if (!body) {
        // No comment from migrate-check (the restore failed before it ran): say what did happen.
        const reports = i.reports ? readReports(i.reports) : [];
        const s = summarizeDrill(reports, {
          database,
          runUrl: ctx.runUrl,
          now: deps.now,
          ...when(str(i['job-result']), (jobResult) => ({ jobResult })),
        });
        verdict = s.verdict;
        body = `${marker}\n## Migration check: not run\n\nThe migration was not checked: the latest backup did not restore.\n\n${s.body}`;
      } else if (!body.startsWith(marker)) {
        body = `${marker}\n${body}`;
      }
      const r = await upsertMarkedComment(
        deps.client(),
        ctx.repo(),
        prNumber(i['pr-number'], deps.env),
        marker,
        body,
      );
      deps.log.info(`PR comment ${r.action}: ${r.url}`);
      return {
        outputs: { action: r.action, 'comment-url': r.url, verdict },
        summary: `PR comment ${r.action}: ${r.url}\n`,
      };
    }
    case 'pitr-request': {
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
    case 'environment-check': {
      const name = str(i.environment) ?? '';
      const restoreMode = str(i['restore-mode']) ?? 'drill';
      if (restoreMode === 'drill') {
        deps.log.info(`a drill replaces nothing: environment "${name}" is not checked for reviewers`);
        return {
          outputs: { reviewers: '' },
          summary: `Environment \`${name}\`: not checked (a drill).\n`,
        };
      }
      const env = await requireReviewedEnvironment(deps.client(), ctx.repo(), name);
      const who = env.reviewers.length ? env.reviewers.join(', ') : 'its required reviewers';
      deps.log.info(`environment "${env.name}" requires a review: ${who}`);
      return {
        outputs: { reviewers: env.reviewers.join(',') },
        summary: `Environment \`${env.name}\` requires a review before the restore runs: ${who}.\n`,
      };
    }
    case 'incident': {
      const client = deps.client();
      const repo = ctx.repo();
      const approvals = ctx.runId ? await runApprovals(client, repo, ctx.runId) : [];
      const run = ctx.runId
        ? await client.request<{
            created_at?: string;
            actor?: { login?: string };
            triggering_actor?: { login?: string };
          }>('GET', `${repoPath(repo)}/actions/runs/${ctx.runId}`)
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
      const input: IncidentInput = {
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
        restore: {
          verdict: str(restore.verdict) ?? 'not run',
          ...when(str(restore['recovered-to']), (recoveredTo) => ({ recoveredTo })),
          ...when(str(restore['base-backup']), (baseBackup) => ({ baseBackup })),
          ...when(str(restore['wal-segments']), (walSegments) => ({ walSegments })),
          ...when(str(restore['wal-range']), (walRange) => ({ walRange })),
          ...when(num(restore['replay-seconds']), (replaySeconds) => ({ replaySeconds })),
          ...when(num(restore['total-seconds']), (totalSeconds) => ({ totalSeconds })),
          ...when(num(plan['estimated-seconds']), (estimatedSeconds) => ({ estimatedSeconds })),
          ...when(str(restore['safety-snapshot']), (safetySnapshot) => ({ safetySnapshot })),
        },
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
    case 'notify': {
      const text = str(i.body);
      if (!text) throw new UserError('body', 'is required for notify', 'Give the message');
      if (!targets.webhookUrl && !targets.telegramToken) {
        deps.log.info('no webhook-url or telegram-token: nothing to notify');
        return { outputs: { action: 'none' }, summary: '' };
      }
      const results = await notify(targets, text, deps.log, deps.fetchImpl);
      return {
        outputs: { action: results.every((r) => r.ok) ? 'notified' : 'failed' },
        summary: results.map((r) => `- ${r.channel}: ${r.ok ? 'sent' : 'failed'} (${r.detail})`).join('\n'),
      };
    }
    case 'last-artifact': {
      const name = str(i.artifact);
      if (!name) throw new UserError('artifact', 'is required for last-artifact', 'Give the artifact name');
      const runId = await latestArtifactRun(deps.client(), ctx.repo(), name);
      deps.log.info(runId ? `${name}: newest from run ${runId}` : `${name}: none yet`);
      return { outputs: { 'run-id': runId ?? '' }, summary: '' };
    }
  }
}
