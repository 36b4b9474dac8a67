import { choice, flag, text } from '../core/inputs.js';
import type { ActionSpec } from '../core/spec.js';

export const MIGRATE_CHECK_MARKER = '<!-- restorable:migrate-check -->';

export const REPORT_MODES = [
  'guard',
  'dispatch',
  'drill-issue',
  'pr-comment',
  'pitr-request',
  'environment-check',
  'incident',
  'notify',
  'last-artifact',
] as const;
export type ReportMode = (typeof REPORT_MODES)[number];

export const githubReportInputs = {
  mode: choice(
    REPORT_MODES,
    '`guard`, `dispatch`, `drill-issue`, `pr-comment`, `pitr-request`, `environment-check`, `incident`, `notify` or `last-artifact`.',
    {
      required: true,
      problem: (v) => `"${v}" is not a mode`,
    },
  ),
  'github-token': text('Token for the GitHub API.', {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, the default in action.yml
    default: '${{ github.token }}',
  }),
  database: text('The database: names issues, records and messages.'),
  guard: flag('guard: let a scheduled run drill only on the first Sunday of the month (UTC).', true),
  'catch-up': flag(
    'guard: on a later scheduled run, ask for a dispatch when no drill passed this month.',
    true,
  ),
  'drill-job': text('guard: the name of the job whose success is a passed drill.', {
    default: 'restorable drill',
  }),
  reports: text(
    'drill-issue, pr-comment, incident: a JSON report, or a folder of them (one subfolder per database).',
  ),
  'job-result': text("drill-issue: the drill job's result (`needs.<job>.result`)."),
  fleet: flag('drill-issue: one summary issue for many databases.', false),
  label: text('drill-issue, incident: the issue label (default restorable-drill, restorable-incident).'),
  body: text('pr-comment: the comment (migrate-check output `comment`); notify: the message.'),
  marker: text(
    'pr-comment: the hidden marker that finds the comment (one per database: the body is made to start with it). Only a comment by a bot that starts with it is edited.',
    { default: MIGRATE_CHECK_MARKER },
  ),
  'pr-number': text("pr-comment: the pull request (default: the event's)."),
  'target-time': text('pitr-request, incident: the recovery target time, with a zone.'),
  'restore-mode': text('pitr-request, environment-check, incident: `drill`, `side-by-side` or `in-place`.'),
  confirm: text(
    "pitr-request: for in-place, the cluster's system identifier or pitr.name, typed (pitr-restore checks it).",
  ),
  reason: text('pitr-request, incident: the incident ticket.'),
  'data-directory': text(
    'pitr-request: in-place, the data directory the restore replaces (shown to the approver).',
  ),
  'stop-command': text('pitr-request: in-place, the command that stops the server (shown to the approver).'),
  'start-command': text('pitr-request: in-place, the command that starts it again (shown to the approver).'),
  environment: text(
    'environment-check: the environment the restore waits on; unless restore-mode is drill, it must exist with required reviewers, prevent self-review, no administrator bypass and a deployment branch policy (the token needs `actions: read`).',
  ),
  'detected-at': text('incident: when the incident was detected (default: when the run was dispatched).'),
  plan: text('incident: the plan job outputs as JSON (`toJSON(needs.plan.outputs)`).'),
  restore: text('incident: the restore job outputs as JSON.'),
  verify: text(
    "incident: the verification as JSON (finished-at, verdict, detail); default: the restore outputs' `verify-*` keys.",
  ),
  'rto-target': text('incident: the RTO target (seed 004: 60m).', { default: '60m' }),
  'rpo-target': text('incident: the RPO target (seed 004: 15m).', { default: '15m' }),
  artifact: text('last-artifact: the artifact name whose newest run is wanted.'),
  'webhook-url': text('A Slack-compatible incoming webhook (from a secret; masked, never printed).'),
  'telegram-token': text('A Telegram bot token (from a secret; masked, never printed).'),
  'telegram-chat-id': text('The Telegram chat to message.'),
  'telegram-api-url': text('Another Bot API server (default: api.telegram.org).'),
  'notify-on': choice(
    ['always', 'failure', 'never'],
    '`always`, `failure` (and the pass that closes an issue) or `never`.',
    {
      default: 'always',
      problem: (v) => `"${v}" is not always, failure or never`,
      fix: 'Pick one of them',
    },
  ),
};

/**
 * The reusable workflows' GitHub side: the first-Sunday guard and its catch-up, the drill issue, the
 * PR comment, the PITR request check, the incident record, notifications. Thin over src/github/ and
 * src/report/notify.ts; not part of the umbrella action.
 */
export const githubReportSpec: ActionSpec<typeof githubReportInputs> = {
  name: 'github-report',
  command: 'report',
  umbrella: false,
  title: 'Restorable: GitHub report',
  description:
    "The reusable workflows' GitHub side: the first-Sunday guard and catch-up, the drill issue, the PR comment, the PITR request and environment checks, the incident record and notifications.",
  inputs: githubReportInputs,
  outputs: [
    { name: 'run', description: 'guard: `true` when this run drills.' },
    {
      name: 'dispatch',
      description: 'guard: `true` when no drill passed this month and one should be dispatched.',
    },
    { name: 'reason', description: 'guard: why; pitr-request: the reason as validated.' },
    { name: 'verdict', description: 'drill-issue, incident: the verdict reported.' },
    { name: 'action', description: '`opened`, `commented`, `closed`, `created`, `updated` or `none`.' },
    { name: 'issue-url', description: 'The issue opened or commented on.' },
    { name: 'comment-url', description: 'pr-comment: the comment.' },
    { name: 'target-time', description: 'pitr-request: the target time, ISO 8601 UTC.' },
    {
      name: 'reviewers',
      description: "environment-check: the environment's required reviewers, comma-separated.",
    },
    { name: 'run-id', description: 'last-artifact: the run that uploaded it (empty when none).' },
  ],
};
