import { parseChecksumInput } from '../archive/checksum.js';
import { custom, duration, flag, optionalFlag, severity, text } from '../core/inputs.js';
import type { ActionSpec } from '../core/spec.js';
import { parseExpect } from '../sources/select.js';

export const verifyInputs = {
  source: text('A local file, a local folder, or s3://bucket/prefix.', { required: true }),
  pattern: text(
    'Glob over names under the source, e.g. `daily/*.dump*`. Default: files that look like dumps.',
  ),
  select: text('`latest`, or the exact name of one backup.', { default: 'latest' }),
  'max-age': duration('Older than this is BACKUP_TOO_OLD (e.g. 26h, 7d, 90m).', '26h'),
  expect: custom('Backups expected per retention tier, e.g. `hourly=24,daily=7,weekly=4`.', (t) =>
    parseExpect('', t),
  ),
  checksum: custom(
    '`auto` (sidecar .sha256/.md5 or S3 metadata), `required`, `skip`, or a literal SHA-256.',
    (t) => parseChecksumInput('', t),
    'auto',
  ),
  'schema-check': flag('Load the schema into a scratch cluster.', true),
  'fail-on': severity('Lowest severity that fails: critical, high, medium, low, info.'),
  report: text('Write the JSON report to this path.'),
  's3-endpoint': text('S3-compatible endpoint (R2, MinIO, ...). Credentials come from the environment.'),
  's3-region': text('S3 region (default: AWS_REGION, else us-east-1; R2 takes `auto`).'),
  's3-force-path-style': optionalFlag(
    'Path-style S3 URLs (`endpoint/bucket/key`); default: true when `s3-endpoint` is set.',
  ),
  'pg-bin-dir': text('Use PostgreSQL binaries from this folder only.'),
  'work-dir': text(
    'Each run downloads into its own folder beneath this one, run-XXXXXX (default: $RUNNER_TEMP/restorable, else .restorable/ here).',
  ),
};

export const verifySpec: ActionSpec<typeof verifyInputs> = {
  name: 'verify-backup',
  command: 'verify',
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
    { name: 'dump-format', description: '`custom`, `directory` or `plain`.' },
    { name: 'tables', description: 'Number of tables in the dump.' },
    { name: 'findings', description: 'Findings as JSON.' },
    { name: 'report', description: 'Path of the JSON report.' },
  ],
};
