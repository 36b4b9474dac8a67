import type { ActionSpec } from '../core/spec.js';
import { verifySpec } from '../verify/spec.js';

/** A drill takes every verify-backup input (its schema replay is the restore itself) plus its own. */
export const drillSpec: ActionSpec = {
  name: 'restore-drill',
  command: 'drill',
  post: true,
  title: 'Restorable: restore drill',
  description:
    'Verify the newest backup, restore it into a throwaway version-matched PostgreSQL, check what came back (structure, row counts, smoke queries, sequences, collation) and time every stage against an RTO.',
  inputs: [
    ...verifySpec.inputs.filter((i) => i.name !== 'schema-check'),
    { name: 'config', description: 'Path of restorable.yml: the ladder of checks (validated strictly).' },
    {
      name: 'tier',
      default: 'full',
      description: '`full`, `schema` (structure only; row checks NOT RUN) or `sample`.',
    },
    {
      name: 'sample-tables',
      description: 'With tier `sample`: the tables whose rows are restored, comma-separated schema.table.',
    },
    {
      name: 'roles',
      description:
        '`create-missing` (the default on scratch targets: owners and grantees as NOLOGIN roles), `strict` (absent roles are ROLE_ABSENT) or `ignore` (--no-owner --no-privileges; the default with target-url).',
    },
    {
      name: 'target-url',
      description:
        'Drill on an existing server instead: Restorable creates restorable_drill_<id> there and drops it after. Point it at the maintenance database (…/postgres).',
    },
    {
      name: 'allow-target-server',
      default: 'false',
      description: 'Allow a target-url server whose name or any database looks like production (prod, live).',
    },
    {
      name: 'jobs',
      description: 'pg_restore --jobs and parallel count connections (default: the CPU count).',
    },
    {
      name: 'rto-budget',
      description: 'The whole drill must finish within this (e.g. 20m), else RTO_EXCEEDED.',
    },
    {
      name: 'history',
      description:
        'A JSON-lines file: each run is appended, and compared with the last good one of its tier.',
    },
    { name: 'junit', description: 'Write a JUnit XML report here (stages that did not run are <skipped>).' },
    {
      name: 'compare-source-url',
      description:
        'Also compare row counts and structure with this live database (read-only), as a rung of the drill.',
    },
    {
      name: 'compare-baseline',
      description: 'Or compare with a baseline file written by compare-counts write-baseline.',
    },
    {
      name: 'keep',
      default: 'false',
      description: 'Leave the restored cluster running for later steps (stopped by the post step).',
    },
    {
      name: 'os-user',
      description:
        "Run the scratch server as this OS user (default: the current user; when root, Restorable's own unprivileged user `restorable`, made when missing; never root).",
    },
  ],
  outputs: [
    { name: 'verdict', description: '`pass`, `fail` or `could-not-verify`.' },
    { name: 'backup', description: 'Name (or S3 key) of the backup restored.' },
    { name: 'local-path', description: 'Where the backup file is on this machine.' },
    { name: 'total-seconds', description: 'Wall time of the whole drill.' },
    { name: 'restore-seconds', description: 'Wall time of the restore stage.' },
    { name: 'tables', description: 'User tables in the restored database.' },
    {
      name: 'rows',
      description:
        'Rows counted exactly: in every table (tier full) or in the sampled ones (tier sample); empty with tier schema.',
    },
    {
      name: 'database-url',
      description: 'With keep: the restored database (no password; trust on loopback).',
    },
    { name: 'findings', description: 'Findings as JSON.' },
    { name: 'report', description: 'Path of the JSON report.' },
    { name: 'junit', description: 'Path of the JUnit XML, when asked for.' },
  ],
};
