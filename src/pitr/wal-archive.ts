import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
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
import type { BackupObject, BackupSource } from '../sources/types.js';

/** One file of the WAL archive: a segment, a timeline history or a backup history file. */
export interface WalFile {
  /** The name PostgreSQL asks for (`000000010000000000000003`, `00000002.history`). */
  name: string;
  /** The object under the archive (the same name, or with `.gz`). */
  object: string;
  gzip: boolean;
  size: number;
  modified: Date;
}

const WAL_NAME = /^([0-9A-F]{24}|[0-9A-F]{8}\.history|[0-9A-F]{24}\.[0-9A-F]{8}\.backup)(\.gz)?$/;

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
  /** The archive ends before the target: nothing was archived after the target time. */
  endsBeforeTarget?: boolean;
}

export type CoverageEnd =
  | { kind: 'lsn'; lsn: bigint }
  | { kind: 'time'; time: Date }
  | { kind: 'name' }
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
      const gzip = m[2] !== undefined;
      // Both plain and .gz of one name: the plain one is cheaper to serve.
      if (this.files.has(name) && gzip) continue;
      this.files.set(name, { name, object: o.name, gzip, size: o.size, modified: o.modified });
    }
    // The segment size is the size of any plain segment; 16 MiB (the default) when all are gzipped.
    const plain = [...this.files.values()].find((f) => !f.gzip && f.name.length === 24 && f.size > 0);
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
      const text = f.gzip ? await this.readGzipText(f) : await this.source.readText(f.object, 64 * 1024);
      const h = text ? parseBackupHistory(text) : undefined;
      if (h) out.push(h);
    }
    return out;
  }

  private async readGzipText(f: WalFile): Promise<string | undefined> {
    const chunks: Buffer[] = [];
    for await (const c of this.source.read(f.object, f.size)) chunks.push(c);
    try {
      return zlib.gunzipSync(Buffer.concat(chunks)).toString('utf8');
    } catch {
      return undefined;
    }
  }

  /** The newest timeline's history (the switches that led to it), for `recovery_target_timeline = latest`. */
  async timelineHistory(fromTli: number): Promise<{ last: number; switches: TimelineSwitch[] }> {
    const tlis = [...this.files.keys()]
      .filter((n) => n.endsWith('.history'))
      .map((n) => Number.parseInt(n.slice(0, 8), 16))
      .filter((t) => t > fromTli)
      .sort((a, b) => b - a);
    for (const tli of tlis) {
      const f = this.files.get(`${tli.toString(16).toUpperCase().padStart(8, '0')}.history`) as WalFile;
      const text = f.gzip ? await this.readGzipText(f) : await this.source.readText(f.object, 1024 * 1024);
      const switches = text ? parseTimelineHistory(text) : [];
      // Only a timeline that descends from the backup's.
      if (switches.some((s) => s.tli === fromTli)) return { last: tli, switches };
    }
    return { last: fromTli, switches: [] };
  }

  /**
   * Is every segment from the backup's start to the target there, on the timeline PostgreSQL will
   * follow? Found before anything is restored.
   */
  async coverage(
    startLsn: bigint,
    startTli: number,
    end: CoverageEnd,
    /** The backup's end: WAL up to it is needed whatever the target (unless the backup holds it). */
    backupEndLsn?: bigint,
  ): Promise<Coverage> {
    const { last, switches } = await this.timelineHistory(startTli);
    const tliOf = (segno: bigint) => timelineFor(segno, switches, last, this.segSize);
    const segnos = [...this.files.keys()]
      .filter((n) => n.length === 24)
      .map((n) => parseSegmentName(n, this.segSize))
      .filter((s): s is NonNullable<typeof s> => s !== undefined && s.tli === tliOf(s.segno))
      .map((s) => s.segno);
    const maxSegno = segnos.reduce((a, b) => (b > a ? b : a), -1n);
    const first = segmentOf(startLsn, this.segSize);
    const ends = [end.kind === 'lsn' || end.kind === 'immediate' ? end.lsn : undefined, backupEndLsn].filter(
      (l): l is bigint => l !== undefined,
    );
    const needLsn = ends.length ? ends.reduce((a, b) => (b > a ? b : a)) : undefined;
    const needUntil = needLsn === undefined ? undefined : segmentOf(needLsn, this.segSize);
    const minimum = backupEndLsn === undefined ? first : segmentOf(backupEndLsn, this.segSize);
    const name = (segno: bigint) => segmentName(tliOf(segno), segno, this.segSize);
    let segno = first;
    let lastPresent: bigint | undefined;
    let reached = false;
    for (;;) {
      const f = this.files.get(name(segno));
      if (!f) break;
      lastPresent = segno;
      reached =
        ((end.kind === 'lsn' || end.kind === 'immediate') && needUntil !== undefined && segno >= needUntil) ||
        (end.kind === 'time' && segno >= minimum && f.modified.getTime() >= end.time.getTime());
      if (reached) break;
      segno++;
    }
    const result: Coverage = {
      first: name(first),
      last: name(lastPresent ?? first),
      segments: lastPresent === undefined ? 0 : Number(lastPresent - first) + 1,
      segSize: this.segSize,
    };
    if (reached) return result;
    // A hole with later segments after it, or a segment the target needs: a gap.
    if (segno <= maxSegno || (needUntil !== undefined && segno <= needUntil)) {
      return { ...result, missing: name(segno) };
    }
    return end.kind === 'time' ? { ...result, endsBeforeTarget: true } : result;
  }

  /**
   * Download one file (un-gzipped) to `dest`, atomically: it appears whole, and already owned by
   * `owner` (the server's OS user, who must be able to open it the moment it is there), or not at all.
   */
  async fetchTo(f: WalFile, dest: string, owner?: { uid: number; gid: number }): Promise<number> {
    const tmp = path.join(path.dirname(dest), `.tmp-${path.basename(dest)}-${process.pid}`);
    const local = this.source.localPath(f.object);
    try {
      if (local && !f.gzip) {
        await fs.promises.copyFile(local, tmp);
      } else if (!f.gzip && this.source.downloadTo) {
        await this.source.downloadTo(f.object, tmp, f.size);
      } else {
        const input = Readable.from(local ? fs.createReadStream(local) : this.source.read(f.object, f.size));
        if (f.gzip) await pipeline(input, zlib.createGunzip(), fs.createWriteStream(tmp));
        else await pipeline(input, fs.createWriteStream(tmp));
      }
      if (owner) fs.chownSync(tmp, owner.uid, owner.gid);
      const size = fs.statSync(tmp).size;
      fs.renameSync(tmp, dest);
      return size;
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }
}

function isPowerOfTwo(n: number): boolean {
  return n >= 1024 * 1024 && (n & (n - 1)) === 0;
}
