import { verifyInputs } from '../backup/inputs.js';
import { parseSeconds } from '../core/duration.js';
import { custom, flag, pick, text } from '../core/inputs.js';
import type { ActionSpec } from '../core/spec.js';

const seconds = (t: string) => parseSeconds('', t);

export const migrateInputs = {
  'database-url': text(
    "The restored database to migrate (restore-drill's database-url with keep: true). Never production.",
    { required: true },
  ),
  'migrate-command': text(
    'The migration, run with sh -c and DATABASE_URL and PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE set to that database (e.g. `npx prisma migrate deploy`).',
    { required: true },
  ),
  'working-directory': text('Run the command here (default: the current directory).'),
  'max-lock-seconds': custom(
    'An ACCESS EXCLUSIVE lock held longer than this on one table is LOCK_HELD_TOO_LONG (5, 5s, 1m; `off` for none).',
    seconds,
    '5s',
  ),
  'max-migration-seconds': custom(
    'A migration that takes longer than this is MIGRATION_SLOW (90, 90s, 10m; `off` for none).',
    seconds,
    '10m',
  ),
  timeout: custom(
    'Stop the command after this long (SIGTERM, then SIGKILL): MIGRATION_FAILED.',
    seconds,
    '1h',
  ),
  'allow-any-database': flag(
    'Allow a database-url that is neither a Restorable scratch cluster on this machine nor a database a drill created.',
    false,
  ),
  config: text('restorable.yml: its semantics smoke queries run after the migration.'),
  ...pick(verifyInputs, ['fail-on', 'report']),
};

export const migrateSpec: ActionSpec<typeof migrateInputs> = {
  name: 'migrate-check',
  command: 'migrate',
  title: 'Restorable: migrate check',
  description:
    "Run a pull request's migration against a restored copy of production: exit status and time, schema difference, tables rewritten, the longest ACCESS EXCLUSIVE lock per table, smoke queries after.",
  inputs: migrateInputs,
  outputs: [
    { name: 'verdict', description: '`pass`, `fail` or `could-not-verify`.' },
    {
      name: 'migrate-exit-code',
      description: 'Exit status of the migrate command (empty if it did not run).',
    },
    { name: 'migrate-seconds', description: 'Wall time of the migrate command.' },
    {
      name: 'tables-rewritten',
      description: 'Tables whose relfilenode changed, as JSON: [{"table": "public.t", "bytes": 8192}].',
    },
    {
      name: 'locks',
      description:
        'Per table, the longest ACCESS EXCLUSIVE lock seen held, in seconds, as JSON: {"public.t": 1.52}.',
    },
    {
      name: 'schema-diff',
      description: 'Structure before and after, one line per object: `+ added`, `- removed`.',
    },
    {
      name: 'comment',
      description:
        'The result as markdown for one PR comment; its first line is <!-- restorable:migrate-check -->.',
    },
    { name: 'comment-file', description: 'Path of a file holding the same comment.' },
    { name: 'findings', description: 'Findings as JSON.' },
    { name: 'report', description: 'Path of the JSON report.' },
  ],
};
