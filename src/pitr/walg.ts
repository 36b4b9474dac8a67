import fs from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_SEGMENT_SIZE,
  formatLsn,
  parseLsn,
  parseSegmentName,
  segmentName,
  segmentOf,
} from '../archive/wal.js';
import { errorMessage, UserError } from '../core/errors.js';
import { run } from '../core/exec.js';
import type { Logger } from '../core/log.js';
import { ownedDir, ownedFile } from '../postgres/recovery.js';
import { FetchError } from '../sources/s3.js';
import type { PitrBackend, PlannedBackup, Restored } from './backends.js';
import type { PitrTarget } from './options.js';
import type { Coverage } from './wal-archive.js';

/**
 * WAL-G's settings, from the environment as its docs and seed 003 write them: its own (WALG_*),
 * the storage's (AWS_*, S3_*, GOOGLE_*, AZURE_*, SWIFT_*, SSH_*). Only wal-g is given them.
 */
export const WALG_ENV = ['WALG_', 'AWS_', 'S3_', 'GOOGLE_', 'GCS_', 'AZURE_', 'SWIFT_', 'SSH_'] as const;
/** libpq's settings: wal-verify reads the cluster's current WAL segment over them. */
const PG_ENV = ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSSLMODE', 'PGPASSFILE'];

const INSTALL = 'WAL-G is a single binary: https://github.com/wal-g/wal-g/releases (put wal-g on PATH)';

/** One entry of `wal-g backup-list --json --detail` (WAL-G's docs/README.md; the LSNs are numbers there). */
interface WalgBackup {
  backup_name: string;
  time?: string;
  wal_file_name?: string;
  start_time?: string;
  finish_time?: string;
  start_lsn?: number | string;
  finish_lsn?: number | string;
  pg_version?: number;
  uncompressed_size?: number;
  compressed_size?: number;
}

/** One range of `wal-g wal-verify integrity --json` (WAL-G's docs/PostgreSQL.md). */
interface VerifyRange {
  timeline_id: number;
  start_segment: string;
  end_segment: string;
  segments_count: number;
  status: string;
}

interface VerifyOutput {
  integrity?: { status: string; details: VerifyRange[] };
  timeline?: {
    status: string;
    details?: { current_timeline_id?: number; highest_storage_timeline_id?: number };
  };
}

/** An LSN as WAL-G prints it: a number (its JSON) or `X/Y` (its tables). */
function walgLsn(v: number | string | undefined): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string') return /^\d+$/.test(v) ? BigInt(v) : parseLsn(v);
  return undefined;
}

