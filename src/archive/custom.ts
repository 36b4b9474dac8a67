import fs from 'node:fs';
import { type BlockDecoder, type Compression, type Decoded, decoderFor, workerCodec } from './blocks.js';
import type { SharedFront } from './front.js';
import { fileChunks, isalAddon, LaneWorkers } from './lanes.js';
import { ArchiveProblem } from './problem.js';
import { ByteReader, UnexpectedEOF } from './reader.js';
import { scanSql } from './sqlscan.js';

/**
 * pg_dump's archive formats, as numbered in the header. A directory dump's toc.dat says 3 (tar)
 * like a tar dump's does: both carry a file name per entry.
 */
const FORMATS: Record<number, ArchiveFormat> = { 1: 'custom', 3: 'tar', 5: 'directory' };
export type ArchiveFormat = 'custom' | 'tar' | 'directory';

/** Archive versions this parser knows: 1.12 (PostgreSQL 9.x) to 1.16 (PostgreSQL 17, 18). */
const MIN_MINOR = 12;
const MAX_MINOR = 16;
const MAX_CHUNK = 1024 * 1024 * 1024;

export interface ArchiveHeader {
  archiveVersion: string;
  minor: number;
  intSize: number;
  offSize: number;
  format: ArchiveFormat;
  compression: Compression;
  /** When pg_dump started, as the header records it (the dumping machine's local time). */
  dumpedAt: string;
  database: string;
  serverVersion: string;
  pgDumpVersion: string;
}

export interface TocEntry {
  dumpId: number;
  hadDumper: boolean;
  tag: string;
  desc: string;
  namespace: string | null;
  owner: string | null;
  /**
   * The SQL of ACL entries (GRANT/REVOKE, for the roles they name), of the DATABASE entry (its
   * encoding and locale) and of EXTENSION entries (their schema); other entries' SQL is not kept.
   */
  sql?: string;
  /** Custom format: where the data block is (set, not-set when pg_dump could not seek, no-data). */
  dataState?: 'set' | 'not-set' | 'none';
  /** Custom format, when set: the data block's offset in the file. */
  dataOffset?: number;
  /** Directory format: the data file's name. */
  filename?: string | null;
  /** TABLE: a partitioned table, whose rows are its partitions' (it has no TABLE DATA of its own). */
  partitioned?: boolean;
  /** TABLE DATA: its rows are COPY text (a COPY statement loads them; with --inserts they are INSERTs). */
  copy?: boolean;
  /** A statement of its SQL (defn, drop or copy statement) that runs a program or touches server files. */
  serverAccess?: { what: string; statement: string };
}

const SECTION_NAMES = ['', 'none', 'pre-data', 'data', 'post-data'];
/** What pg_dump writes after the columns of a partitioned table: `)\nPARTITION BY RANGE (at)`. */
export const PARTITIONED = /\)\nPARTITION BY /;

async function int(r: ByteReader, intSize: number): Promise<number> {
  if (r.available() < intSize + 1) await r.need(intSize + 1);
  const sign = r.u8();
  const v = r.uint(intSize);
  return sign ? -v : v;
}

async function str(r: ByteReader, intSize: number): Promise<string | null> {
  const len = await int(r, intSize);
  if (len < 0) return null;
  if (len > 256 * 1024 * 1024)
    throw new ArchiveProblem('ARCHIVE_CORRUPT', `a string of ${len} bytes at byte ${r.offset}`);
  await r.need(len);
  return r.bytes(len).toString('utf8');
}

