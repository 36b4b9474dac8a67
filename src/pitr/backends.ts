import fs from 'node:fs';
import path from 'node:path';
import { formatLsn, parseLsn, segmentName, segmentOf, timelineFor } from '../archive/wal.js';
import { errorMessage, UserError } from '../core/errors.js';
import { run } from '../core/exec.js';
import type { Logger } from '../core/log.js';
import { ownedDir } from '../postgres/recovery.js';
import type { Finding } from '../report/findings.js';
import { LocalSource } from '../sources/local.js';
import { S3Source } from '../sources/s3.js';
import type { BackupObject, BackupSource } from '../sources/types.js';
import { type BaseBackup, listBaseBackups, unpackBaseBackup } from './native.js';
import type { PitrOptions, PitrTarget } from './options.js';
import { pgMicros } from './proof.js';
import { WalSpool } from './spool.js';
import { type Coverage, type CoverageEnd, type TargetTimeline, WalArchive } from './wal-archive.js';

/** A base backup as the plan sees it, whatever made it. */
export interface PlannedBackup {
  id: string;
  startLsn?: bigint;
  endLsn?: bigint;
  timeline: number;
  startTime?: Date;
  stopTime?: Date;
  size: number;
}

/** What a backend leaves in the data directory, for the recovery that follows. */
export interface Restored {
  /** Recovery settings the backend wants (restore_command and, for native, the target). */
  settings: Record<string, string>;
  /** The spool serving WAL, when Restorable serves it. */
  spool?: WalSpool;
  /** Removes what the backend left for this recovery only (wal-g's settings file), once it ended. */
  cleanup?: () => void;
  /** pg_verifybackup's verdict: undefined when it could not run (no manifest). */
  verified?: { ok: boolean; detail: string };
}

/**
 * Where base backups and WAL come from: `native`, `pgbackrest` and `barman` (barman.ts); wal-g
 * fits the same verbs (a later issue).
 */
export interface PitrBackend {
  readonly description: string;
  list(): Promise<PlannedBackup[]>;
  /** What the tool itself says at the plan (its archiver's state), when it says anything. */
  planFindings?(): Promise<Finding[]>;
  coverage(b: PlannedBackup, target: PitrTarget): Promise<Coverage | undefined>;
  restore(
    b: PlannedBackup,
    dataDir: string,
    spoolDir: string,
    owner: { uid: number; gid: number } | undefined,
  ): Promise<Restored>;
}

export function coverageEnd(target: PitrTarget, b: PlannedBackup): CoverageEnd {
  switch (target.kind) {
    case 'time':
      return { kind: 'time', time: target.time };
    case 'lsn':
      return { kind: 'lsn', lsn: target.lsn };
    case 'name':
      return { kind: 'name' };
    case 'xid':
      return { kind: 'xid' };
    case 'immediate':
      return { kind: 'immediate', lsn: b.endLsn ?? b.startLsn ?? 0n };
  }
}

export function openSource(
  input: string,
  location: string,
  opts: PitrOptions,
  log: Logger,
  wal = false,
): BackupSource {
  return location.startsWith('s3://')
    ? S3Source.fromUrl(
        input,
        location,
        // A WAL segment in two ranged GETs at once; the spool runs a few segments side by side.
        { ...opts.s3, ...(wal ? { partSize: 8 * 1024 * 1024, concurrency: 2 } : {}) },
        log,
      )
    : new LocalSource(input, location);
}

/** pg_basebackup base backups plus the WAL an archive_command copied. */
export class NativeBackend implements PitrBackend {
  readonly description: string;
  private backups: BaseBackup[] = [];
  private wal: WalArchive | undefined;

  constructor(
    private readonly base: BackupSource,
    private readonly walSource: BackupSource,
    private readonly prefetch: number,
    private readonly binDir: (major: number) => Promise<string>,
    private readonly log: Logger,
    private readonly timeline: TargetTimeline = 'latest',
  ) {
    this.description = `base backups ${base.description}, WAL ${walSource.description}`;
  }

  private async archive(): Promise<WalArchive> {
    this.wal ??= await WalArchive.open(this.walSource);
    return this.wal;
  }

  async list(): Promise<PlannedBackup[]> {
    this.backups = await listBaseBackups(this.base, await this.archive());
    return this.backups;
  }

