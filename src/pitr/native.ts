import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseBackupHistory, parseLsn } from '../archive/wal.js';
import { run } from '../core/exec.js';
import type { BackupObject, BackupSource } from '../sources/types.js';
import { pausePoint } from './journal.js';
import type { WalArchive } from './wal-archive.js';

/** One base backup made by pg_basebackup: a plain data directory, or base.tar[.gz] beside backup_manifest. */
export interface BaseBackup {
  /** Its folder under `base-backups` ('' when base-backups is the backup itself). */
  id: string;
  format: 'plain' | 'tar';
  files: BackupObject[];
  size: number;
  startLsn: bigint;
  endLsn?: bigint;
  timeline: number;
  startTime?: Date;
  stopTime?: Date;
  hasManifest: boolean;
}

/** The folders PostgreSQL needs that a copy through object storage loses (they are empty). */
const EMPTY_DIRS = [
  'pg_wal/archive_status',
  'pg_tblspc',
  'pg_replslot',
  'pg_notify',
  'pg_snapshots',
  'pg_serial',
  'pg_stat',
  'pg_stat_tmp',
  'pg_dynshmem',
  'pg_commit_ts',
  'pg_twophase',
  'pg_logical/mappings',
  'pg_logical/snapshots',
  'pg_subtrans',
  'pg_multixact/members',
  'pg_multixact/offsets',
  'pg_xact',
];

interface Manifest {
  'WAL-Ranges'?: { Timeline: number; 'Start-LSN': string; 'End-LSN': string }[];
}

/**
 * The base backups under a source: every folder holding a backup_manifest, a backup_label (plain)
 * or a base.tar[.gz]. Start and stop times come from the backup history files pg_backup_stop
 * archives beside the WAL, matched by start LSN; without one, the manifest's time stands for the end.
 */
export async function listBaseBackups(source: BackupSource, wal: WalArchive): Promise<BaseBackup[]> {
  const objects = await source.list();
  const groups = new Map<string, BackupObject[]>();
  for (const o of objects) {
    const parts = o.name.split('/');
    // The backup's folder: what is above a marker file (backup_manifest, backup_label, base.tar*).
    const idx = parts.findIndex((p) => /^(backup_manifest|backup_label|base\.tar(\.gz)?)$/.test(p));
    if (idx < 0) continue;
    const id = parts.slice(0, idx).join('/');
    if (!groups.has(id)) groups.set(id, []);
  }
  for (const o of objects) {
    for (const id of groups.keys()) {
      if (id === '' || o.name.startsWith(`${id}/`)) {
        (groups.get(id) as BackupObject[]).push(o);
        break;
      }
    }
  }
  const histories = await wal.backupHistories();
  const out: BaseBackup[] = [];
  for (const [id, files] of groups) {
    const rel = (f: BackupObject) => (id ? f.name.slice(id.length + 1) : f.name);
    const names = new Set(files.map(rel));
    const format = names.has('base.tar') || names.has('base.tar.gz') ? 'tar' : 'plain';
    const at = (n: string) => (id ? `${id}/${n}` : n);
    let startLsn: bigint | undefined;
    let endLsn: bigint | undefined;
    let timeline = 1;
    let manifestTime: Date | undefined;
    if (names.has('backup_manifest')) {
      const text = await source.readText(at('backup_manifest'), 512 * 1024 * 1024);
      try {
        const m = JSON.parse(text ?? '') as Manifest;
        const ranges = m['WAL-Ranges'] ?? [];
        const first = ranges[0];
        const last = ranges[ranges.length - 1];
        if (first && last) {
          startLsn = parseLsn(first['Start-LSN']);
          endLsn = parseLsn(last['End-LSN']);
          timeline = first.Timeline;
        }
      } catch {
        // Unreadable manifest: pg_verifybackup says why later; the label may still tell the start.
      }
      manifestTime = files.find((f) => rel(f) === 'backup_manifest')?.modified;
    }
    let label: ReturnType<typeof parseBackupHistory>;
    if (startLsn === undefined && names.has('backup_label')) {
      label = parseBackupHistory((await source.readText(at('backup_label'))) ?? '');
      startLsn = label?.startLsn;
      timeline = label?.timeline ?? 1;
    }
    if (startLsn === undefined) continue;
    const h = histories.find((x) => x.startLsn === startLsn);
    const stopTime = h?.stopTime ?? manifestTime;
    const startTime = h?.startTime ?? label?.startTime;
    endLsn ??= h?.stopLsn;
    out.push({
      id,
      format,
      files,
      size: files.reduce((a, f) => a + f.size, 0),
      startLsn,
      ...(endLsn !== undefined ? { endLsn } : {}),
      timeline,
      ...(startTime ? { startTime } : {}),
      ...(stopTime ? { stopTime } : {}),
      hasManifest: names.has('backup_manifest'),
    });
  }
  return out.sort((a, b) => (a.startLsn < b.startLsn ? -1 : a.startLsn > b.startLsn ? 1 : 0));
}

/**
 * Where an object of a backup goes in the data directory: an object name is the store's (an S3 key
 * may hold `..` or start with `/`), so one that would land outside the data directory is refused.
 */
export function inside(dataDir: string, name: string): string {
  const root = path.resolve(dataDir);
  const dest = path.resolve(root, name);
  if (!dest.startsWith(`${root}${path.sep}`)) {
    throw new Error(
      `the backup holds an object named ${JSON.stringify(name)}, which would land outside the data directory: refused`,
    );
  }
  return dest;
}

/**
 * Objects of a plain base backup fetched at once. From S3 each small file is a round trip: with few
 * in flight, thousands of them wait on latency, not bandwidth. Memory stays bounded: small objects
 * are held whole (S3 SMALL_OBJECT each at most), larger ones are written to disk as they arrive.
 */
