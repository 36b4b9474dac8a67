import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { onCancel } from '../core/cancel.js';
import { ToolMissingError, UserError } from '../core/errors.js';
import { isRoot, run, sleepSync } from '../core/exec.js';
import type { Logger } from '../core/log.js';
import { addToPassfile, newPassword, setPassword, writeOwnHba, writePassfile } from './auth.js';
import { installHint, type PgBinary, pick } from './binaries.js';
import { type ConnInfo, maskedUrl } from './client.js';
import { cachedServer } from './embedded.js';
import { PgCtl, postmasterAlive } from './pgctl.js';
import {
  dropScratchUser,
  killScratchProcesses,
  madeHere,
  makeScratchUser,
  passwdIds,
} from './scratch-user.js';

/** Settings for a cluster that exists to be loaded once and thrown away. */
export const BULK_LOAD_SETTINGS: Record<string, string> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  wal_level: 'minimal',
  max_wal_senders: '0',
  archive_mode: 'off',
  autovacuum: 'off',
  checkpoint_timeout: '1h',
  max_wal_size: '16GB',
  maintenance_work_mem: '512MB',
  shared_buffers: '256MB',
};

export interface ScratchOptions {
  /** The lowest server major that will do; the closest installed one is used. */
  minMajor?: number;
  /** Use binaries from this folder only. */
  binDir?: string;
  /** Use these server binaries (already chosen: see drill/server.ts); minMajor and binDir are then unused. */
  bin?: PgBinary;
  /** Run the server as this OS user; default `postgres` when root, else the current user. */
  osUser?: string;
  /** What the cluster is for, in its folder name, so `restorable clean` can find leftovers. */
  label?: string;
  /** `bulk` (default): tuned for a one-off load, see BULK_LOAD_SETTINGS. `default`: stock settings. */
  tuning?: 'bulk' | 'default';
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string>;
  logger?: Logger;
}

/** A free TCP port on loopback (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set<ScratchCluster>();
/** Clusters between mkdtemp and a finished start: removed too if the process is stopped then. */
const starting = new Map<string, { binDir: string; osUser: string | undefined; phase: 'init' | 'server' }>();

/** Stop and remove clusters caught mid-start; best effort, never throws (it runs in a signal handler). */
function removeStartingSync(): void {
  for (const [root, { binDir, osUser, phase }] of starting) {
    try {
      const data = path.join(root, 'data');
      const pidFile = path.join(data, 'postmaster.pid');
      // A `pg_ctl start` in flight launches the server anyway: wait for it to appear, then stop it.
      for (let waited = 0; phase === 'server' && !fs.existsSync(pidFile) && waited < 5000; waited += 50)
        sleepSync(50);
      if (fs.existsSync(pidFile)) new PgCtl(binDir, data, osUser).stopSync();
      // initdb may still be writing into it for a moment: retry.
      dropLabel(root);
      for (let attempt = 0; attempt < 20 && fs.existsSync(root); attempt++) {
        try {
          fs.rmSync(root, { recursive: true, force: true });
        } catch {
          sleepSync(100);
        }
      }
      if (osUser && madeHere(osUser) && !fs.existsSync(root)) dropScratchUser(osUser);
    } catch {
      // Nothing more can be done here; `restorable clean` finds what is left.
    }
  }
  starting.clear();
}

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const stopAll = () => {
    for (const c of live) c.stopSync();
    removeStartingSync();
  };
  // Last resort: a process that exits with clusters still up stops them synchronously; on
  // cancellation Node skips 'exit' handlers, so they are stopped there too.
  process.on('exit', stopAll);
  onCancel(stopAll);
}

export const SCRATCH_PREFIX = 'restorable-';

/** Written for every scratch cluster, so it can be found and stopped later. */
export interface ClusterLabel {
  label: string;
  /** The cluster's folder. */
  root: string;
  pid: number;
  created: string;
  major: number;
  osUser?: string;
  /** osUser was made for this cluster alone (as root): it is removed with the cluster. */
  ownUser?: boolean;
  /** Set when the cluster is kept on purpose (keep: true); `clean` leaves it alone unless asked. */
  kept?: boolean;
}

/**
 * A folder of this process's user that nobody else may enter: made 0700 when missing, and refused
 * when it is a link, another user's, or open to others (someone may have planted it).
 */
