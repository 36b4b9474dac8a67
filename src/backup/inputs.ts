import { parseChecksumInput } from '../archive/checksum.js';
import { custom, duration, flag, optionalFlag, severity, text } from '../core/inputs.js';
import { parseExpect } from '../sources/select.js';

/** The command whose inputs these are, for messages about them. */
export const VERIFY_COMMAND = 'verify';

/** Where the backup is and what it must be: verify-backup's inputs, which the drill and PITR reuse. */
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
  'keep-download': optionalFlag(
    'Keep the file downloaded from S3 after the run, in its run folder under work-dir (default: true in the actions, whose next step reads local-path; false on the command line, where it is removed when the run ends). A local backup is never removed.',
  ),
};
