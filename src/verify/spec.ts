import type { ActionSpec } from '../core/spec.js';

export const verifySpec: ActionSpec = {
  name: 'verify-backup',
  command: 'verify',
  title: 'Restorable: verify backup',
  description:
    'Find the newest PostgreSQL backup (local path or S3/R2), check its age, size, checksum, compression and format, walk the whole archive and replay its schema in a scratch cluster.',
  inputs: [
    { name: 'source', required: true, description: 'A local file, a local folder, or s3://bucket/prefix.' },
    {
      name: 'pattern',
      description:
        'Glob over names under the source, e.g. `daily/*.dump*`. Default: files that look like dumps.',
    },
    { name: 'select', default: 'latest', description: '`latest`, or the exact name of one backup.' },
    {
      name: 'max-age',
      default: '26h',
      description: 'Older than this is BACKUP_TOO_OLD (e.g. 26h, 7d, 90m).',
    },
    {
      name: 'expect',
      description: 'Backups expected per retention tier, e.g. `hourly=24,daily=7,weekly=4`.',
    },
    {
      name: 'checksum',
      default: 'auto',
      description: '`auto` (sidecar .sha256/.md5 or S3 metadata), `required`, `skip`, or a literal SHA-256.',
    },
    { name: 'schema-check', default: 'true', description: 'Load the schema into a scratch cluster.' },
    {
      name: 'fail-on',
      default: 'high',
      description: 'Lowest severity that fails: critical, high, medium, low, info.',
    },
    { name: 'report', description: 'Write the JSON report to this path.' },
    {
      name: 's3-endpoint',
      description: 'S3-compatible endpoint (R2, MinIO, ...). Credentials come from the environment.',
    },
    { name: 's3-region', description: 'S3 region (default: AWS_REGION, else us-east-1; R2 takes `auto`).' },
    {
      name: 's3-force-path-style',
      description: 'Path-style S3 URLs (`endpoint/bucket/key`); default: true when `s3-endpoint` is set.',
    },
    { name: 'pg-bin-dir', description: 'Use PostgreSQL binaries from this folder only.' },
    {
      name: 'work-dir',
      description:
        'Each run downloads into its own folder beneath this one, run-XXXXXX (default: $RUNNER_TEMP/restorable, else .restorable/ here).',
    },
  ],
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
