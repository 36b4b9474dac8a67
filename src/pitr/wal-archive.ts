import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type BackupHistory,
  DEFAULT_SEGMENT_SIZE,
  parseBackupHistory,
  parseSegmentName,
  parseTimelineHistory,
  segmentName,
  segmentOf,
  type TimelineSwitch,
  timelineFor,
} from '../archive/wal.js';
import { errorMessage, ToolMissingError, UserError } from '../core/errors.js';
import type { BackupObject, BackupSource } from '../sources/types.js';
import {
  decompressBytes,
  decompressFile,
  headOf,
  SUFFIXES,
  sniff,
  type WalCompression,
} from './wal-codec.js';

/** One file of the WAL archive: a segment, a timeline history or a backup history file. */
export interface WalFile {
  /** The name PostgreSQL asks for (`000000010000000000000003`, `00000002.history`). */
  name: string;
  /**
   * The object under the archive: the same name (Barman's `wals/<tli+log>/`, compressed or not), or
   * with a compression suffix (`.gz`, `.bz2`, `.lz4`, `.zst`, `.xz`), or pgBackRest's
   * `<name>-<sha1>.<suffix>`.
   */
  object: string;
  /** The compression its name says; undefined for a bare name, whose first bytes tell. */
  compression?: WalCompression;
  /** pgBackRest's `-<sha1>`: the SHA-1 of the file's decompressed bytes, checked on every fetch. */
  sha1?: string;
  size: number;
  modified: Date;
}

const WAL_NAME =
  /^([0-9A-F]{24}|[0-9A-F]{8}\.history|[0-9A-F]{24}\.[0-9A-F]{8}\.backup)(-[0-9a-f]{40})?(\.gz|\.bz2|\.lz4|\.zst|\.xz)?$/;

/** A WAL file in the archive that cannot be read back whole: its bytes are damaged. */
export class WalCorruptError extends Error {
  constructor(
    readonly walName: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the archive holds for a recovery from `startLsn` to a target. */
export interface Coverage {
  first: string;
  /** The last segment the recovery needs (as far as the archive tells before replaying). */
  last: string;
  segments: number;
  /** The archive's WAL segment size (bytes). */
  segSize: number;
  /** The first segment that should be there and is not. */
  missing?: string;
  /** The archive ends before the target: every segment was written before the target time. */
  endsBeforeTarget?: boolean;
  /** The timeline followed. */
  timeline?: number;
  /**
   * Does the WAL reach the target? `yes` for an LSN (by names), `cannot tell` for a time or a
   * name (a segment's name does not say what time it holds), `no` for a gap or an early end.
   */
  reachesTarget?: 'yes' | 'no' | 'cannot tell';
  /** target-timeline names a timeline the archive has no .history for (or not from the backup's). */
  unknownTimeline?: number;
}

/** `recovery_target_timeline`: the newest, the base backup's own, or one by number. */
export type TargetTimeline = 'latest' | 'current' | number;

/** `latest`, `current`, or a timeline number (decimal, as pg_controldata prints it). */
export function parseTimeline(input: string, value: string | undefined): TargetTimeline {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'latest') return 'latest';
  if (v === 'current') return 'current';
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff)
    throw new UserError(
      input,
      `"${value}" is not a timeline`,
      'Give latest, current or a timeline number such as 2',
    );
  return n;
}

export type CoverageEnd =
  | { kind: 'lsn'; lsn: bigint }
  | { kind: 'time'; time: Date }
  | { kind: 'name' }
  /** Like a name: which segment holds the transaction's commit cannot be told by names. */
  | { kind: 'xid' }
  | { kind: 'immediate'; lsn: bigint };

/** The WAL archive an `archive_command` that copies (or gzips) files leaves behind. Read-only. */
export class WalArchive {
  readonly files = new Map<string, WalFile>();
  readonly segSize: number;

  constructor(
    readonly source: BackupSource,
    objects: BackupObject[],
  ) {
    for (const o of objects) {
      const base = o.name.split('/').pop() ?? o.name;
      const m = WAL_NAME.exec(base);
      if (!m || o.kind !== 'file') continue;
      const name = m[1] as string;
      const bare = m[2] === undefined && m[3] === undefined;
      // Both a bare and a suffixed object of one name: the bare one is likelier plain, cheaper to serve.
      if (this.files.has(name) && !bare) continue;
      const compression = m[3] ? SUFFIXES[m[3]] : m[2] ? 'none' : undefined;
      const sha1 = m[2]?.slice(1);
      this.files.set(name, {
        name,
        object: o.name,
        compression,
        ...(sha1 ? { sha1 } : {}),
        size: o.size,
        modified: o.modified,
      });
    }
    // The segment size is the size of any plain segment (a compressed one is no power of two);
    // 16 MiB (the default) when all are compressed.
    const plain = [...this.files.values()].find(
      (f) => (f.compression ?? 'none') === 'none' && f.name.length === 24 && isPowerOfTwo(f.size),
    );
    this.segSize = plain && isPowerOfTwo(plain.size) ? plain.size : DEFAULT_SEGMENT_SIZE;
  }

