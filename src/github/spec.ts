import type { ActionSpec } from '../core/spec.js';

export const MIGRATE_CHECK_MARKER = '<!-- restorable:migrate-check -->';

/**
 * The reusable workflows' GitHub side: the first-Sunday guard and its catch-up, the drill issue, the
 * PR comment, the PITR request check, the incident record, notifications. Thin over src/github/ and
 * src/report/notify.ts; not part of the umbrella action.
 */
export const githubReportSpec: ActionSpec = {
  name: 'github-report',
  command: 'report',
  umbrella: false,
  title: 'Restorable: GitHub report',
  description:
    "The reusable workflows' GitHub side: the first-Sunday guard and catch-up, the drill issue, the PR comment, the PITR request and environment checks, the incident record and notifications.",
  inputs: [
    {
      name: 'mode',
      required: true,
      description:
        '`guard`, `dispatch`, `drill-issue`, `pr-comment`, `pitr-request`, `environment-check`, `incident`, `notify` or `last-artifact`.',
    },
    {
      name: 'github-token',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, the default in action.yml
      default: '${{ github.token }}',
      description: 'Token for the GitHub API.',
    },
    { name: 'database', description: 'The database: names issues, records and messages.' },
    {
      name: 'guard',
      default: 'true',
      description: 'guard: let a scheduled run drill only on the first Sunday of the month (UTC).',
    },
    {
      name: 'catch-up',
      default: 'true',
      description: 'guard: on a later scheduled run, ask for a dispatch when no drill passed this month.',
    },
    {
      name: 'drill-job',
      default: 'restorable drill',
      description: 'guard: the name of the job whose success is a passed drill.',
    },
    {
      name: 'reports',
      description:
        'drill-issue, pr-comment, incident: a JSON report, or a folder of them (one subfolder per database).',
    },
    { name: 'job-result', description: "drill-issue: the drill job's result (`needs.<job>.result`)." },
    { name: 'fleet', default: 'false', description: 'drill-issue: one summary issue for many databases.' },
    {
      name: 'label',
      description: 'drill-issue, incident: the issue label (default restorable-drill, restorable-incident).',
    },
    {
      name: 'body',
      description: 'pr-comment: the comment (migrate-check output `comment`); notify: the message.',
    },
    {
      name: 'marker',
      default: '<!-- restorable:migrate-check -->',
      description:
        'pr-comment: the hidden marker that finds the comment (one per database: the body is made to start with it). Only a comment by a bot that starts with it is edited.',
    },
    { name: 'pr-number', description: "pr-comment: the pull request (default: the event's)." },
    { name: 'target-time', description: 'pitr-request, incident: the recovery target time, with a zone.' },
    {
      name: 'restore-mode',
      description: 'pitr-request, environment-check, incident: `drill`, `side-by-side` or `in-place`.',
    },
    {
      name: 'confirm',
      description:
        "pitr-request: for in-place, the cluster's system identifier or pitr.name, typed (pitr-restore checks it).",
    },
    { name: 'reason', description: 'pitr-request, incident: the incident ticket.' },
    {
      name: 'environment',
      description:
        'environment-check: the environment the restore waits on; unless restore-mode is drill, it must exist with required reviewers (the token needs `actions: read`).',
    },
    {
      name: 'detected-at',
      description: 'incident: when the incident was detected (default: when the run was dispatched).',
    },
    {
      name: 'plan',
      description: 'incident: the plan job outputs as JSON (`toJSON(needs.plan.outputs)`).',
    },
    { name: 'restore', description: 'incident: the restore job outputs as JSON.' },
    {
      name: 'verify',
      description:
        "incident: the verification as JSON (finished-at, verdict, detail); default: the restore outputs' `verify-*` keys.",
    },
    { name: 'rto-target', default: '60m', description: 'incident: the RTO target (seed 004: 60m).' },
    { name: 'rpo-target', default: '15m', description: 'incident: the RPO target (seed 004: 15m).' },
    { name: 'artifact', description: 'last-artifact: the artifact name whose newest run is wanted.' },
    {
      name: 'webhook-url',
      description: 'A Slack-compatible incoming webhook (from a secret; masked, never printed).',
    },
    { name: 'telegram-token', description: 'A Telegram bot token (from a secret; masked, never printed).' },
    { name: 'telegram-chat-id', description: 'The Telegram chat to message.' },
    { name: 'telegram-api-url', description: 'Another Bot API server (default: api.telegram.org).' },
    {
      name: 'notify-on',
      default: 'always',
      description: '`always`, `failure` (and the pass that closes an issue) or `never`.',
    },
  ],
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