  async coverage(b: PlannedBackup, target: PitrTarget): Promise<Coverage> {
    const wal = await this.archive();
    const found = this.backups.find((x) => x.id === b.id) as BaseBackup;
    // WAL streamed into the backup (-X stream) covers its own start: then the archive need not.
    const holdsWal = found.files.some((f) => /(^|\/)pg_wal(\/[0-9A-F]{24}$|\.tar(\.gz)?$)/.test(f.name));
    return wal.coverage(
      b.startLsn ?? 0n,
      b.timeline,
      coverageEnd(target, b),
      holdsWal ? undefined : b.endLsn,
      this.timeline,
    );
  }

  async restore(
    b: PlannedBackup,
    dataDir: string,
    spoolDir: string,
    owner: { uid: number; gid: number } | undefined,
  ): Promise<Restored> {
    const found = this.backups.find((x) => x.id === b.id) as BaseBackup;
    const wal = await this.archive();
    // The plan refused a timeline the archive does not know; here it is the one recovery follows.
    const { last, switches } = (await wal.timelineHistory(b.timeline, this.timeline)) ?? {
      last: b.timeline,
      switches: [],
    };
    // The order the server will ask for segments in: from the backup's start, along the timeline chain.
    const order: string[] = [];
    const first = segmentOf(b.startLsn ?? 0n, wal.segSize);
    for (let s = first; ; s++) {
      const name = segmentName(timelineFor(s, switches, last, wal.segSize), s, wal.segSize);
      if (!wal.files.has(name)) break;
      order.push(name);
    }
    // WAL starts downloading while the base backup is unpacked and checked: a head start for replay.
    const spool = new WalSpool(wal, spoolDir, order, this.prefetch, owner, this.log);
    spool.start();
    try {
      await unpackBaseBackup(this.base, found, dataDir);
      let verified: Restored['verified'];
      if (fs.existsSync(path.join(dataDir, 'backup_manifest'))) {
        const major = Number(fs.readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim());
        const tool = path.join(await this.binDir(major), 'pg_verifybackup');
        const walFiles = fs.readdirSync(path.join(dataDir, 'pg_wal')).filter((n) => /^[0-9A-F]{24}$/.test(n));
        const r = await run(tool, [...(walFiles.length ? [] : ['--no-parse-wal']), dataDir], {
          install: 'apt-get install postgresql-<major> (pg_verifybackup comes with the server, 13+)',
        });
        verified = {
          ok: r.code === 0,
          detail: (r.code === 0 ? r.stdout : r.stderr).trim().split('\n').slice(-5).join('\n'),
        };
      }
      return {
        settings: { restore_command: spool.restoreCommand },
        spool,
        ...(verified ? { verified } : {}),
      };
    } catch (e) {
      await spool.remove();
      throw e;
    }
  }
}

interface PgbackrestInfo {
  name: string;
  status?: { code: number; message: string };
  archive?: { id: string; min?: string; max?: string }[];
  backup?: {
    label: string;
    type: string;
    timestamp: { start: number; stop: number };
    lsn?: { start: string; stop: string };
    archive?: { start: string; stop: string };
    info?: { size?: number; repository?: { size?: number } };
  }[];
}

/** pgBackRest: its repository, its `restore`, its `archive-get` (and its own async prefetch). */
export class PgbackrestBackend implements PitrBackend {
  readonly description: string;
  private info: PgbackrestInfo | undefined;

  constructor(
    private readonly stanza: string,
    private readonly config: string | undefined,
    private readonly target: PitrTarget,
    private readonly inclusive: boolean,
    private readonly osUser: string | undefined,
    private readonly timeline: TargetTimeline = 'latest',
  ) {
    this.description = `pgBackRest stanza ${stanza}${config ? ` (${config})` : ''}`;
  }

  private args(command: string, extra: string[] = []): string[] {
    return [
      ...(this.config ? [`--config=${this.config}`] : []),
      `--stanza=${this.stanza}`,
      ...extra,
      command,
    ];
  }

  private async pgbackrest(command: string, extra: string[] = []) {
    return run('pgbackrest', this.args(command, extra), {
      user: this.osUser,
      // pgBackRest takes any of its options from PGBACKREST_* variables (a repository's S3 keys too).
      inherit: ['PGBACKREST_'],
      install: 'apt-get install pgbackrest (Debian/Ubuntu), dnf install pgbackrest (RHEL)',
    });
  }