/** Read `PGDMP` and the header that follows. The caller has checked the magic is there. */
export async function readHeader(r: ByteReader): Promise<ArchiveHeader> {
  await r.need(11);
  r.skip(5);
  const major = r.u8();
  const minor = r.u8();
  const rev = r.u8();
  const archiveVersion = `${major}.${minor}.${rev}`;
  if (major !== 1 || minor < MIN_MINOR || minor > MAX_MINOR) {
    throw new ArchiveProblem(
      'FORMAT_UNSUPPORTED',
      `archive format version ${archiveVersion} is outside what Restorable reads (1.${MIN_MINOR} to 1.${MAX_MINOR})`,
      { archiveVersion },
    );
  }
  const intSize = r.u8();
  const offSize = r.u8();
  const formatCode = r.u8();
  const format = FORMATS[formatCode];
  if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 8 || !format) {
    throw new ArchiveProblem('ARCHIVE_CORRUPT', 'the archive header is damaged', {
      intSize,
      offSize,
      formatCode,
    });
  }
  let compression: Compression;
  if (minor >= 15) {
    await r.need(1);
    const algo = r.u8();
    const names: Compression[] = ['none', 'gzip', 'lz4', 'zstd'];
    const c = names[algo];
    if (!c)
      throw new ArchiveProblem('ARCHIVE_CORRUPT', `unknown compression algorithm ${algo} in the header`);
    compression = c;
  } else {
    compression = (await int(r, intSize)) === 0 ? 'none' : 'gzip';
  }
  const t: number[] = [];
  for (let i = 0; i < 7; i++) t.push(await int(r, intSize));
  const [sec, min, hour, mday, mon, year] = t as [number, number, number, number, number, number];
  const pad = (n: number) => String(n).padStart(2, '0');
  const dumpedAt = `${1900 + year}-${pad(mon + 1)}-${pad(mday)} ${pad(hour)}:${pad(min)}:${pad(sec)}`;
  const database = (await str(r, intSize)) ?? '';
  const serverVersion = (await str(r, intSize)) ?? '';
  const pgDumpVersion = (await str(r, intSize)) ?? '';
  return {
    archiveVersion,
    minor,
    intSize,
    offSize,
    format,
    compression,
    dumpedAt,
    database,
    serverVersion,
    pgDumpVersion,
  };
}

/** Read the table of contents that follows the header. */
export async function readToc(r: ByteReader, h: ArchiveHeader): Promise<TocEntry[]> {
  const n = await int(r, h.intSize);
  if (n < 0 || n > 10_000_000) throw new ArchiveProblem('ARCHIVE_CORRUPT', `the TOC claims ${n} entries`);
  const entries: TocEntry[] = [];
  for (let i = 0; i < n; i++) {
    const dumpId = await int(r, h.intSize);
    const hadDumper = (await int(r, h.intSize)) !== 0;
    await str(r, h.intSize); // table oid
    await str(r, h.intSize); // oid
    const tag = (await str(r, h.intSize)) ?? '';
    const desc = (await str(r, h.intSize)) ?? '';
    const section = await int(r, h.intSize);
    if (!SECTION_NAMES[section]) {
      throw new ArchiveProblem(
        'ARCHIVE_CORRUPT',
        `TOC entry ${i + 1} of ${n} is damaged (section ${section})`,
        {
          offset: r.offset,
        },
      );
    }
    const defn = await str(r, h.intSize);
    const dropStmt = await str(r, h.intSize);
    const copyStmt = await str(r, h.intSize);
    const namespace = await str(r, h.intSize);
    await str(r, h.intSize); // tablespace
    if (h.minor >= 14) await str(r, h.intSize); // table access method
    if (h.minor >= 16) await int(r, h.intSize); // relkind
    const owner = await str(r, h.intSize);
    await str(r, h.intSize); // "false" (WITH OIDS, long gone)
    for (let d = await str(r, h.intSize); d !== null; d = await str(r, h.intSize)) {
      if (!/^\d+$/.test(d))
        throw new ArchiveProblem('ARCHIVE_CORRUPT', `TOC entry ${dumpId} has a damaged dependency list`);
    }
    const entry: TocEntry = { dumpId, hadDumper, tag, desc, namespace, owner };
    const access = [defn, dropStmt, copyStmt].flatMap((sql) => (sql ? scanSql(sql) : []))[0];
    if (access) entry.serverAccess = access;
    if (copyStmt?.startsWith('COPY ')) entry.copy = true;
    if (desc === 'TABLE' && defn && PARTITIONED.test(defn)) entry.partitioned = true;
    if ((desc.endsWith('ACL') || desc === 'DATABASE' || desc === 'EXTENSION') && defn) entry.sql = defn;
    if (h.format === 'custom') {
      await r.need(1 + h.offSize);
      const flag = r.u8();
      const offset = dataOffset(r.bytes(h.offSize));
      entry.dataState = flag === 2 ? 'set' : flag === 1 ? 'not-set' : 'none';
      if (flag === 2) entry.dataOffset = safeOffset(entry, offset);
    } else {
      entry.filename = await str(r, h.intSize);
    }
    entries.push(entry);
  }
  return entries;
}

