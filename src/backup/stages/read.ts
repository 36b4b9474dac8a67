import fs from 'node:fs';
import path from 'node:path';
import { type ExpectedChecksum, findExpectedChecksum } from '../../archive/checksum.js';
import { type EarlyFacts, type Inspection, inspectDirectory, inspectStream } from '../../archive/inspect.js';
import { fileChunks } from '../../archive/lanes.js';
import { diskFull, freeBytes, isDiskFull } from '../../core/disk.js';
import { formatBytes } from '../../core/duration.js';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { RunFolder } from '../../core/workdir.js';
import { tableName } from '../../postgres/tables.js';
import type { Finding } from '../../report/findings.js';
import { GrowingFile } from '../../sources/growing.js';
import type { Candidate } from '../../sources/select.js';
import type { BackupSource } from '../../sources/types.js';
import type { BackupFacts, LocatedBackup, ReadBackup } from '../context.js';
import { fetchFailed } from './locate.js';

/**
 * A remote backup into `file` and through the one-pass inspection at once: the download writes its
 * parallel ranged parts where they belong in the file, and the inspection reads the complete front of
 * the file back as it grows (from the page cache), hashing and walking it. Memory stays at the
 * sockets' chunks and the reader's, whatever the backup's size.
 */
async function downloadAndInspect(
  source: BackupSource,
  name: string,
  file: string,
  md5: boolean,
  seen: ReadProgress,
  size: number,
  onHeader?: (f: EarlyFacts) => void,
): Promise<Inspection> {
  if (!source.downloadTo) throw new Error(`${source.description} cannot download ${name}`);
  const growing = new GrowingFile(file, size);
  const download = source
    .downloadTo(name, file, undefined, (bytes) => {
      seen.downloaded = Math.max(seen.downloaded ?? 0, bytes);
      growing.advance(bytes);
    })
    .then(
      () => growing.finish(),
      (e: unknown) => {
        growing.fail(e);
        throw e;
      },
    );
  download.catch(() => {});
  const insp = await inspectStream(growing.chunks(), {
    md5,
    file,
    front: growing.front,
    seen,
    ...(onHeader ? { onHeader } : {}),
  });
  await download;
  return insp;
}

const WORK_DIR_FIX = 'Free space there, or point work-dir at a folder on a disk with room for the backup.';

/**
 * A remote backup into the run's own folder (`<work-dir>/run-XXXXXX/<name>.part`, renamed whole),
 * read as it arrives. A backup larger than the free space is DISK_FULL before a byte is fetched; a
 * disk that fills during the download is DISK_FULL too, and the partial file is removed either way.
 * The whole file stays after the run when `keep`; else it is the run's until the run ends.
 */
async function download(
  source: BackupSource,
  backup: Candidate,
  work: RunFolder,
  keep: boolean,
  md5: boolean,
  seen: ReadProgress,
  onHeader?: (f: EarlyFacts) => void,
): Promise<{ insp: Inspection; dest: string } | { finding: Finding }> {
  const what = `the download of ${backup.name}`;
  const full = () => diskFull('read', work.workDir, what, { needed: backup.size, fix: WORK_DIR_FIX });
  const free = freeBytes(work.workDir);
  if (free !== undefined && backup.size > free) return { finding: full() };
  const base = path.basename(backup.name);
  const part = work.partial(`${base}.part`);
  try {
    const insp = await downloadAndInspect(source, backup.name, part, md5, seen, backup.size, onHeader);
    const dest = path.join(work.path(), base);
    if (keep) work.keep(part, dest);
    else work.complete(part, dest);
    return { insp, dest };
  } catch (e) {
    work.discard(part);
    if (!isDiskFull(e)) throw e;
    return { finding: full() };
  }
}

/**
 * The read stage, one pass: download (S3), hash, undo compression, parse, walk every block, with the
 * checksum to match found first. A backup that could not be read skips checksum, archive and schema.
 */
export async function readStage(b: LocatedBackup): Promise<ReadBackup | undefined> {
  let expected: ExpectedChecksum | undefined;
  let insp: Inspection | undefined;
  const read = await b.pipe.stage('read', async () => {
    try {
      expected = await expectedChecksum(b);
      const got = await inspect(b, expected);
      if ('findings' in got) return got;
      insp = got.insp;
    } catch (e) {
      if (e instanceof UserError) throw e;
      return { findings: fetchFailed('read', e, b.source) };
    }
    return {};
  });
  if (!insp) {
    const why = read.findings.length
      ? 'the backup could not be read'
      : `reading failed: ${read.reason ?? ''}`;
    for (const s of ['checksum', 'archive', 'schema']) b.pipe.skip(s, why);
    return undefined;
  }
  b.state.inspection = insp;
  if (insp.inflatedBy) b.log.debug(`tables inflated with ${insp.inflatedBy}`);
  Object.assign(b.facts, inspectionFacts(insp));
  return Object.assign(b, { ins: insp, expected });
}