  static async open(source: BackupSource): Promise<WalArchive> {
    return new WalArchive(source, await source.list());
  }

  get segmentCount(): number {
    return [...this.files.keys()].filter((n) => n.length === 24).length;
  }

  /** The backup history files (`pg_backup_stop` writes one per base backup), parsed. */
  async backupHistories(): Promise<BackupHistory[]> {
    const out: BackupHistory[] = [];
    for (const f of this.files.values()) {
      if (!f.name.endsWith('.backup')) continue;
      const text = await this.readSmall(f);
      const h = text ? parseBackupHistory(text) : undefined;
      if (h) out.push(h);
    }
    return out;
  }

  /** A history file's text (decompressed); undefined when it is too large or does not decompress. */
  private async readSmall(f: WalFile): Promise<string | undefined> {
    if (f.size > 1024 * 1024) return undefined;
    if ((f.compression ?? 'none') === 'none') {
      // One plain GET; a bare name whose text is not text was compressed in place (Barman).
      const text = await this.source.readText(f.object, 1024 * 1024);
      if (f.compression === 'none' || text === undefined || !/[^\t\n\r\x20-\x7e]/.test(text)) return text;
    }
    const chunks: Buffer[] = [];
    for await (const c of this.source.read(f.object, f.size)) chunks.push(c);
    const bytes = Buffer.concat(chunks);
    try {
      return (await decompressBytes(f.compression ?? sniff(bytes), bytes)).toString('utf8');
    } catch {
      return undefined;
    }
  }

  /**
   * The timeline recovery follows and the switches that led to it: the newest that descends from
   * the backup's (`latest`), the backup's own (`current`), or the one asked for by number. Undefined
   * when a numbered timeline has no .history in the archive or does not descend from the backup's.
   */
  async timelineHistory(
    fromTli: number,
    wanted: TargetTimeline = 'latest',
  ): Promise<{ last: number; switches: TimelineSwitch[] } | undefined> {
    if (wanted === 'current' || wanted === fromTli) return { last: fromTli, switches: [] };
    const tlis =
      wanted === 'latest'
        ? [...this.files.keys()]
            .filter((n) => n.endsWith('.history'))
            .map((n) => Number.parseInt(n.slice(0, 8), 16))
            .filter((t) => t > fromTli)
            .sort((a, b) => b - a)
        : [wanted];
    for (const tli of tlis) {
      const f = this.files.get(`${tli.toString(16).toUpperCase().padStart(8, '0')}.history`);
      if (!f) continue;
      const text = await this.readSmall(f);
      const switches = text ? parseTimelineHistory(text) : [];
      // Only a timeline that descends from the backup's.
      if (switches.some((s) => s.tli === fromTli)) return { last: tli, switches };
    }
    return wanted === 'latest' ? { last: fromTli, switches: [] } : undefined;
  }