function date(v: string | undefined): Date | undefined {
  const d = v ? new Date(v) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

/** A shell word for restore_command: single-quoted, and `%` doubled (PostgreSQL expands %f, %p). */
export function shellWord(s: string): string {
  return `'${s.replace(/'/g, `'\\''`).replace(/%/g, '%%')}'`;
}

/** A program on PATH, as an absolute path: the recovered server's PATH may not hold it. */
export function onPath(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, name);
    if (dir && fs.existsSync(p)) return p;
  }
  return name;
}

/**
 * A line of `wal-g st ls` (internal/storagetools): `type size last modified name`, the time as Go
 * prints one (`2026-12-01 12:00:00.123456789 +0000 UTC`).
 */
const LS_LINE =
  /^obj\s+\d+\s+(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)? ([+-]\d{2})(\d{2})(?: [A-Za-z0-9+-]+)?\s+(\S+)$/;

/** The newest upload of a WAL segment in a `wal-g st ls` listing of wal_005/; other lines are not read. */
export function newestSegmentUpload(listing: string): Date | undefined {
  let newest: number | undefined;
  for (const line of listing.split('\n')) {
    const m = LS_LINE.exec(line.trim());
    if (!m || !/^[0-9A-F]{24}(\.[a-z0-9]+)?$/.test(m[6] ?? '')) continue;
    // Milliseconds, cut: an upload seen earlier than it was is never seen after the target.
    const t = Date.parse(`${m[1]}T${m[2]}${(m[3] ?? '').slice(0, 4)}${m[4]}:${m[5]}`);
    if (!Number.isNaN(t) && (newest === undefined || t > newest)) newest = t;
  }
  return newest === undefined ? undefined : new Date(newest);
}

/** The three lines of wal-g's error output a person needs. */
const tail = (r: { stderr: string; stdout: string }) =>
  (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' ');

/**
 * WAL-G, through its documented commands: `backup-list --json --detail`,
 * `wal-verify integrity timeline --json` and (a time target) `st ls wal_005` for the plan, `backup-fetch` into Restorable's folder,
 * `wal-fetch` as restore_command (exit 74: no such file). Tested against a stand-in implementing
 * that contract (test/fixtures/wal-g), not against WAL-G itself.
 */
export class WalgBackend implements PitrBackend {
  readonly description: string;
  private readonly bin = onPath('wal-g');

  constructor(
    private readonly osUser: string | undefined,
    private readonly prefetch: number,
    private readonly log: Logger,
  ) {
    const where = [
      'WALG_S3_PREFIX',
      'WALG_FILE_PREFIX',
      'WALG_GS_PREFIX',
      'WALG_AZ_PREFIX',
      'WALG_SSH_PREFIX',
    ]
      .map((k) => process.env[k])
      .find(Boolean);
    this.description = `WAL-G${where ? ` ${where}` : ''}`;
  }

  private async walg(args: string[], pg = false) {
    return run(this.bin, args, {
      user: this.osUser,
      inherit: [...WALG_ENV, ...(pg ? PG_ENV : [])],
      install: INSTALL,
    });
  }

  async list(): Promise<PlannedBackup[]> {
    const r = await this.walg(['backup-list', '--json', '--detail']);
    if (r.code !== 0)
      throw new UserError(
        'WALG_* environment',
        `wal-g backup-list failed: ${tail(r)}`,
        "Set WAL-G's storage settings in the environment (WALG_S3_PREFIX with AWS_ENDPOINT and the keys, or WALG_FILE_PREFIX)",
      );
    let parsed: unknown;
    try {
      parsed = r.stdout.trim() ? JSON.parse(r.stdout) : [];
    } catch (e) {
      throw new Error(`wal-g backup-list --json printed no JSON: ${errorMessage(e)}`);
    }
    // A name goes into wal-g's argv: one that could read as a flag is not a backup's.
    const list = (Array.isArray(parsed) ? parsed : []).filter(
      (b): b is WalgBackup => typeof b?.backup_name === 'string' && /^\w[\w.-]*$/.test(b.backup_name),
    );
    return list
      .map((b) => this.planned(b))
      .sort((x, y) => (x.stopTime?.getTime() ?? 0) - (y.stopTime?.getTime() ?? 0));
  }

  private planned(b: WalgBackup): PlannedBackup {
    const startLsn = walgLsn(b.start_lsn);
    const endLsn = walgLsn(b.finish_lsn);
    const named = /^base_([0-9A-F]{24})/.exec(b.backup_name)?.[1] ?? b.wal_file_name;
    const startTime = date(b.start_time);
    const stopTime = date(b.finish_time) ?? date(b.time);
    return {
      id: b.backup_name,
      ...(startLsn !== undefined ? { startLsn } : {}),
      ...(endLsn !== undefined ? { endLsn } : {}),
      timeline: named && /^[0-9A-F]{8}/.test(named) ? Number.parseInt(named.slice(0, 8), 16) : 1,
      ...(startTime ? { startTime } : {}),
      ...(stopTime ? { stopTime } : {}),
      size: b.uncompressed_size ?? b.compressed_size ?? 0,
    };
  }

  private get segSize(): number {
    const mb = Number(process.env.WALG_PG_WAL_SIZE);
    return Number.isInteger(mb) && mb > 0 ? mb * 1024 * 1024 : DEFAULT_SEGMENT_SIZE;
  }

  /**
   * wal-verify from the backup's start: to the backup's end (target-immediate) or the target LSN,
   * or, for a time or a name, to the cluster's current segment (wal-g reads it over PG*). A missing
   * range with segments found after it is a gap, whatever wal-verify calls it.
   */
  async coverage(b: PlannedBackup, target: PitrTarget): Promise<Coverage> {
    const end = target.kind === 'immediate' ? b.endLsn : target.kind === 'lsn' ? target.lsn : undefined;
    const args = ['wal-verify', 'integrity', 'timeline', '--json', '--backup-name', b.id];
    if (end !== undefined) {
      // wal-verify checks up to the segment before the one holding --lsn minus one byte.
      const upTo = segmentOf(end > (b.endLsn ?? 0n) ? end : (b.endLsn ?? end), this.segSize) + 1n;
      args.push('--timeline', String(b.timeline), '--lsn', formatLsn(upTo * BigInt(this.segSize) + 1n));
    }
    const r = await this.walg(args, end === undefined);
    let out: VerifyOutput | undefined;
    try {
      out = r.code === 0 ? (JSON.parse(r.stdout) as VerifyOutput) : undefined;
    } catch {
      out = undefined;
    }
    const seg = /^[0-9A-F]{24}$/;
    const ranges = Array.isArray(out?.integrity?.details) ? out.integrity.details : undefined;
    // What it prints names segments in findings: only segment names and counts are read.
    const readable = ranges?.every(
      (x) =>
        seg.test(x?.start_segment) && seg.test(x?.end_segment) && Number.isSafeInteger(x?.segments_count),
    );
    if (!out || !ranges || !readable)
      throw new FetchError(
        `wal-g wal-verify integrity could not check the WAL from ${b.id}: ${r.code === 0 ? 'it printed no report of segments' : tail(r)}${end === undefined ? ' (for a time or a name it reads the cluster’s current WAL segment over PGHOST/PGPORT/PGUSER)' : ''}`,
      );
    const t = out.timeline;
    if (t?.status === 'FAILURE')
      this.log.warn(
        `wal-g wal-verify timeline: the storage holds timeline ${t.details?.highest_storage_timeline_id ?? '?'}, the cluster is on ${t.details?.current_timeline_id ?? '?'}: another cluster may archive into the same storage`,
      );
    const covered = this.fromRanges(b, ranges, end !== undefined, target);
    if (target.kind !== 'time' || covered.reachesTarget !== 'cannot tell') return covered;
    return this.againstUploads(covered, target.time);
  }

  /**
   * A time target after the WAL archived: `wal-g st ls wal_005` gives each segment's upload time.
   * Segments all uploaded before the target were all written before it, so none holds a commit
   * after it and recovery cannot stop there (sound in that direction only). A listing that fails
   * or names no segment leaves it to the replay.
   */
  private async againstUploads(c: Coverage, time: Date): Promise<Coverage> {
    const r = await this.walg(['st', 'ls', 'wal_005']);
    const newest = r.code === 0 ? newestSegmentUpload(r.stdout) : undefined;
    if (newest === undefined) {
      this.log.info(
        `wal-g st ls wal_005 ${r.code === 0 ? 'listed no WAL segment' : `failed (${tail(r)})`}: whether the WAL reaches the target time is found at replay`,
      );
      return c;
    }
    return newest.getTime() < time.getTime() ? { ...c, endsBeforeTarget: true, reachesTarget: 'no' } : c;
  }

  private fromRanges(
    b: PlannedBackup,
    ranges: VerifyRange[],
    bounded: boolean,
    target: PitrTarget,
  ): Coverage {
    const seg = this.segSize;
    const first = segmentName(b.timeline, segmentOf(b.startLsn ?? 0n, seg), seg);
    const base: Coverage = { first, last: first, segments: 0, segSize: seg, timeline: b.timeline };
    const backupEnd = segmentOf(b.endLsn ?? b.startLsn ?? 0n, seg);
    let segments = 0;
    for (const [i, x] of ranges.entries()) {
      if (x.status === 'FOUND') {
        Object.assign(base, { last: x.end_segment, timeline: x.timeline_id });
        segments += x.segments_count;
        continue;
      }
      const later = ranges.slice(i + 1).some((y) => y.status === 'FOUND');
      const beforeEnd = (parseSegmentName(x.start_segment, seg)?.segno ?? 0n) <= backupEnd;
      // Needed and absent: before segments that are there, before the backup's end, or before the target.
      if (later || beforeEnd || bounded)
        return { ...base, segments, missing: x.start_segment, reachesTarget: 'no' };
      break;
    }
    const covered: Coverage = { ...base, segments, reachesTarget: bounded ? 'yes' : 'cannot tell' };
    // No WAL written yet can hold a commit after now.
    if (target.kind === 'time' && target.time.getTime() > Date.now())
      return { ...covered, endsBeforeTarget: true, reachesTarget: 'no' };
    return covered;
  }

  /**
   * backup-fetch into Restorable's folder (it creates it), as the server's user; WAL then comes
   * from wal-fetch, whose settings are in a file only that user may read (not in argv, not in logs).
   */
  async restore(
    b: PlannedBackup,
    dataDir: string,
    spoolDir: string,
    owner: { uid: number; gid: number } | undefined,
  ): Promise<Restored> {
    ownedDir(dataDir, owner);
    const r = await this.walg(['backup-fetch', dataDir, b.id]);
    if (r.code !== 0) throw new Error(`wal-g backup-fetch ${b.id} failed: ${tail(r)}`);
    ownedDir(spoolDir, owner);
    const config = path.join(spoolDir, 'wal-g.json');
    const settings: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && v !== '' && WALG_ENV.some((p) => k.startsWith(p))) settings[k] = v;
    // Prefetched WAL beside the spool, not in the recovered pg_wal; as many segments ahead as asked.
    settings.WALG_PREFETCH_DIR = path.join(spoolDir, 'prefetch');
    settings.WALG_DOWNLOAD_CONCURRENCY = String(this.prefetch);
    ownedFile(config, JSON.stringify(settings), owner);
    return {
      settings: {
        restore_command: `${shellWord(this.bin)} --config ${shellWord(config)} wal-fetch "%f" "%p"`,
      },
      cleanup: () => fs.rmSync(spoolDir, { recursive: true, force: true }),
    };
  }
}
