import { type ActionSpec, inputsOf } from '../core/spec.js';
import { verifySpec } from '../verify/spec.js';

export const migrateSpec: ActionSpec = {
  name: 'migrate-check',
  command: 'migrate',
  title: 'Restorable: migrate check',
  description:
    "Run a pull request's migration against a restored copy of production: exit status and time, schema difference, tables rewritten, the longest ACCESS EXCLUSIVE lock per table, smoke queries after.",
  inputs: [
    {
      name: 'database-url',
      required: true,
      description:
        "The restored database to migrate (restore-drill's database-url with keep: true). Never production.",
    },
    {
      name: 'migrate-command',
      required: true,
      description:
        'The migration, run with sh -c and DATABASE_URL and PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE set to that database (e.g. `npx prisma migrate deploy`).',
    },
    { name: 'working-directory', description: 'Run the command here (default: the current directory).' },
    {
      name: 'max-lock-seconds',
      default: '5s',
      description:
        'An ACCESS EXCLUSIVE lock held longer than this on one table is LOCK_HELD_TOO_LONG (5, 5s, 1m; `off` for none).',
    },
    {
      name: 'max-migration-seconds',
      default: '10m',
      description:
        'A migration that takes longer than this is MIGRATION_SLOW (90, 90s, 10m; `off` for none).',
    },
    {
      name: 'timeout',
      default: '1h',
      description: 'Stop the command after this long (SIGTERM, then SIGKILL): MIGRATION_FAILED.',
    },
    {
      name: 'allow-any-database',
      default: 'false',
      description:
        'Allow a database-url that is neither a Restorable scratch cluster on this machine nor a database a drill created.',
    },
    {
      name: 'config',
      description: 'restorable.yml: its semantics smoke queries run after the migration.',
    },
    ...inputsOf(verifySpec, ['fail-on', 'report']),
  ],
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