  async list(): Promise<PlannedBackup[]> {
    const r = await this.pgbackrest('info', ['--output=json']);
    if (r.code !== 0)
      throw new UserError(
        'stanza',
        `pgbackrest info failed: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`,
        'Check the stanza and pgbackrest-config',
      );
    let parsed: PgbackrestInfo[];
    try {
      parsed = JSON.parse(r.stdout) as PgbackrestInfo[];
    } catch (e) {
      throw new Error(`pgbackrest info printed no JSON: ${errorMessage(e)}`);
    }
    this.info = parsed.find((s) => s.name === this.stanza);
    return (this.info?.backup ?? []).map((b) => {
      const startLsn = b.lsn ? parseLsn(b.lsn.start) : undefined;
      const endLsn = b.lsn ? parseLsn(b.lsn.stop) : undefined;
      return {
        id: b.label,
        ...(startLsn !== undefined ? { startLsn } : {}),
        ...(endLsn !== undefined ? { endLsn } : {}),
        timeline: b.archive ? Number.parseInt(b.archive.start.slice(0, 8), 16) : 1,
        startTime: new Date(b.timestamp.start * 1000),
        stopTime: new Date(b.timestamp.stop * 1000),
        size: b.info?.size ?? 0,
      };
    });
  }

  /**
   * For a posix repository, the archived segments are listed from its folder (they are named
   * `<segment>-<sha1>[.gz|.lz4|.zst|...]`); other repositories are left to pgBackRest.
   */
  async coverage(b: PlannedBackup, target: PitrTarget): Promise<Coverage | undefined> {
    const repo = await this.repoPath();
    const archiveId = this.info?.archive?.[this.info.archive.length - 1]?.id;
    if (!repo || !archiveId) return undefined;
    const dir = path.join(repo, 'archive', this.stanza, archiveId);
    if (!fs.existsSync(dir)) return undefined;
    const objects: BackupObject[] = [];
    for (const sub of fs.readdirSync(dir)) {
      const full = path.join(dir, sub);
      if (/\.history$/.test(sub)) {
        const st = fs.statSync(full);
        objects.push({ name: sub, size: st.size, modified: st.mtime, kind: 'file' });
        continue;
      }
      if (!fs.statSync(full).isDirectory()) continue;
      for (const f of fs.readdirSync(full)) {
        const m = /^([0-9A-F]{24}(?:\.[0-9A-F]{8}\.backup)?)-[0-9a-f]{40}(\.(gz|bz2|lz4|zst))?$/.exec(f);
        if (!m) continue;
        const st = fs.statSync(path.join(full, f));
        objects.push({ name: `${sub}/${m[1]}`, size: st.size, modified: st.mtime, kind: 'file' });
      }
    }
    const wal = new WalArchive(new LocalSource('stanza', dir), objects);
    return wal.coverage(b.startLsn ?? 0n, b.timeline, coverageEnd(target, b), b.endLsn, this.timeline);
  }

  private async repoPath(): Promise<string | undefined> {
    const file = this.config ?? '/etc/pgbackrest/pgbackrest.conf';
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    if (/^\s*repo1-type\s*=\s*(?!posix)\S+/m.test(text)) return undefined;
    return /^\s*repo1-path\s*=\s*(\S+)/m.exec(text)?.[1] ?? '/var/lib/pgbackrest';
  }

  async restore(
    b: PlannedBackup,
    dataDir: string,
    _spoolDir: string,
    owner: { uid: number; gid: number } | undefined,
  ): Promise<Restored> {
    ownedDir(dataDir, owner);
    const t = this.target;
    const type = t.kind;
    const extra = [
      `--pg1-path=${dataDir}`,
      `--set=${b.id}`,
      `--type=${type}`,
      ...(t.kind === 'time' ? [`--target=${pgMicros(t.micros)}`] : []),
      ...(t.kind === 'lsn' ? [`--target=${formatLsn(t.lsn)}`] : []),
      ...(t.kind === 'name' ? [`--target=${t.name}`] : []),
      ...(t.kind === 'xid' ? [`--target=${t.xid}`] : []),
      ...(t.kind !== 'immediate' && !this.inclusive ? ['--target-exclusive'] : []),
      // PostgreSQL's default (12+) is latest; another is passed as asked.
      ...(this.timeline !== 'latest' ? [`--target-timeline=${this.timeline}`] : []),
      '--target-action=promote',
      '--archive-mode=off',
    ];
    const r = await this.pgbackrest('restore', extra);
    if (r.code !== 0) {
      throw new Error(
        `pgbackrest restore failed: ${r.stderr.trim().split('\n').slice(-3).join(' ') || r.stdout.trim().split('\n').slice(-3).join(' ')}`,
      );
    }
    return { settings: {} };
  }
}