function privateDir(dir: string, owner: { uid: number; gid: number } | undefined): string {
  const uid = owner?.uid ?? process.getuid?.() ?? 0;
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new UserError(
      'TMPDIR',
      `${dir} is not a private folder of uid ${uid} (a link, another user's, or open to others), so no scratch cluster is made there`,
      `Remove it if nobody should have made it, or point TMPDIR (work-dir's temp) at a folder only the runner uses`,
    );
  }
  return dir;
}

/** Labels live apart from the clusters, where only the runner may write: a server cannot rewrite them. */
function labelDir(): string {
  return privateDir(path.join(os.tmpdir(), `${SCRATCH_PREFIX}labels-${process.getuid?.() ?? 0}`), undefined);
}

/** The 0700 parent of a server user's scratch folders: only that user (and the runner) can enter. */
function scratchParent(osUser: string | undefined): string {
  const owner = ownerOf(osUser);
  const uid = owner?.uid ?? process.getuid?.() ?? 0;
  return privateDir(path.join(os.tmpdir(), `${SCRATCH_PREFIX}${uid}`), owner);
}

/** Where the label of the cluster in `root` is kept. */
export function labelFile(root: string): string {
  return path.join(labelDir(), `${path.basename(root)}.json`);
}

/** The label of a scratch folder, only as the runner wrote it: a file anyone else could write is not one. */
export function readLabel(root: string): ClusterLabel | undefined {
  try {
    const file = labelFile(root);
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.uid !== (process.getuid?.() ?? 0) || (st.mode & 0o022) !== 0) return undefined;
    const l = JSON.parse(fs.readFileSync(file, 'utf8')) as ClusterLabel;
    return l.root === path.resolve(root) && Number.isInteger(l.major) && l.major >= 9 && l.major < 100
      ? l
      : undefined;
  } catch {
    return undefined;
  }
}

function writeLabel(root: string, label: string, bin: PgBinary, osUser: string | undefined): void {
  const l: ClusterLabel = {
    label,
    root: path.resolve(root),
    pid: process.pid,
    created: new Date().toISOString(),
    major: bin.major,
    ...(osUser ? { osUser } : {}),
    ...(madeHere(osUser) ? { ownUser: true } : {}),
  };
  fs.writeFileSync(labelFile(root), JSON.stringify(l), { mode: 0o600 });
}