/** The checksum to match: the checksum input's, else a sidecar file's or the object's metadata. */
async function expectedChecksum(b: LocatedBackup): Promise<ExpectedChecksum | undefined> {
  const { checksum } = b.opts;
  if (checksum.mode === 'literal')
    return { algorithm: 'sha256', value: checksum.sha256, from: 'the checksum input' };
  if (checksum.mode !== 'skip' && b.backup.kind === 'file')
    return findExpectedChecksum(b.source, b.backup.name, new Set(b.all.map((o) => o.name)));
  return undefined;
}

/** How far the read is: bytes read (hashed and walked), and of a remote backup, bytes downloaded. */
interface ReadProgress {
  bytes: number;
  downloaded?: number;
}

/** The read stage's progress line: `read 1.2 GiB of 4.0 GiB (30%)`, downloaded first for S3. */
export function readProgressLine(p: ReadProgress, size: number): string {
  const of = (n: number) =>
    size > 0
      ? `${formatBytes(n)} of ${formatBytes(size)} (${Math.floor((100 * n) / size)}%)`
      : formatBytes(n);
  const read = `read ${of(p.bytes)}`;
  return p.downloaded === undefined ? read : `downloaded ${of(p.downloaded)}, ${read}`;
}

/** The inspection of a local backup where it lies, or of a remote one as it downloads. */
async function inspect(
  b: LocatedBackup,
  expected: ExpectedChecksum | undefined,
): Promise<{ insp: Inspection } | { findings: Finding[] }> {
  const { backup, facts } = b;
  const local = b.source.localPath(backup.name);
  const seen: ReadProgress = { bytes: 0, ...(local ? {} : { downloaded: 0 }) };
  b.pipe.progress(() => readProgressLine(seen, backup.size));
  if (backup.kind === 'directory' && local) {
    // A directory dump's size is the sum of its files: toc.dat and every data file, read in turn.
    const insp = await inspectDirectory(local, seen, b.onHeader);
    facts.localPath = local;
    return { insp };
  }
  if (local) {
    const insp = await inspectStream(fileChunks(local), {
      md5: expected?.algorithm === 'md5',
      file: local,
      seen,
      ...(b.onHeader ? { onHeader: b.onHeader } : {}),
    });
    facts.localPath = local;
    return { insp };
  }
  const keep = b.opts.keepDownload;
  const got = await download(b.source, backup, b.work, keep, expected?.algorithm === 'md5', seen, b.onHeader);
  if ('finding' in got) return { findings: [got.finding] };
  facts.localPath = got.dest;
  facts.download = { path: got.dest, kept: keep };
  b.log.info(
    `downloaded ${backup.name} to ${got.dest}${keep ? '' : ` (removed when the run ends; ${b.opts.keepDownloadInput} keeps it)`}`,
  );
  return { insp: got.insp };
}

/**
 * A run's download once nothing of the run reads it (verify: its stages are done; a drill: its
 * restore and ladder are): kept, it stays where local-path says; else it is removed now, and the
 * facts say so, with no local path to a file that is gone. Only Restorable's own download: a local
 * backup has no `download` and is never touched.
 */
export function releaseDownload(facts: BackupFacts | undefined, work: RunFolder, log: Logger): void {
  const d = facts?.download;
  if (!facts || !d || d.kept) return;
  work.discard(d.path);
  if (fs.existsSync(d.path)) {
    log.warn(`could not remove the download ${d.path}: it is still there`);
    d.kept = true;
    return;
  }
  delete facts.localPath;
  log.info(`removed the download ${d.path}`);
}

/** What the inspection tells of the backup, for its facts. */
function inspectionFacts(ins: Inspection): Partial<BackupFacts> {
  return {
    sizeBytes: ins.size,
    ...(ins.format !== 'directory' ? { sha256: ins.sha256 } : {}),
    format: ins.format,
    wrapper: ins.wrapper,
    ...(ins.compression ? { compression: ins.compression } : {}),
    ...(ins.header
      ? {
          archiveVersion: ins.header.archiveVersion,
          dumpedAt: ins.header.dumpedAt,
          database: ins.header.database,
        }
      : {}),
    ...(ins.serverVersion ? { serverVersion: ins.serverVersion } : {}),
    ...(ins.pgDumpVersion ? { pgDumpVersion: ins.pgDumpVersion } : {}),
    ...(ins.toc ? { tables: ins.toc.tables } : {}),
    ...(ins.toc && ins.toc.entries > 0
      ? { tocEntries: ins.toc.byType, extensions: ins.toc.extensions, owners: ins.toc.owners }
      : {}),
    dataBlocks: ins.dataBlocks,
    dataBytes: ins.dataBytes,
    ...(ins.tableRows
      ? { tableRows: Object.fromEntries(ins.tableRows.map((t) => [tableName(t.schema, t.table), t.rows])) }
      : {}),
  };
}
