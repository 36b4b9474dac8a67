import fs from 'node:fs';
import path from 'node:path';
import { parsePgTime } from '../archive/wal.js';
import { run } from '../core/exec.js';
import type { PgBinary } from './binaries.js';
import { PgCtl, postmasterAlive } from './pgctl.js';

const BEGIN = '# --- restorable recovery: begin ---';
const END = '# --- restorable recovery: end ---';

function confValue(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

/**
 * A log file the server's user can append to, made by us: the folder beside a data directory
 * (Debian's /var/lib/postgresql/<major>) may not be the server's user's to write in.
 */
export function ownedLog(file: string, owner: { uid: number; gid: number } | undefined): string {
  fs.appendFileSync(file, '', { mode: 0o600 });
  if (owner) fs.chownSync(file, owner.uid, owner.gid);
  return file;
}

/** A folder only the server's user may enter (made with its parents when missing), owned by it. */
export function ownedDir(dir: string, owner: { uid: number; gid: number } | undefined): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/** A file only the server's user may read (it may hold credentials), owned by it. */
export function ownedFile(
  file: string,
  text: string,
  owner: { uid: number; gid: number } | undefined,
): string {
  fs.writeFileSync(file, text, { mode: 0o600 });
  if (owner) fs.chownSync(file, owner.uid, owner.gid);
  return file;
}

export function chownTree(root: string, owner: { uid: number; gid: number } | undefined): void {
  if (!owner) return;
  const walk = (p: string) => {
    fs.lchownSync(p, owner.uid, owner.gid);
    const st = fs.lstatSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(root);
}

/**
 * Put a restored data directory into targeted archive recovery: our settings in a marked block at
 * the end of postgresql.auto.conf (read last, so they win over the backup's own), recovery.signal,
 * and no standby.signal. A postgresql.conf is created empty when the backup has none (Debian keeps
 * it in /etc): returned, so that a recovery handed back to Debian's layout can leave no such file.
 */
export function writeRecoveryConfig(
  dataDir: string,
  settings: Record<string, string>,
  owner: { uid: number; gid: number } | undefined,
): string[] {
  const auto = path.join(dataDir, 'postgresql.auto.conf');
  const before = fs.existsSync(auto) ? stripBlock(fs.readFileSync(auto, 'utf8')) : '';
  const block = [BEGIN, ...Object.entries(settings).map(([k, v]) => `${k} = ${confValue(v)}`), END, ''].join(
    '\n',
  );
  fs.writeFileSync(auto, `${before}${before && !before.endsWith('\n') ? '\n' : ''}${block}`);
  const created = [auto, path.join(dataDir, 'recovery.signal')];
  fs.writeFileSync(path.join(dataDir, 'recovery.signal'), '');
  fs.rmSync(path.join(dataDir, 'standby.signal'), { force: true });
  const placeholders: string[] = [];
  for (const f of ['postgresql.conf', 'pg_ident.conf']) {
    const file = path.join(dataDir, f);
    if (!fs.existsSync(file)) {
      fs.writeFileSync(file, '');
      placeholders.push(file);
    }
  }
  if (owner) for (const f of [...created, ...placeholders]) fs.chownSync(f, owner.uid, owner.gid);
  return placeholders;
}

function stripBlock(text: string): string {
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return text;
  return text.slice(0, a) + text.slice(b + END.length).replace(/^\n/, '');
}

/**
 * After promotion: keep only the settings that must outlive recovery (`keep`, e.g. archive_mode =
 * off), as a marked block a person can see and reset.
 */
export function settleRecoveryConfig(dataDir: string, keep: Record<string, string>): void {
  const auto = path.join(dataDir, 'postgresql.auto.conf');
  const before = stripBlock(fs.readFileSync(auto, 'utf8'));
  const lines = Object.entries(keep).map(([k, v]) => `${k} = ${confValue(v)}`);
  const block = lines.length
    ? `# Set by Restorable's point-in-time recovery; reset with ALTER SYSTEM RESET when ready.\n${lines.join('\n')}\n`
    : '';
  fs.writeFileSync(auto, `${before}${block}`);
}

export interface RecoveryOutcome {
  /** `promoted`: recovery reached its target and ended; `unreached`: it ended before the target; `failed`: the server stopped. */
  status: 'promoted' | 'unreached' | 'failed';
  reason?: string;
  /** The last replayed commit ("last completed transaction was at log time ..."). */
  recoveredTo?: Date;
  /** The same, as the log writes it (to the microsecond). */
  lastCommit?: string;
  /** PostgreSQL's own words where recovery stopped ("recovery stopping before commit of ..."). */
  stopLine?: string;
  seconds: number;
  logTail: string;
}

export interface RecoveryWatch {
  dataDir: string;
  bin: PgBinary;
  osUser: string | undefined;
  logFile: string;
  /** A time target, a name or an LSN: a promotion without a "recovery stopping" line missed it. */
  expectStopLine: boolean;
  /** Give up after this long. */
  timeoutMs?: number;
  /**
   * Server settings for this start only (`postgres -c`), over every file: a recovery that runs
   * private (its own socket, no TCP) leaves nothing behind that production's own start would read.
   */
  options?: Record<string, string>;
}

/** pg_controldata's fields (`Database cluster state`, `Database system identifier`, ...). */
export async function controlData(bin: PgBinary, dataDir: string): Promise<Record<string, string>> {
  // No user switch: we read pg_control as whoever we are (root can; otherwise we own the folder).
  const r = await run(path.join(bin.dir, 'pg_controldata'), [dataDir], { env: { LC_ALL: 'C' } });
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^([^:]+):\s+(.*)$/.exec(line);
    if (m) out[(m[1] as string).trim()] = (m[2] as string).trim();
  }
  return out;
}

/** A log read as it grows: each call reads only the bytes written since the last one. */
function growingLog(file: string): () => string {
  let text = '';
  let offset = 0;
  return () => {
    try {
      const size = fs.statSync(file).size;
      if (size > offset) {
        const fd = fs.openSync(file, 'r');
        try {
          const buf = Buffer.alloc(size - offset);
          fs.readSync(fd, buf, 0, buf.length, offset);
          text += buf.toString('utf8');
          offset = size;
        } finally {
          fs.closeSync(fd);
        }
      }
    } catch {
      // Not there yet.
    }
    return text;
  };
}

/** What the server log says about how recovery ended. */
function readRecoveryLog(log: string): {
  stopLine?: string;
  recoveredTo?: Date;
  lastCommit?: string;
  unreached?: string;
  promoted: boolean;
} {
  const stopLine = /LOG:\s+(recovery stopping [^\n]*)/.exec(log)?.[1]?.trim();
  const last = /last completed transaction was at log time ([^\n]+)/.exec(log)?.[1]?.trim();
  const unreached = /FATAL:\s+(recovery ended before configured recovery target was reached)/.exec(log)?.[1];
  // Not "archive recovery complete": the server stays read-only until the end-of-recovery checkpoint.
  const promoted = /database system is ready to accept connections\s*$/m.test(log);
  const recoveredTo = last ? parsePgTime(last) : undefined;
  return {
    ...(stopLine ? { stopLine } : {}),
    ...(recoveredTo ? { recoveredTo, lastCommit: last as string } : {}),
    ...(unreached ? { unreached } : {}),
    promoted,
  };
}

/**
 * Start a server in archive recovery and wait for it to end: promoted at the target, or stopped
 * before it. The server's state comes from pg_controldata (no connection needed, so it works on
 * any host), the details from its log.
 */
export async function runRecovery(w: RecoveryWatch): Promise<RecoveryOutcome> {
  const t0 = Date.now();
  const started = await new PgCtl(w.bin.dir, w.dataDir, w.osUser).start({
    log: w.logFile,
    wait: false,
    ...(w.options ? { options: w.options } : {}),
  });
  const readLog = growingLog(w.logFile);
  const tail = () => readLog().trim().split('\n').slice(-8).join('\n');
  const done = (o: Omit<RecoveryOutcome, 'seconds' | 'logTail'>): RecoveryOutcome => ({
    ...o,
    seconds: (Date.now() - t0) / 1000,
    logTail: tail(),
  });
  if (started.code !== 0)
    return done({ status: 'failed', reason: `pg_ctl start failed: ${started.stderr.trim()}` });
  let seenAlive = false;
  let seenRecovery = false;
  let lastState = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const alive = postmasterAlive(w.dataDir);
    seenAlive ||= alive;
    const log = readRecoveryLog(readLog());
    const facts = {
      ...(log.stopLine ? { stopLine: log.stopLine } : {}),
      ...(log.recoveredTo ? { recoveredTo: log.recoveredTo, lastCommit: log.lastCommit as string } : {}),
    };
    if (log.unreached) return done({ status: 'unreached', reason: log.unreached, ...facts });
    if (!alive && (seenAlive || Date.now() - t0 > 10_000)) {
      return done({ status: 'failed', reason: 'the server stopped during recovery', ...facts });
    }
    // The copied pg_control says "in production" until the startup process marks it in recovery:
    // only a change back after that (or the log) means promotion.
    // pg_controldata once a second (the log, read every tick, usually tells first).
    const askState = alive && Date.now() - lastState >= 1000;
    if (askState) lastState = Date.now();
    const state = askState ? (await controlData(w.bin, w.dataDir))['Database cluster state'] : undefined;
    seenRecovery ||= state === 'in archive recovery';
    if (alive && (log.promoted || (seenRecovery && state === 'in production'))) {
      // Old servers (13 and before) promote at the end of WAL even when the target was not reached.
      if (w.expectStopLine && !log.stopLine) {
        return done({
          status: 'unreached',
          reason: 'recovery ended at the end of the archived WAL without reaching the target',
          ...facts,
        });
      }
      return done({ status: 'promoted', ...facts });
    }
    if (w.timeoutMs && Date.now() - t0 > w.timeoutMs)
      return done({
        status: 'failed',
        reason: `recovery did not finish within ${Math.round(w.timeoutMs / 1000)}s`,
      });
  }
}