function dropLabel(root: string): void {
  fs.rmSync(labelFile(root), { force: true });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stop a scratch cluster by its folder (for the post step, --keep and `restorable clean`) and remove
 * it. The label is data, never code: pg_ctl comes from Restorable's own discovery by the label's
 * major, runs as the label's server user (never root), and only on a folder and data directory that
 * user owns; a folder whose server did not stop is left, with a line saying so.
 */
export async function removeCluster(root: string): Promise<boolean> {
  const label = readLabel(root);
  if (!label || !path.basename(root).startsWith(SCRATCH_PREFIX)) return false;
  if (label.osUser === 'root') return false;
  const owner = ownerOf(label.osUser);
  const uid = owner?.uid ?? process.getuid?.() ?? 0;
  const data = path.join(root, 'data');
  const owned = (p: string) => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    return st === undefined || (!st.isSymbolicLink() && st.uid === uid);
  };
  if (!owned(root) || !owned(data)) return false;
  if (postmasterAlive(data)) {
    // A drill's server may be a fetched embedded build of a major the machine lacks.
    const embedded = cachedServer(label.major);
    const pgCtl =
      (await pick('pg_ctl', label.major)) ??
      (embedded ? { dir: embedded.dir, path: path.join(embedded.dir, 'pg_ctl') } : undefined);
    if (pgCtl) {
      await new PgCtl(pgCtl.dir, data, label.osUser).stop('immediate').catch(() => undefined);
    }
    if (postmasterAlive(data)) {
      throw new UserError(
        'clean',
        `the server in ${root} did not stop, so its folder was left`,
        `Stop it (${pgCtl ? pgCtl.path : `pg_ctl of PostgreSQL ${label.major}`} -D ${data} stop, as ${label.osUser ?? 'the runner'}), then run restorable clean --root ${root}`,
      );
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
  dropLabel(root);
  if (label.ownUser && label.osUser) dropScratchUser(label.osUser);
  return true;
}

/** Scratch clusters left behind: by a crash (their process is gone) or kept on purpose. */
export function findLeftovers(): { root: string; label: ClusterLabel; orphaned: boolean }[] {
  const dir = labelDir();
  const out: { root: string; label: ClusterLabel; orphaned: boolean }[] = [];
  for (const n of fs.readdirSync(dir)) {
    if (!n.startsWith(SCRATCH_PREFIX) || !n.endsWith('.json')) continue;
    let root: unknown;
    try {
      root = (JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as { root?: unknown }).root;
    } catch {
      continue;
    }
    const label = typeof root === 'string' ? readLabel(root) : undefined;
    if (label) out.push({ root: label.root, label, orphaned: !pidAlive(label.pid) });
  }
  return out;
}

/**
 * What `restorable clean` removes: clusters whose process is gone, except those kept on purpose
 * (keep: true), whose process is always gone by then; with `all`, the kept ones too. A cluster
 * whose drill still runs is never taken.
 */
export function leftoversToClean(all: boolean): { root: string; label: ClusterLabel }[] {
  return findLeftovers().filter((c) => (c.label.kept ? all : c.orphaned));
}

/**
 * A labelled scratch folder for a cluster whose data directory comes from a base backup instead of
 * initdb. Until `ScratchCluster.adopt` it is removed (its server stopped) if the process is stopped.
 */
export function scratchFolder(label: string, osUser: string | undefined): string {
  const root = fs.mkdtempSync(path.join(scratchParent(osUser), `${SCRATCH_PREFIX}${label}-`));
  installExitHook();
  starting.set(root, { binDir: '', osUser, phase: 'init' });
  prepareFolder(root, osUser);
  return root;
}

/** The socket folder in a scratch root, both owned by the server's OS user; removed if that user is missing. */
function prepareFolder(root: string, osUser: string | undefined): void {
  fs.mkdirSync(path.join(root, 'socket'), { mode: 0o700 });
  let owner: ReturnType<typeof ownerOf>;
  try {
    owner = ownerOf(osUser);
  } catch (e) {
    fs.rmSync(root, { recursive: true, force: true });
    starting.delete(root);
    throw e;
  }
  if (owner) {
    fs.chownSync(root, owner.uid, owner.gid);
    fs.chownSync(path.join(root, 'socket'), owner.uid, owner.gid);
  }
}

/** Once the folder's server binaries are known: label it, and stop its server too on a signal. */
export function labelFolder(root: string, bin: PgBinary, osUser: string | undefined, label: string): void {
  const entry = starting.get(root);
  if (entry) Object.assign(entry, { binDir: bin.dir, phase: 'server' });
  writeLabel(root, label, bin, osUser);
}

/** The uid/gid files must belong to for `osUser` to run a server on them (undefined: no change). */
export function ownerOf(osUser: string | undefined): { uid: number; gid: number } | undefined {
  if (!osUser || !isRoot()) return undefined;
  const ids = passwdIds(osUser);
  if (!ids) {
    throw new UserError(
      'os-user',
      `"${osUser}" is not a user on this machine, so the server cannot run as it`,
      `Create it (useradd --system ${osUser}), or set os-user (restore-drill, pitr-restore) to a user that exists`,
    );
  }
  return ids;
}

/**
 * A throwaway PostgreSQL cluster: initdb into a temp folder, a free port on 127.0.0.1, its socket in
 * that folder, server binaries run as Restorable's own user when we are root. The socket (in the
 * 0700 folder) is trusted; TCP needs the cluster's own random password (see auth.ts). `stop()`
 * removes it all.
 */
export class ScratchCluster {
  private constructor(
    readonly root: string,
    readonly port: number,
    readonly bin: PgBinary,
    readonly osUser: string | undefined,
    readonly settings: Record<string, string>,
    /** The superuser's password over TCP: in url() and the 0600 `passfile`, never logged. */
    private readonly password: string,
  ) {}

  get dataDir(): string {
    return path.join(this.root, 'data');
  }
  get socketDir(): string {
    return path.join(this.root, 'socket');
  }
  get major(): number {
    return this.bin.major;
  }
  get version(): string {
    return this.bin.version;
  }

  conn(database = 'postgres'): ConnInfo {
    return { host: this.socketDir, port: this.port, user: 'postgres', database };
  }

  /**
   * A URL over TCP for tools that want one, with the cluster's password in it: a secret, for a
   * later step's input only (register it with the logger first). To show one: shownUrl().
   */
  url(database = 'postgres'): string {
    return `postgresql://postgres:${this.password}@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  /** The password file beside the cluster (0600, the runner's): 127.0.0.1 and localhost on its port. */
  get passfile(): string {
    return path.join(this.root, 'pgpass');
  }

  /**
   * The URL to show people, reports and logs: no password in it, but `passfile=` naming the
   * cluster's password file, which libpq (psql, ...) and Restorable read: it works as it is.
   */
  shownUrl(database = 'postgres', user = 'postgres'): string {
    return maskedUrl({
      host: '127.0.0.1',
      port: this.port,
      user,
      database,
      passfile: this.passfile,
    });
  }

  /**
   * Let `user` (a role of the cluster) in over TCP too: a password of its own, in the password file
   * beside the superuser's. Returns it, for the logger's secrets.
   */
  async addLogin(user: string): Promise<string> {
    const password = newPassword();
    await setPassword(this.conn(), user, password);
    addToPassfile(this.root, this.port, user, password);
    return password;
  }

  /** The password, for the logger's secrets (so that nothing prints it) and nothing else. */
  secret(): string {
    return this.password;
  }

  /**
   * A server that recovery started in a `scratchFolder`: stopped and removed like the others. Its
   * password is made here; `lockTcp` gives it to the superuser once the server takes writes.
   */
  static adopt(
    root: string,
    port: number,
    bin: PgBinary,
    osUser: string | undefined,
    settings: Record<string, string>,
  ): ScratchCluster {
    starting.delete(root);
    const c = new ScratchCluster(root, port, bin, osUser, settings, newPassword());
    live.add(c);
    return c;
  }

  /** The superuser (of `conn`, over the socket) gets the cluster's password; the password file is written. */
  async lockTcp(conn: ConnInfo = this.conn()): Promise<void> {
    await setPassword(conn, conn.user, this.password);
    writePassfile(this.root, this.port, conn.user, this.password);
  }

  /** Forget a `scratchFolder` that was removed some other way. */
  static abandon(root: string): void {
    starting.delete(root);
  }

  static async start(opts: ScratchOptions = {}): Promise<ScratchCluster> {
    const min = opts.minMajor ?? 0;
    const initdb = opts.bin ?? (await pick('initdb', min, opts.binDir));
    if (!initdb) {
      throw new ToolMissingError(
        min
          ? `PostgreSQL ${min} (or newer) server binaries (initdb, pg_ctl)`
          : 'PostgreSQL server binaries (initdb, pg_ctl)',
        installHint(Math.max(Math.ceil(min), 13), 'server'),
      );
    }
    if (opts.osUser === 'root') {
      throw new UserError(
        'os-user',
        "is root; a scratch server that runs a backup's SQL never runs as root",
        "Leave os-user unset (as root, a user of the cluster's own, made for it and removed with it), or name an unprivileged user",
      );
    }
    // As root, by default: a user made for this cluster alone (see scratch-user.ts); else the runner's.
    const own = opts.osUser ? undefined : makeScratchUser();
    const osUser = opts.osUser ?? own;
    installExitHook();
    let root: string | undefined;
    try {
      root = fs.mkdtempSync(path.join(scratchParent(osUser), `${SCRATCH_PREFIX}${opts.label ?? 'scratch'}-`));
      starting.set(root, { binDir: initdb.dir, osUser, phase: 'init' });
      return await ScratchCluster.startIn(root, initdb, osUser, opts);
    } catch (e) {
      // startIn removed the folder of a cluster that did not start; its user goes with it.
      if (own && !(root && fs.existsSync(root))) dropScratchUser(own);
      throw e;
    } finally {
      if (root) starting.delete(root);
    }
  }

  private static async startIn(
    root: string,
    initdb: PgBinary,
    osUser: string | undefined,
    opts: ScratchOptions,
  ): Promise<ScratchCluster> {
    prepareFolder(root, osUser);
    const settings = { ...(opts.tuning === 'default' ? {} : BULK_LOAD_SETTINGS), ...opts.settings };
    const bin = (p: string) => path.join(initdb.dir, p);
    const init = await run(
      bin('initdb'),
      [
        '-D',
        path.join(root, 'data'),
        '-U',
        'postgres',
        // The socket's folder is 0700: only its owner gets there. TCP needs the password, set below.
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
      ],
      { user: osUser },
    );
    if (init.code !== 0) {
      fs.rmSync(root, { recursive: true, force: true });
      throw new Error(`initdb failed: ${init.stderr.trim().split('\n').slice(-3).join(' ')}`);
    }
    writeOwnHba(path.join(root, 'data'), ownerOf(osUser), false);
    writeLabel(root, opts.label ?? 'scratch', initdb, osUser);
    let lastError = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const conf = {
        port: String(port),
        listen_addresses: "'127.0.0.1'",
        unix_socket_directories: `'${path.join(root, 'socket')}'`,
        max_connections: '50',
        ...Object.fromEntries(
          Object.entries(settings).map(([k, v]) => [k, /^[\w.]+$/.test(v) ? v : `'${v}'`]),
        ),
      };
      fs.writeFileSync(
        path.join(root, 'data', 'postgresql.auto.conf'),
        `${Object.entries(conf)
          .map(([k, v]) => `${k} = ${v}`)
          .join('\n')}\n`,
      );
      const phase = starting.get(root);
      if (phase) phase.phase = 'server';
      const started = await new PgCtl(initdb.dir, path.join(root, 'data'), osUser).start({
        log: path.join(root, 'server.log'),
      });
      if (started.code === 0) return ScratchCluster.started(root, port, initdb, osUser, settings, opts);
      lastError = tail(path.join(root, 'server.log')) || started.stderr;
      // Another process took the port between our probe and the start: try another.
      if (!/could not bind|Address already in use/i.test(lastError)) break;
    }
    fs.rmSync(root, { recursive: true, force: true });
    dropLabel(root);
    throw new Error(`the scratch PostgreSQL server did not start: ${lastError.trim()}`);
  }

  /** The server is up: the superuser's password (over the socket), its password file; or removed. */
  private static async started(
    root: string,
    port: number,
    bin: PgBinary,
    osUser: string | undefined,
    settings: Record<string, string>,
    opts: ScratchOptions,
  ): Promise<ScratchCluster> {
    const password = newPassword();
    opts.logger?.secret(password);
    const c = new ScratchCluster(root, port, bin, osUser, settings, password);
    live.add(c);
    installExitHook();
    try {
      await c.lockTcp();
    } catch (e) {
      await c.stop();
      throw e;
    }
    opts.logger?.debug(`scratch cluster PostgreSQL ${bin.version} on port ${port} in ${root}`);
    return c;
  }

  private pgCtl(): PgCtl {
    return new PgCtl(this.bin.dir, this.dataDir, this.osUser);
  }

  /** Run one of this cluster's server-side binaries (pg_ctl, ...) as its OS user. */
  runServerTool(tool: string, args: string[]) {
    return run(path.join(this.bin.dir, tool), args, { user: this.osUser });
  }

  async stop(): Promise<void> {
    if (!live.has(this)) return;
    live.delete(this);
    await this.pgCtl()
      .stop('immediate')
      .catch(() => undefined);
    this.removeIfStopped();
  }

  /** Remove the folder, unless its server is still up (then `restorable clean` can finish later). */
  private removeIfStopped(): void {
    if (postmasterAlive(this.dataDir)) return;
    fs.rmSync(this.root, { recursive: true, force: true });
    dropLabel(this.root);
    if (this.osUser && madeHere(this.osUser)) dropScratchUser(this.osUser);
  }

  /** Keep the cluster after this process exits (keep: true); returns its folder for the post step. */
  detach(): string {
    live.delete(this);
    const label = readLabel(this.root);
    if (label)
      fs.writeFileSync(labelFile(this.root), JSON.stringify({ ...label, kept: true }), { mode: 0o600 });
    return this.root;
  }

  /**
   * Stop the server, and kill what else runs as its own user, and leave the folder and the user
   * for a later process to remove (removeCluster). Its label stays as it is, not kept: once this
   * process is gone, `restorable clean` takes it too.
   */
  async handOff(): Promise<string> {
    if (!live.has(this)) return this.root;
    // Still live while it stops: a signal now stops and removes it as any scratch cluster.
    await this.pgCtl()
      .stop('immediate')
      .catch(() => undefined);
    if (this.osUser) killScratchProcesses(this.osUser);
    live.delete(this);
    return this.root;
  }

  stopSync(): void {
    if (!live.has(this)) return;
    live.delete(this);
    this.pgCtl().stopSync();
    this.removeIfStopped();
  }

  serverLog(): string {
    return tail(path.join(this.root, 'server.log'));
  }
}

function tail(file: string, lines = 5): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