  /**
   * Is every segment there that recovery from the backup's start needs, on the chosen timeline? By
   * segment names only (file times lie after a copy or an upload): to the target LSN for an LSN
   * target; for a time or a name, the whole chain from the backup's start to the last segment
   * present (where the target falls in it cannot be told before replay). Found before anything is
   * restored.
   */
  async coverage(
    startLsn: bigint,
    startTli: number,
    end: CoverageEnd,
    /** The backup's end: WAL up to it is needed whatever the target (unless the backup holds it). */
    backupEndLsn?: bigint,
    timeline: TargetTimeline = 'latest',
  ): Promise<Coverage> {
    const chain = await this.timelineHistory(startTli, timeline);
    const first = segmentOf(startLsn, this.segSize);
    if (!chain) {
      const none = segmentName(startTli, first, this.segSize);
      return {
        first: none,
        last: none,
        segments: 0,
        segSize: this.segSize,
        unknownTimeline: timeline as number,
      };
    }
    const tliOf = (segno: bigint) => timelineFor(segno, chain.switches, chain.last, this.segSize);
    const name = (segno: bigint) => segmentName(tliOf(segno), segno, this.segSize);
    const onPath = [...this.files.values()]
      .map((f) => ({ f, s: f.name.length === 24 ? parseSegmentName(f.name, this.segSize) : undefined }))
      .filter((x) => x.s !== undefined && x.s.tli === tliOf(x.s.segno) && x.s.segno >= first);
    const lastOnPath = onPath.reduce(
      (a, x) => ((x.s?.segno ?? -1n) > a ? (x.s?.segno ?? -1n) : a),
      first - 1n,
    );
    const lsnEnd = end.kind === 'lsn' || end.kind === 'immediate';
    const ends = [lsnEnd ? end.lsn : undefined, backupEndLsn].filter((l): l is bigint => l !== undefined);
    const needUntil = ends.length
      ? segmentOf(
          ends.reduce((a, b) => (b > a ? b : a)),
          this.segSize,
        )
      : first;
    // The chain to check: to the target's segment, or (time, name) to the last segment present.
    const until = lsnEnd ? needUntil : lastOnPath > needUntil ? lastOnPath : needUntil;
    let segno = first;
    while (segno <= until && this.files.has(name(segno))) segno++;
    const lastPresent = segno - 1n;
    const result: Coverage = {
      first: name(first),
      last: name(lastPresent >= first ? lastPresent : first),
      segments: Number(lastPresent - first) + 1,
      segSize: this.segSize,
      timeline: chain.last,
      reachesTarget: lsnEnd ? 'yes' : 'cannot tell',
    };
    if (segno <= until) return { ...result, missing: name(segno), reachesTarget: 'no' };
    if (end.kind !== 'time') return result;
    // Sound in one direction only: segments all written before the target hold no commit after it.
    const newest = onPath.reduce((a, x) => Math.max(a, x.f.modified.getTime()), 0);
    return newest < end.time.getTime() ? { ...result, endsBeforeTarget: true, reachesTarget: 'no' } : result;
  }

  /**
   * Download one file (decompressed) to `dest`, atomically: it appears whole, and already owned by
   * `owner` (the server's OS user, who must be able to open it the moment it is there), or not at
   * all. A file that does not decompress, or not to a whole segment, or (pgBackRest's names) not to
   * the bytes its SHA-1 names, throws WalCorruptError.
   */
  async fetchTo(f: WalFile, dest: string, owner?: { uid: number; gid: number }): Promise<number> {
    const tmp = path.join(path.dirname(dest), `.tmp-${path.basename(dest)}-${process.pid}`);
    const local = this.source.localPath(f.object);
    const raw = local ?? `${tmp}.raw`;
    try {
      if (!local) await this.download(f, raw);
      const kind = f.compression ?? sniff(headOf(raw));
      if (kind === 'none' && local) await fs.promises.copyFile(local, tmp);
      else if (kind === 'none') fs.renameSync(raw, tmp);
      else await this.decompress(f, kind, raw, tmp);
      const size = fs.statSync(tmp).size;
      if (f.name.length === 24 && !isPowerOfTwo(size))
        throw new WalCorruptError(
          f.name,
          `${f.object} holds ${size} bytes${kind === 'none' ? '' : ` once ${kind}-decompressed`}, not a whole WAL segment`,
        );
      if (f.sha1) await checkSha1(f, tmp);
      if (owner) fs.chownSync(tmp, owner.uid, owner.gid);
      fs.renameSync(tmp, dest);
      return size;
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    } finally {
      if (!local) fs.rmSync(raw, { force: true });
    }
  }

  private async download(f: WalFile, to: string): Promise<void> {
    if (this.source.downloadTo) await this.source.downloadTo(f.object, to, f.size);
    else await pipeline(Readable.from(this.source.read(f.object, f.size)), fs.createWriteStream(to));
  }

  private async decompress(f: WalFile, kind: Exclude<WalCompression, 'none'>, raw: string, tmp: string) {
    try {
      await decompressFile(kind, raw, tmp);
    } catch (e) {
      if (e instanceof ToolMissingError) throw e;
      throw new WalCorruptError(f.name, `${f.object} does not ${kind}-decompress: ${errorMessage(e)}`);
    }
  }
}

/** pgBackRest names each archived file by the SHA-1 of its decompressed bytes: they must match. */
async function checkSha1(f: WalFile, file: string): Promise<void> {
  const h = crypto.createHash('sha1');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  const got = h.digest('hex');
  if (got !== f.sha1)
    throw new WalCorruptError(
      f.name,
      `${f.object} decompresses to bytes whose SHA-1 is ${got}, not the ${f.sha1} its name says`,
    );
}

function isPowerOfTwo(n: number): boolean {
  return n >= 1024 * 1024 && (n & (n - 1)) === 0;
}