export const PARALLEL_OBJECTS = 32;
/** Files of a local base backup copied at once: no round trip to hide, and more lanes only contend. */
const PARALLEL_LOCAL = 8;
/** Bytes a local copy reads and writes at a time. */
const COPY_CHUNK = 1 << 20;

/** One object of a backup into `dest`: copied when local, else downloaded (its size from the listing). */
async function copyObject(source: BackupSource, f: BackupObject, dest: string): Promise<void> {
  const local = source.localPath(f.name);
  // Streamed, not fs.copyFile: the process cannot exit while a copy runs in libuv's threads (2 GiB
  // held a cancel for 2 s), but a stream stops between two chunks. 1 MiB chunks copy faster too.
  if (local) {
    const chunk = { highWaterMark: COPY_CHUNK };
    await pipeline(fs.createReadStream(local, chunk), fs.createWriteStream(dest, chunk));
  } else if (source.downloadTo) await source.downloadTo(f.name, dest, f.size);
  else await pipeline(Readable.from(source.read(f.name, f.size)), fs.createWriteStream(dest));
}

/**
 * Where each object of a plain backup goes, checked before anything is fetched: inside the data
 * directory, and no two objects at one path (`a//b` and `a/./b` are `a/b` once resolved: two
 * downloads into one file would interleave their bytes).
 */
function destinations(dataDir: string, files: BackupObject[], rel: (f: BackupObject) => string) {
  const seen = new Map<string, string>();
  return files.map((f) => {
    const dest = inside(dataDir, rel(f));
    const other = seen.get(dest);
    if (other !== undefined)
      throw new Error(
        `the backup holds objects named ${JSON.stringify(other)} and ${JSON.stringify(rel(f))}, which land on the same file: refused`,
      );
    seen.set(dest, rel(f));
    return { f, dest };
  });
}

/**
 * The objects of a plain base backup into `dataDir`, PARALLEL_OBJECTS at a time from a store
 * (PARALLEL_LOCAL from a folder), the largest first
 * (a large file started last would keep the fetch waiting on it alone). The data directory is new
 * and Restorable makes only folders and plain files in it, so there is no link to follow.
 */
async function fetchPlain(
  source: BackupSource,
  files: BackupObject[],
  dataDir: string,
  rel: (f: BackupObject) => string,
) {
  const queue = destinations(dataDir, files, rel).sort((a, b) => b.f.size - a.f.size);
  const made = new Set<string>();
  let taken = 0;
  let held = false;
  const worker = async () => {
    for (let next = queue[taken++]; next; next = queue[taken++]) {
      const dir = path.dirname(next.dest);
      if (!made.has(dir)) {
        fs.mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      await copyObject(source, next.f, next.dest);
      if (!held) {
        held = true;
        await pausePoint('unpack');
      }
    }
  };
  const width = files[0] && source.localPath(files[0].name) ? PARALLEL_LOCAL : PARALLEL_OBJECTS;
  await Promise.all(Array.from({ length: Math.min(width, queue.length) }, worker));
}

/**
 * Fetch and unpack a base backup into `dataDir` (which must be empty): plain files are copied,
 * tar files streamed through `tar`, and the manifest put beside them for pg_verifybackup.
 */
export async function unpackBaseBackup(source: BackupSource, b: BaseBackup, dataDir: string): Promise<void> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
  const rel = (f: BackupObject) => (b.id ? f.name.slice(b.id.length + 1) : f.name);
  if (b.format === 'plain') {
    await fetchPlain(source, b.files, dataDir, rel);
  } else {
    const others = b.files.filter((f) => /\.tar(\.gz)?$/.test(rel(f)) && !/^(base|pg_wal)\.tar/.test(rel(f)));
    if (others.length > 0) {
      throw new Error(
        `the backup holds tablespaces (${others.map(rel).join(', ')}); restoring tar backups with tablespaces is not supported yet: use pg_basebackup -Fp, or restore by hand`,
      );
    }
    for (const name of ['base', 'pg_wal']) {
      const f = b.files.find((x) => rel(x) === `${name}.tar` || rel(x) === `${name}.tar.gz`);
      if (!f) continue;
      const into = name === 'base' ? dataDir : path.join(dataDir, 'pg_wal');
      fs.mkdirSync(into, { recursive: true });
      // The archive's owners and modes are not taken (no setuid file planted by a crafted backup);
      // GNU tar itself keeps members inside the folder (no `..`, no leading /, links made last).
      const safe = ['--no-same-owner', '--no-same-permissions', '--no-overwrite-dir'];
      const r = await run('tar', [...safe, f.name.endsWith('.gz') ? '-xzf' : '-xf', '-', '-C', into], {
        stdin: Readable.from(source.read(f.name, f.size)),
      });
      if (r.code !== 0)
        throw new Error(`tar could not unpack ${f.name}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
      if (name === 'base') await pausePoint('unpack');
    }
    const manifest = b.files.find((x) => rel(x) === 'backup_manifest');
    if (manifest) await copyObject(source, manifest, path.join(dataDir, 'backup_manifest'));
  }
  for (const d of EMPTY_DIRS) fs.mkdirSync(path.join(dataDir, d), { recursive: true });
  // A base backup never holds these, but a copied data directory might.
  for (const f of ['postmaster.pid', 'postmaster.opts']) fs.rmSync(path.join(dataDir, f), { force: true });
}

/** `PG_VERSION` of an unpacked data directory. */
export function dataDirMajor(dataDir: string): number | undefined {
  try {
    const v = Number(fs.readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim());
    return Number.isFinite(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}
