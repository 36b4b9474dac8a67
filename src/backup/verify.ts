import type { EarlyFacts } from '../archive/inspect.js';
import type { Logger } from '../core/log.js';
import type { RunFolder } from '../core/workdir.js';
import type { Pipeline } from '../report/stages.js';
import { LocalSource } from '../sources/local.js';
import { parseS3Url, S3Source } from '../sources/s3.js';
import type { BackupSource } from '../sources/types.js';
import type { VerifyState } from './context.js';
import type { VerifyOptions } from './options.js';
import { ageStage } from './stages/age.js';
import { archiveStage } from './stages/archive.js';
import { checksumStage } from './stages/checksum.js';
import { locateStage } from './stages/locate.js';
import { readStage } from './stages/read.js';
import { retentionStage } from './stages/retention.js';
import { schemaStage } from './stages/schema.js';

/** The backup's store: a local file or folder, or an S3 prefix. */
export function openSource(opts: VerifyOptions, log: Logger): BackupSource {
  if (opts.source.startsWith('s3://')) return new S3Source(parseS3Url('source', opts.source), opts.s3, log);
  return new LocalSource('source', opts.source);
}

/**
 * The verify stages, run into `pipe`, as their list: each skips what follows it when there is
 * nothing to go on. A download goes to `work`, the run's own folder (its caller closes it when the
 * run ends). `schemaSkip`: a reason to skip the schema replay (a drill restores the whole dump instead);
 * `onHeader`: told the dump's header as soon as the read has it, long before the read ends.
 */
export async function verifyStages(
  pipe: Pipeline,
  opts: VerifyOptions,
  log: Logger,
  work: RunFolder,
  schemaSkip?: string,
  onHeader?: (f: EarlyFacts) => void,
): Promise<VerifyState> {
  const now = opts.now ?? new Date();
  const source = openSource(opts, log);
  const state: VerifyState = { source: source.description, candidates: 0 };
  const located = await locateStage({
    opts,
    log,
    pipe,
    work,
    source,
    state,
    now,
    ...(onHeader ? { onHeader } : {}),
  });
  if (!located) return state;
  await ageStage(located);
  await retentionStage(located);
  const read = await readStage(located);
  if (!read) return state;
  await checksumStage(read);
  await archiveStage(read);
  await schemaStage(read, schemaSkip);
  return state;
}
