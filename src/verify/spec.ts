import { VERIFY_COMMAND, verifyInputs } from '../backup/inputs.js';
import type { ActionSpec } from '../core/spec.js';

export const verifySpec: ActionSpec<typeof verifyInputs> = {
  name: 'verify-backup',
  command: VERIFY_COMMAND,
  title: 'Restorable: verify backup',
  description:
    'Find the newest PostgreSQL backup (local path or S3/R2), check its age, size, checksum, compression and format, walk the whole archive and replay its schema in a scratch cluster.',
  inputs: verifyInputs,
  outputs: [
    { name: 'verdict', description: '`pass`, `fail` or `could-not-verify`.' },
    { name: 'backup', description: 'Name (or S3 key) of the backup verified.' },
    { name: 'local-path', description: 'Where the verified file is on this machine, for the next step.' },
    { name: 'size-bytes', description: 'Size of the backup in bytes.' },
    { name: 'age-hours', description: 'Age of the backup in hours.' },
    { name: 'sha256', description: 'SHA-256 of the backup file.' },
    { name: 'server-version', description: 'Version of the PostgreSQL server that was dumped.' },
    {
      name: 'server-major',
      description:
        "Major of the server that was dumped (15 for 15.2): the server a drill restores into, which the workflows' setup-postgres installs when the runner lacks it.",
    },
    {
      name: 'pg-dump-major',
      description:
        'Major of the pg_dump that wrote the dump: its restore needs pg_restore of this major or newer.',
    },
    { name: 'dump-format', description: '`custom`, `directory` or `plain`.' },
    { name: 'tables', description: 'Number of tables in the dump.' },
    { name: 'findings', description: 'Findings as JSON.' },
    { name: 'report', description: 'Path of the JSON report.' },
  ],
};
