import fs from 'node:fs';
import path from 'node:path';
import { formatLsn, parseLsn } from '../archive/wal.js';
import { errorMessage, UserError } from '../core/errors.js';
import { isRoot, run, runSync } from '../core/exec.js';
import { ownerOf, SCRATCH_PREFIX } from '../postgres/cluster.js';
import { chownTree } from '../postgres/recovery.js';
import { type Finding, finding } from '../report/findings.js';
import { LocalSource } from '../sources/local.js';
import type { BackupObject } from '../sources/types.js';
import { coverageEnd, type PitrBackend, type PlannedBackup, type Restored } from './backends.js';
import { checkRestoredFolder } from './barman-folder.js';
import { tablespaceRoot } from './journal.js';
import type { PitrTarget } from './options.js';
import { pgMicros } from './proof.js';
import { type Coverage, type TargetTimeline, WalArchive } from './wal-archive.js';

const INSTALL = 'apt-get install barman (Debian/Ubuntu), dnf install barman (RHEL)';

/** A Barman server's name or a backup id: what Barman itself accepts, and never an option. */
export const BARMAN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

interface ShownBackup {
  backup_id: string;
  status: string;
  begin_lsn?: string;
  end_lsn?: string;
  begin_wal?: string;
  begin_time?: string;
  end_time?: string;
  timeline?: number;
  size?: number;
  tablespaces: { name: string; location: string }[];
}

/** Barman's `-f json` output is `{ "<server>": … }`; anything else is refused, never trusted. */
function serverPart(stdout: string, server: string, what: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch (e) {
    throw new Error(`barman ${what} printed no JSON: ${errorMessage(e)}`);
  }
  if (!parsed || typeof parsed !== 'object' || !(server in parsed))
    throw new Error(`barman ${what} printed no entry for server ${server}`);
  return (parsed as Record<string, unknown>)[server];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Barman's times: "2026-12-01 17:31:05.802252+00:00". */
export function barmanTime(v: unknown): Date | undefined {
  const s = str(v);
  if (!s) return undefined;
  const t = Date.parse(s.replace(' ', 'T'));
  return Number.isFinite(t) ? new Date(t) : undefined;
}

/** One `show-backup` answer, its fields checked one by one. */
function parseShown(v: unknown): ShownBackup {
  const o = (v ?? {}) as Record<string, unknown>;
  const info = (o.base_backup_information ?? {}) as Record<string, unknown>;
  const id = str(o.backup_id);
  if (!id || !BARMAN_NAME.test(id))
    throw new Error(`barman show-backup printed a backup id ${JSON.stringify(id)}`);
  const tablespaces = Array.isArray(o.tablespaces)
    ? (o.tablespaces as unknown[]).map((t) => {
        const x = (t ?? {}) as Record<string, unknown>;
        return { name: String(x.name ?? ''), location: String(x.location ?? '') };
      })
    : [];
  const timeline =
    typeof info.timeline === 'number' && Number.isInteger(info.timeline) ? info.timeline : undefined;
  const size = typeof info.disk_usage_bytes === 'number' ? info.disk_usage_bytes : undefined;
  return {
    backup_id: id,
    status: str(o.status) ?? '',
    ...(str(info.begin_lsn) ? { begin_lsn: str(info.begin_lsn) } : {}),
    ...(str(info.end_lsn) ? { end_lsn: str(info.end_lsn) } : {}),
    ...(str(info.begin_wal) ? { begin_wal: str(info.begin_wal) } : {}),
    ...(str(info.begin_time) ? { begin_time: str(info.begin_time) } : {}),
    ...(str(info.end_time) ? { end_time: str(info.end_time) } : {}),
    ...(timeline !== undefined ? { timeline } : {}),
    ...(size !== undefined ? { size } : {}),
    tablespaces,
  };
}

/** The `barman_user` of a Barman configuration (Barman's own default: barman). */
export function configuredBarmanUser(config: string | undefined): string {
  const files = config ? [config] : ['/etc/barman.conf', '/etc/barman/barman.conf'];
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const m = /^\s*barman_user\s*=\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*$/m.exec(text);
    return m?.[1] ?? 'barman';
  }
  return 'barman';
}

/**
 * Barman (local server): its catalogue (`list-backups`, `show-backup`), its WAL folder for the
 * plan, `barman check` for the archiver's state, and `barman recover` with Barman's copied WAL.
 * Barman runs as `barmanUser` (when root) or as the current user; the recovered server never as root.
 */
export class BarmanBackend implements PitrBackend {
  readonly description: string;
  private shown: ShownBackup[] = [];
  private walsDir: string | undefined;