/** A TOC entry's data offset, `offSize` bytes little-endian, exactly (pg_dump writes 8). */
function dataOffset(b: Buffer): bigint {
  let v = 0n;
  for (let k = b.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k] as number);
  return v;
}

/**
 * A data offset as a number, where it is one exactly: past 2^53 bytes (8 PiB) no file is, and a
 * double would round it, so the finding would name an offset the file does not hold.
 */
function safeOffset(entry: TocEntry, offset: bigint): number {
  if (offset <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(offset);
  const name = entryName(entry);
  throw new ArchiveProblem(
    'ARCHIVE_CORRUPT',
    `the TOC places the data of ${name} at offset ${offset}, past the end of any file: pg_restore would read the wrong bytes`,
    { entry: name, tocOffset: String(offset) },
  );
}

/** A table's rows in the dump, as the walk counted them: no values, just the number. */
export interface TableRows {
  schema: string;
  table: string;
  rows: number;
}

export interface WalkResult {
  /** Data blocks found, by dump id. */
  blocks: number;
  /** Bytes of data after decompression. */
  dataBytes: number;
  /** Every TABLE DATA entry's rows (its COPY lines), in the TOC's order. */
  tableRows: TableRows[];
  /**
   * With lanes: the most tables decoding at once, how many decodes ran in worker threads, and how
   * many started from the TOC's offsets were confirmed by the walk; gzip data: what inflated it.
   */
  lanes?: {
    mostAtOnce: number;
    inWorkers: number;
    early: number;
    inflate?: 'isa-l' | 'zlib';
    /** zlib although ISA-L was wanted: why its addon is not used (missing, failed its self-test). */
    noIsal?: string;
  };
}

const BLK_DATA = 1;
const BLK_BLOBS = 3;

export function entryName(e: TocEntry): string {
  return e.namespace ? `${e.desc} ${e.namespace}.${e.tag}` : `${e.desc} ${e.tag}`;
}

/**
 * A second way into the archive's bytes, for decoding several tables' data at once: each table's
 * data is one compressed stream, so one stream decodes on one core at a time. With lanes, the walk
 * only steps over each table's blocks (checking their framing) and hands the block's byte range to a
 * lane, which reads it again from `file` (the page cache) and decodes it, `count` ranges at once.
 */
export interface Lanes {
  /**
   * The file the archive's bytes come from, complete before the walk's position: a local file, or a
   * download's file as it grows (a range is handed on only once the walk has read past its end).
   */
  file: string;
  count: number;
  /**
   * Every byte of `file` is there already (a local file, not a download): the lanes start at once,
   * the largest table first, from the data offsets the TOC gives (the walk then checks each range).
   * A download's ranges start once the walk has read past them.
   */
  complete?: boolean;
  /**
   * `file` is a download still being written, and this is how far it is complete: the tables that
   * decode in workers start at once from the TOC's offsets, in the file's order, each worker
   * following the download as it reads (the last range ends at the front's size). Without it, a
   * download's ranges start only once the walk has read past them.
   */
  front?: SharedFront;
  /**
   * Ranges at least this long decode in a worker thread (default 1 MiB), a download's as a local
   * file's: with ISA-L a worker holds its two 1 MiB buffers and a small heap, which the download's
   * memory bound can spare (measured in the bench), and inflates 2.7x as fast as zlib here.
   */
  workerMin?: number;
  /** Workers inflate with ISA-L when its addon is built (the default), or with zlib (`false`). */
  isal?: boolean;
}

/**
 * Custom format: every data block's stream (tables' and large objects'), in the file's order, as
 * the TOC's data offsets place them: a block ends where the next one starts, or at `fileSize`;
 * `start` is past the block's type byte and dump id. Only a guess until a walk finds them there.
 */
export function dataRanges(
  toc: TocEntry[],
  h: ArchiveHeader,
  fileSize: number,
): { entry: TocEntry; start: number; end: number }[] {
  const blocks = toc
    .filter((e) => e.dataOffset !== undefined)
    .sort((a, b) => (a.dataOffset as number) - (b.dataOffset as number));
  return blocks.map((entry, i) => ({
    entry,
    start: (entry.dataOffset as number) + 2 + h.intSize,
    end: blocks[i + 1]?.dataOffset ?? fileSize,
  }));
}

/** A decode's outcome, kept until the walk confirms (or not) the range it was started on. */
type Outcome = Decoded | { error: unknown };

/** Up to `count` decodes at once; the earliest failure in the archive's order wins. */
class LanePool {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly jobs: Promise<void>[] = [];
  private dataBytes = 0;
  /** Rows decoded, by dump id. */
  readonly rows = new Map<number, number>();
  private failure: { at: number; error: unknown } | undefined;
  private aborted = false;
  private readonly codec: 'gzip' | 'zstd' | undefined;
  private workers: LaneWorkers | undefined;
  /** Decodes started from the TOC's offsets, by dump id, until the walk reaches their blocks. */
  private readonly early = new Map<number, { start: number; end: number; outcome: Promise<Outcome> }>();
  private readonly isal: string | undefined;
  readonly seen: NonNullable<WalkResult['lanes']>;

  constructor(
    private readonly lanes: Lanes,
    private readonly h: ArchiveHeader,
  ) {
    this.codec = workerCodec(h.compression);
    const addon = this.codec === 'gzip' && lanes.isal !== false ? isalAddon() : undefined;
    this.isal = addon && 'path' in addon ? addon.path : undefined;
    this.seen = { mostAtOnce: 0, inWorkers: 0, early: 0 };
    if (this.codec === 'gzip') this.seen.inflate = this.isal ? 'isa-l' : 'zlib';
    if (addon && 'unavailable' in addon) this.seen.noIsal = addon.unavailable;
  }

  /**
   * Start every table's decode from the TOC's data offsets, the largest first: the largest table's
   * one stream is the longest decode, so it must not wait for the walk to read up to it. The ranges
   * are only a guess until the walk finds each block where the TOC says (`add`).
   */
  startFromToc(toc: TocEntry[], fileSize: number): void {
    const ranges = dataRanges(toc, this.h, fileSize).filter((r) => r.entry.desc === 'TABLE DATA');
    ranges.sort((a, b) => b.end - b.start - (a.end - a.start));
    for (const { entry, start, end } of ranges) {
      if (end <= start) continue;
      this.startEarly(entry, start, end);
    }
  }

  /**
   * A download's tables, from the TOC's offsets in the file's order (its bytes arrive in that
   * order): those long enough for a worker, which follows the download; the rest wait for the walk.
   */
  followFromToc(toc: TocEntry[], front: SharedFront): void {
    const { workerMin = 1024 * 1024 } = this.lanes;
    const size = front.size;
    if (!this.codec || size === undefined) return;
    for (const { entry, start, end } of dataRanges(toc, this.h, size)) {
      if (entry.desc === 'TABLE DATA' && end - start >= workerMin) this.startEarly(entry, start, end);
    }
  }

  private startEarly(entry: TocEntry, start: number, end: number): void {
    const outcome = this.decode(start, end, entryName(entry)).then(
      (d): Outcome => d,
      (error: unknown) => ({ error }),
    );
    this.early.set(entry.dumpId, { start, end, outcome });
  }

  /** The walk stepped over a table's blocks, from `start` to `end`: decode them, or confirm a guess. */
  add(id: number, start: number, end: number, what: string): void {
    const guess = this.early.get(id);
    this.early.delete(id);
    if (guess && guess.start === start && guess.end === end) {
      this.seen.early++;
      this.jobs.push(guess.outcome.then((o) => this.record(id, start, o)));
      return;
    }
    this.jobs.push(
      this.decode(start, end, what).then(
        (d) => this.record(id, start, d),
        (error: unknown) => this.record(id, start, { error }),
      ),
    );
  }

  private record(id: number, start: number, o: Outcome): void {
    if ('bytes' in o) {
      this.dataBytes += o.bytes;
      this.rows.set(id, o.rows);
    } else if (!this.failure || start < this.failure.at) this.failure = { at: start, error: o.error };
  }

  private async decode(start: number, end: number, what: string): Promise<Decoded> {
    while (this.active >= this.lanes.count) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    this.seen.mostAtOnce = Math.max(this.seen.mostAtOnce, this.active);
    try {
      // A later failure does not stop an earlier range: the earliest in the archive is reported.
      if (this.aborted || (this.failure && this.failure.at < start)) return { bytes: 0, rows: 0 };
      return await this.decodeRange(start, end, what);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  private async decodeRange(start: number, end: number, what: string): Promise<Decoded> {
    const { file, workerMin = 1024 * 1024 } = this.lanes;
    if (!this.codec || end - start < workerMin) {
      return decodeStream(fileChunks(file, start, end), this.h, what);
    }
    this.seen.inWorkers++;
    this.workers ??= new LaneWorkers();
    const front = this.lanes.front ? { front: this.lanes.front.buffer } : {};
    const job = { file, start, end, intSize: this.h.intSize, codec: this.codec, what, ...front };
    return this.workers.decode(this.isal ? { ...job, isal: this.isal } : job);
  }

  /**
   * Wait for the decodes of the ranges the walk stepped over; the data bytes, or the first failure
   * in the archive's order. Guesses the walk never confirmed (it stopped early, or the TOC was
   * wrong) are moot: those not started never start, and workers still decoding are stopped.
   */
  async settle(): Promise<number> {
    try {
      await Promise.all(this.jobs);
    } finally {
      this.aborted = true;
      await this.workers?.close();
    }
    if (this.failure) throw this.failure.error;
    return this.dataBytes;
  }
}

/**
 * Walk every data block of a custom archive to the end of the file, decompressing each one.
 * Without lanes, several blocks decompress at once on the thread pool while the caller keeps reading
 * and hashing, but one table's data (one stream) at a time; with lanes, tables decode side by side.
 */
export async function walkCustomData(
  r: ByteReader,
  h: ArchiveHeader,
  toc: TocEntry[],
  lanes?: Lanes,
): Promise<WalkResult> {
  const byId = new Map(toc.map((e) => [e.dumpId, e]));
  const seen = new Set<number>();
  const inFlight = new InFlight();
  const pool = lanes && h.compression !== 'none' ? new LanePool(lanes, h) : undefined;
  if (pool && lanes?.complete) pool.startFromToc(toc, fs.statSync(lanes.file).size);
  else if (pool && lanes?.front) pool.followFromToc(toc, lanes.front);
  let dataBytes = 0;
  let current = 'the first data block';
  try {
    while (!(await r.atEnd())) {
      const blockAt = r.offset;
      if (r.available() < 1) await r.need(1);
      const type = r.u8();
      const id = await int(r, h.intSize);
      const entry = byId.get(id);
      if ((type !== BLK_DATA && type !== BLK_BLOBS) || !entry) {
        throw new ArchiveProblem(
          'ARCHIVE_CORRUPT',
          `unexpected bytes at offset ${blockAt} after ${current}: not a data block of this archive`,
          { offset: blockAt, blockType: type, dumpId: id },
        );
      }
      current = entryName(entry);
      checkPlacement(entry, blockAt, seen);
      seen.add(id);
      if (type === BLK_DATA && pool) {
        const start = r.offset;
        await stepOver(r, h, current);
        pool.add(id, start, r.offset, current);
      } else if (type === BLK_DATA) {
        const dec = decoderFor(h.compression, current, entry.desc === 'TABLE DATA');
        inFlight.add(id, (await readStream(r, h, dec, current)).done);
      } else {
        for (let oid = await int(r, h.intSize); oid !== 0; oid = await int(r, h.intSize)) {
          const dec = decoderFor(h.compression, `large object ${oid}`);
          inFlight.add(id, (await readStream(r, h, dec, current)).done);
          await inFlight.settle(2);
        }
      }
      await inFlight.settle(2);
    }
    await inFlight.settle(0);
    if (pool) dataBytes += await pool.settle();
  } catch (e) {
    await inFlight.abandon();
    // A table decoded in a lane lies before where the walk stopped: its failure comes first.
    if (pool) await pool.settle();
    if (e instanceof UnexpectedEOF) {
      throw new ArchiveProblem(
        'ARCHIVE_TRUNCATED',
        `the archive ends at byte ${e.offset}, inside the data of ${current}`,
        { offset: e.offset, entry: current },
      );
    }
    throw e;
  }
  checkAbsent(toc, seen, r.offset);
  const rows = new Map([...inFlight.rows, ...(pool?.rows ?? [])]);
  dataBytes += inFlight.bytes;
  return {
    blocks: seen.size,
    dataBytes,
    tableRows: rowsOf(toc, rows),
    ...(pool ? { lanes: pool.seen } : {}),
  };
}

/**
 * The rows of each TABLE DATA entry, from the lines counted by dump id; only where they are COPY
 * text (INSERT statements, pg_dump --inserts, may span lines: their rows are not counted).
 */
function rowsOf(toc: TocEntry[], rows: Map<number, number>): TableRows[] {
  return toc
    .filter((e) => e.desc === 'TABLE DATA' && e.copy && rows.has(e.dumpId))
    .map((e) => ({ schema: e.namespace ?? '', table: e.tag, rows: rows.get(e.dumpId) ?? 0 }));
}

/** Decodes running in this thread, settled in the archive's order: their bytes, and rows by dump id. */
class InFlight {
  private readonly queue: Promise<{ id: number; d: Decoded }>[] = [];
  bytes = 0;
  readonly rows = new Map<number, number>();

  add(id: number, done: Promise<Decoded>): void {
    const counted = done.then((d) => ({ id, d }));
    counted.catch(() => {}); // awaited in order by settle; a failure is not unhandled meanwhile
    this.queue.push(counted);
  }

  /** Wait until at most `limit` are still decoding; the first failure is thrown. */
  async settle(limit: number): Promise<void> {
    while (this.queue.length > limit) {
      const { id, d } = await (this.queue.shift() as Promise<{ id: number; d: Decoded }>);
      this.bytes += d.bytes;
      this.rows.set(id, (this.rows.get(id) ?? 0) + d.rows);
    }
  }

  async abandon(): Promise<void> {
    await Promise.allSettled(this.queue);
  }
}

/**
 * A data block where the walk finds it must be where the TOC says, since pg_restore seeks to the
 * TOC's offset (and skips an entry marked as having no data): the walk alone would pass a dump
 * that pg_restore fails on, or restores with a table left empty.
 */
function checkPlacement(entry: TocEntry, blockAt: number, seen: Set<number>): void {
  const name = entryName(entry);
  if (seen.has(entry.dumpId)) {
    throw new ArchiveProblem('ARCHIVE_CORRUPT', `a second data block of ${name} at offset ${blockAt}`, {
      entry: name,
      blockOffset: blockAt,
    });
  }
  if (entry.dataState === 'none' || !entry.hadDumper) {
    throw new ArchiveProblem(
      'ARCHIVE_CORRUPT',
      `the TOC marks ${name} as having no data, but its data block is at offset ${blockAt}: pg_restore would skip it and restore the table without its rows`,
      { entry: name, dataState: entry.dataState ?? null, blockOffset: blockAt },
    );
  }
  if (entry.dataState === 'set' && entry.dataOffset !== blockAt) {
    throw new ArchiveProblem(
      'ARCHIVE_CORRUPT',
      `the TOC places the data of ${name} at offset ${entry.dataOffset}, but its block is at offset ${blockAt}: pg_restore would read the wrong bytes`,
      { entry: name, tocOffset: entry.dataOffset ?? null, blockOffset: blockAt },
    );
  }
}

/**
 * Entries with data whose block the walk did not find: past the end of the file, the archive was cut
 * short; within the bytes walked, or an entry with a dumper marked as having no data, the TOC is
 * damaged.
 */
function checkAbsent(toc: TocEntry[], seen: Set<number>, end: number): void {
  const contradicted = toc.find(
    (e) =>
      !seen.has(e.dumpId) &&
      e.hadDumper &&
      (e.dataState === 'none' || (e.dataState === 'set' && (e.dataOffset as number) < end)),
  );
  if (contradicted) {
    const name = entryName(contradicted);
    throw new ArchiveProblem(
      'ARCHIVE_CORRUPT',
      contradicted.dataState === 'none'
        ? `the TOC marks ${name} as having no data, but pg_dump dumped its data: pg_restore would restore the table without its rows`
        : `the TOC places the data of ${name} at offset ${contradicted.dataOffset}, but no data block of it is in the archive`,
      { entry: name, dataState: contradicted.dataState ?? null, tocOffset: contradicted.dataOffset ?? null },
    );
  }
  const missing = toc.filter((e) => e.hadDumper && e.dataState !== 'none' && !seen.has(e.dumpId));
  if (missing.length > 0) {
    throw new ArchiveProblem(
      'ARCHIVE_TRUNCATED',
      `the archive ends after ${seen.size} data blocks; ${missing.length} more are listed but absent, the first being ${entryName(missing[0] as TocEntry)}`,
      {
        blocksFound: seen.size,
        blocksMissing: missing.length,
        firstMissing: entryName(missing[0] as TocEntry),
      },
    );
  }
}

/**
 * The length of the stream's next chunk, its framing checked; 0 where the stream ends. The caller
 * makes its `intSize + 1` bytes available first, so the common path stays synchronous.
 */
function chunkLength(r: ByteReader, h: ArchiveHeader, what: string): number {
  const sign = r.u8();
  const len = r.uint(h.intSize);
  if (sign || len > MAX_CHUNK) {
    throw new ArchiveProblem('ARCHIVE_CORRUPT', `a damaged block length (${sign ? -len : len}) in ${what}`, {
      offset: r.offset,
    });
  }
  return len;
}

/** Step over the length-prefixed chunks of one stream, checking their framing, decoding nothing. */
async function stepOver(r: ByteReader, h: ArchiveHeader, what: string): Promise<void> {
  for (;;) {
    if (r.available() < h.intSize + 1) await r.need(h.intSize + 1);
    const len = chunkLength(r, h, what);
    if (len === 0) return;
    if (r.available() >= len) r.skip(len);
    else await r.pass(len);
  }
}

/**
 * Decode one table's data on its own: `src` holds its length-prefixed chunks, from the first to the
 * zero length that ends them (the range a lane reads). Resolves to the decompressed size and rows.
 */
export async function decodeStream(
  src: AsyncIterable<Buffer>,
  h: ArchiveHeader,
  what: string,
): Promise<Decoded> {
  const r = ByteReader.from(src);
  const { done } = await readStream(r, h, decoderFor(h.compression, what), what);
  const decoded = await done;
  await r.drain();
  return decoded;
}

/** Read the length-prefixed chunks of one stream into its decoder; returns the decoder's finish. */
async function readStream(
  r: ByteReader,
  h: ArchiveHeader,
  dec: BlockDecoder,
  what: string,
): Promise<{ done: Promise<Decoded> }> {
  for (;;) {
    if (r.available() < h.intSize + 1) await r.need(h.intSize + 1);
    const len = chunkLength(r, h, what);
    if (len === 0) break;
    if (r.available() < len) await r.need(len);
    const pending = dec.push(r.bytes(len));
    if (pending) await pending;
  }
  const done = dec.finish();
  done.catch(() => {});
  return { done };
}