  constructor(
    private readonly server: string,
    private readonly config: string | undefined,
    private readonly barmanUser: string | undefined,
    private readonly target: PitrTarget,
    private readonly inclusive: boolean,
    private readonly timeline: TargetTimeline = 'latest',
  ) {
    this.description = `Barman server ${server}${config ? ` (${config})` : ''}`;
  }

  private async barman(args: string[], json = true) {
    return run(
      'barman',
      [...(this.config ? ['-c', this.config] : []), ...(json ? ['-f', 'json'] : []), ...args],
      { user: this.barmanUser, install: INSTALL },
    );
  }

  private async json(what: string, args: string[]): Promise<unknown> {
    const r = await this.barman(args);
    if (r.code !== 0) {
      const said = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-2).join(' ');
      throw new UserError(
        'barman-server',
        `barman ${what} ${this.server} failed: ${said}`,
        'Check barman-server and barman-config (barman list-servers names the servers), and that barman-user may read Barman’s home',
      );
    }
    return serverPart(r.stdout, this.server, what);
  }

  async list(): Promise<PlannedBackup[]> {
    const listed = await this.json('list-backups', ['list-backups', this.server]);
    const ids = (Array.isArray(listed) ? listed : [])
      .map((b) => (b ?? {}) as Record<string, unknown>)
      .filter((b) => b.status === 'DONE')
      .map((b) => str(b.backup_id) ?? '')
      .filter((id) => BARMAN_NAME.test(id));
    this.shown = [];
    for (const id of ids)
      this.shown.push(parseShown(await this.json('show-backup', ['show-backup', this.server, id])));
    const server = (await this.json('show-server', ['show-server', this.server])) as Record<string, unknown>;
    this.walsDir = str(server?.wals_directory);
    const out: PlannedBackup[] = [];
    for (const s of this.shown) {
      const startLsn = s.begin_lsn ? parseLsn(s.begin_lsn) : undefined;
      const endLsn = s.end_lsn ? parseLsn(s.end_lsn) : undefined;
      const startTime = barmanTime(s.begin_time);
      const stopTime = barmanTime(s.end_time);
      out.push({
        id: s.backup_id,
        ...(startLsn !== undefined ? { startLsn } : {}),
        ...(endLsn !== undefined ? { endLsn } : {}),
        timeline: s.timeline ?? (s.begin_wal ? Number.parseInt(s.begin_wal.slice(0, 8), 16) : 1),
        ...(startTime ? { startTime } : {}),
        ...(stopTime ? { stopTime } : {}),
        size: s.size ?? 0,
      });
    }
    // Oldest first, as the plan expects.
    return out.sort((a, b) => (a.stopTime?.getTime() ?? 0) - (b.stopTime?.getTime() ?? 0));
  }

  /**
   * Barman's wals/ folder, as it stands: a segment removed from it is a gap whatever xlog.db says;
   * xlog.db gives each segment's archival time (the file's own is the compression's).
   */
  async coverage(b: PlannedBackup, target: PitrTarget): Promise<Coverage | undefined> {
    const dir = this.walsDir;
    if (!dir || !path.isAbsolute(dir)) return undefined;
    let objects: BackupObject[];
    try {
      objects = await new LocalSource('barman-server', dir).list();
    } catch (e) {
      throw new UserError(
        'barman-server',
        `Barman's WAL folder ${dir} cannot be read: ${errorMessage(e)}`,
        'Run Restorable as root or as the Barman user, who can read Barman’s home',
      );
    }
    const times = archivalTimes(path.join(dir, 'xlog.db'));
    for (const o of objects) {
      const t = times.get(o.name.split('/').pop() ?? '');
      if (t) o.modified = t;
    }
    const wal = new WalArchive(new LocalSource('barman-server', dir), objects);
    return wal.coverage(b.startLsn ?? 0n, b.timeline, coverageEnd(target, b), b.endLsn, this.timeline);
  }

  /** `barman check`: what it says of the archiver (its errors folder, the WAL archive). */
  async planFindings(): Promise<Finding[]> {
    const r = await this.barman(['check', this.server]);
    let checks: Record<string, { status?: string; hint?: string }>;
    try {
      checks = serverPart(r.stdout, this.server, 'check') as typeof checks;
    } catch {
      return [];
    }
    const failed = ['archiver_errors', 'wal_archive'].filter((k) => checks?.[k]?.status === 'FAILED');
    if (failed.length === 0) return [];
    const said = failed.map((k) => `${k.replace('_', ' ')}: ${checks[k]?.hint || 'FAILED'}`).join('; ');
    return [
      finding(
        'ARCHIVER_ERRORS',
        'plan',
        `barman check ${this.server} reports its WAL archiver failing (${said})`,
        {
          evidence: { failed: failed.join(', ') },
        },
      ),
    ];
  }

  private targetArgs(): string[] {
    const t = this.target;
    const exclusive = t.kind !== 'immediate' && t.kind !== 'name' && !this.inclusive ? ['--exclusive'] : [];
    const tli = this.timeline === 'latest' ? [] : ['--target-tli', String(this.timeline)];
    switch (t.kind) {
      case 'time':
        return ['--target-time', pgMicros(t.micros), ...exclusive, ...tli];
      case 'lsn':
        return ['--target-lsn', formatLsn(t.lsn), ...exclusive, ...tli];
      case 'name':
        return ['--target-name', t.name, ...tli];
      case 'xid':
        return ['--target-xid', String(t.xid), ...exclusive, ...tli];
      case 'immediate':
        return ['--target-immediate', ...tli];
    }
  }

  async restore(
    b: PlannedBackup,
    dataDir: string,
    _spoolDir: string,
    owner: { uid: number; gid: number } | undefined,
  ): Promise<Restored> {
    const shown = this.shown.find((s) => s.backup_id === b.id) as ShownBackup;
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const tblspcRoot = tablespaceRoot(dataDir);
    const maps = tablespaceMaps(shown, tblspcRoot);
    if (maps.length) fs.mkdirSync(tblspcRoot, { recursive: true, mode: 0o700 });
    this.handTo([dataDir, ...(maps.length ? [tblspcRoot] : [])], owner);
    const args = [
      'recover',
      ...this.targetArgs(),
      '--target-action',
      'promote',
      ...maps.flatMap((m) => ['--tablespace', `${m.name}:${m.location}`]),
      '--no-get-wal',
      this.server,
      b.id,
      dataDir,
    ];
    const r = await this.barman(args, false);
    if (r.code !== 0) {
      const said = `${r.stderr}${r.stdout}`.trim().split('\n').slice(-3).join(' ');
      throw new Error(`barman recover failed: ${said}`);
    }
    // What Barman wrote (and what the backup holds) is read before anything starts on it.
    checkRestoredFolder(dataDir, shown.begin_lsn ? parseLsn(shown.begin_lsn) : undefined, maps);
    if (maps.length) chownTree(tblspcRoot, owner);
    return {
      settings: { restore_command: 'cp barman_wal/%f %p', recovery_end_command: 'rm -rf barman_wal' },
    };
  }

  /** Barman writes the restored folder as its own user; the server's user gets it afterwards. */
  private handTo(dirs: string[], owner: { uid: number; gid: number } | undefined): void {
    if (!isRoot() || !this.barmanUser) {
      if (owner) for (const d of dirs) fs.chownSync(d, owner.uid, owner.gid);
      return;
    }
    let o: { uid: number; gid: number } | undefined;
    try {
      o = ownerOf(this.barmanUser);
    } catch {
      o = undefined;
    }
    if (!o)
      throw new UserError(
        'barman-user',
        `there is no OS user "${this.barmanUser}"`,
        'Give the user Barman runs as',
      );
    for (const d of dirs) {
      fs.chownSync(d, o.uid, o.gid);
      // A drill's scratch folder is its server user's (0700): Barman's user may pass through it.
      const above = path.dirname(d);
      if (path.basename(above).startsWith(SCRATCH_PREFIX) && (fs.statSync(above).mode & 0o777) === 0o700)
        fs.chmodSync(above, 0o711);
      if (runSync('test', ['-w', d, '-a', '-x', d], this.barmanUser).code !== 0)
        throw new UserError(
          'barman-user',
          `${d} is not writable by ${this.barmanUser}, who runs barman recover`,
          `Give a folder ${this.barmanUser} can reach (every folder above it traversable)`,
        );
    }
  }
}

/** xlog.db: `name<TAB>size<TAB>time<TAB>compression` a line; a line of another shape is ignored. */
function archivalTimes(file: string): Map<string, Date> {
  const out = new Map<string, Date>();
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^([0-9A-F]{24}(?:\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)\t\d+\t(\d+(?:\.\d+)?)\t/.exec(
      line,
    );
    if (m) out.set(m[1] as string, new Date(Number(m[2]) * 1000));
  }
  return out;
}

/**
 * Every tablespace of the backup goes beside the restored folder, never to where production keeps
 * it (Barman's default): a drill must not write into production's tablespaces.
 */
export function tablespaceMaps(
  shown: Pick<ShownBackup, 'backup_id' | 'tablespaces'>,
  root: string,
): { name: string; location: string }[] {
  return shown.tablespaces.map((t) => {
    if (!/^[A-Za-z0-9_]{1,63}$/.test(t.name))
      throw new UserError(
        'backup',
        `Barman's backup ${shown.backup_id} has a tablespace named ${JSON.stringify(t.name)}, which cannot be relocated safely`,
        'Recover this backup by hand with barman recover --tablespace',
      );
    return { name: t.name, location: path.join(root, t.name) };
  });
}
