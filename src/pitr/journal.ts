import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { isRoot, runSync, sleepSync, userCommandEnv } from '../core/exec.js';
import { ownerOf } from '../postgres/cluster.js';
import { PGCTL_WAIT, PgCtl, postmasterAlive } from '../postgres/pgctl.js';
import { ownedLog } from '../postgres/recovery.js';

/**
 * In place, production is always recoverable: a journal on disk beside the data directory records
 * each phase, so that a signal, a kill or a crash at any moment ends, through the signal handler,
 * the post step or `restorable pitr --rollback`, with production's original data serving, or the
 * recovered data serving and the snapshot kept.
 *
 * fetching  the backup is being restored into the staging folder; production runs untouched
 * stopping  production is being stopped
 * stopped   production is down; the recovery runs private in the staging folder
 * promoted  the private recovery reached its target; its checks run
 * recovered the staging folder holds the proven recovery, its server stopped
 * swapping  production's folder is being moved to the safety snapshot and the staging folder in
 * swapped   the recovered data is at production's path; production's start is under way
 * serving   production serves the recovered data; the safety snapshot is kept (final)
 * rolled-back production's original data is back (final)
 */
export type Phase =
  | 'fetching'
  | 'stopping'
  | 'stopped'
  | 'promoted'
  | 'recovered'
  | 'swapping'
  | 'swapped'
  | 'serving'
  | 'rolled-back';

export interface Journal {
  version: 1;
  pid: number;
  phase: Phase;
  updated: string;
  /** Production's data directory, and what Restorable makes beside it. */
  live: string;
  staging: string;
  safety: string;
  failed: string;
  spool: string;
  /**
   * The attempt's tablespaces, where a backend that relocates them (Barman's) puts them:
   * `<staging>.tablespaces`. On a put-back they go with the attempt, to `<failed>.tablespaces`.
   */
  tablespaces?: string;
  /** The private recovery's socket folder and rules (in the temp folder: a socket's path is short). */
  private: string;
  /** Production's data directory is told from the others by its inode, wherever it has been moved. */
  liveIno: number;
  /** Production's pg_ctl folder (Restorable's own discovery) and the recovered server's. */
  liveBin: string;
  serverBin?: string;
  osUser?: string;
  /** How production starts: its start-command, Debian's pg_ctlcluster, or pg_ctl with this log. */
  start: { command?: string; cluster?: { major: number; name: string }; log: string };
  stoppedAt?: string;
  servingAt?: string;
}

/** Where an in-place run can be held for the signal tests, in the order a run reaches them. */
export type PausePoint = 'fetch' | 'unpack' | 'replay' | 'promote' | 'verify' | 'handover';

/**
 * A fault-injection point for the signal tests: with RESTORABLE_PAUSE_AT=<point>, the run says so
 * on stderr and waits 3 s there (asynchronously, so a signal is handled meanwhile).
 */
export async function pausePoint(point: PausePoint): Promise<void> {
  if (process.env.RESTORABLE_PAUSE_AT !== point) return;
  process.stderr.write(`restorable: paused at ${point}\n`);
  await new Promise((r) => setTimeout(r, 3000));
}

/** Where a backend that relocates a backup's tablespaces puts them: beside the folder it restores into. */
export function tablespaceRoot(dataDir: string): string {
  return `${dataDir}.tablespaces`;
}

export function journalPath(live: string): string {
  return `${path.resolve(live)}.restorable-journal.json`;
}

export function writeJournal(j: Journal, phase?: Phase): void {
  if (phase) j.phase = phase;
  j.updated = new Date().toISOString();
  const file = journalPath(j.live);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(j, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * The journal of `live`, only as this runner wrote it: a file that is a link, another user's, or
 * open to others is refused (the server's user can write beside its data directory).
 */
export function readJournal(live: string): Journal | undefined {
  const file = journalPath(live);
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) return undefined;
  const mine = process.getuid?.() ?? 0;
  const bad = (why: string) =>
    new UserError(
      'data-directory',
      `the journal ${file} ${why}, so it is not followed`,
      `Check who wrote it; roll back by hand as docs/pitr-restore.md says (mode in-place)`,
    );
  if (!st.isFile() || st.uid !== mine || (st.mode & 0o077) !== 0)
    throw bad("is not this runner's own private file");
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Journal;
  // A name beside production's folder, never a path that leaves it (`<live>.restorable-x/../..`).
  const prefix = `${path.resolve(live)}.restorable-`;
  const beside = (p: unknown) =>
    typeof p === 'string' && p.startsWith(prefix) && !p.slice(prefix.length).includes('/');
  const privateDir =
    typeof j.private === 'string' && path.basename(j.private).startsWith('restorable-private-');
  if (
    j.version !== 1 ||
    j.live !== path.resolve(live) ||
    !privateDir ||
    ![j.staging, j.safety, j.failed, j.spool].every(beside) ||
    (j.tablespaces !== undefined && j.tablespaces !== tablespaceRoot(j.staging))
  )
    throw bad('does not describe this data directory');
  return j;
}

function inode(p: string): number | undefined {
  return fs.lstatSync(p, { throwIfNoEntry: false })?.ino;
}

/**
 * Start production on whatever its path holds. `wait: false` (a signal handler, seconds before
 * the runner's SIGKILL): pg_ctl waits 6 s for the server (which goes on starting after), a
 * start-command gets 5 s; the post step or --rollback finishes what is left. Undefined when it
 * started, else why not.
 */
export function startProductionSync(j: Journal, wait: boolean): string | undefined {
  if (postmasterAlive(j.live)) return undefined;
  const limit = wait ? 180_000 : 5_000;
  const r = j.start.command
    ? runSync('sh', ['-c', j.start.command], j.osUser, userCommandEnv(), limit)
    : j.start.cluster
      ? runSync(
          'pg_ctlcluster',
          [String(j.start.cluster.major), j.start.cluster.name, 'start'],
          undefined,
          {},
          limit,
        )
      : new PgCtl(j.liveBin, j.live, j.osUser).startSync(
          {
            log: ownedLog(j.start.log, ownerOf(j.osUser)),
            wait: wait ? PGCTL_WAIT.productionStart : PGCTL_WAIT.signalStart,
          },
          limit,
        );
  if (r.code === 0) return undefined;
  const how = j.start.command ? 'start-command' : j.start.cluster ? 'pg_ctlcluster start' : 'pg_ctl start';
  return `${how} exited ${r.code ?? 'on a signal or its time limit'}${r.stderr ? `: ${r.stderr}` : ''}${j.start.command || j.start.cluster ? '' : ` (server log: ${j.start.log})`}`;
}

/**
 * Put production's original data back at its path and start it, from whatever phase the journal
 * and the folders say: the recovery's private server stopped, the attempt kept at `failed`, the
 * original moved back from the safety snapshot if it had been moved. Synchronous, for signal
 * handlers; `wait` as for startProductionSync. Returns what it did, for the log.
 */
export function putBackSync(j: Journal, wait: boolean): { started: boolean; note: string } {
  if (j.serverBin && postmasterAlive(j.staging)) new PgCtl(j.serverBin, j.staging, j.osUser).stopSync();
  // A production stop in flight finishes before production can start again.
  for (let waited = 0; j.phase === 'stopping' && postmasterAlive(j.live) && waited < 5000; waited += 100)
    sleepSync(100);
  if (inode(j.live) !== j.liveIno) {
    // The recovered copy is at production's path: stop it, move it aside, bring the original back.
    if (j.serverBin && postmasterAlive(j.live)) new PgCtl(j.serverBin, j.live, j.osUser).stopSync();
    if (inode(j.live) !== undefined) fs.renameSync(j.live, j.failed);
    if (inode(j.safety) === j.liveIno) fs.renameSync(j.safety, j.live);
  } else if (inode(j.staging) !== undefined) fs.renameSync(j.staging, j.failed);
  const tablespaces = keepTablespaces(j);
  for (const d of [j.spool, j.private]) fs.rmSync(d, { recursive: true, force: true });
  if (inode(j.live) !== j.liveIno) {
    return {
      started: false,
      note: `production's original data directory was not found at ${j.live} or ${j.safety}`,
    };
  }
  const notStarted = startProductionSync(j, wait);
  writeJournal(j, 'rolled-back');
  const attempt = inode(j.failed) !== undefined;
  const kept = attempt
    ? `; the attempt is kept at ${j.failed}${tablespaces ? ` (its tablespaces at ${tablespaces})` : ''}`
    : tablespaces
      ? `; the attempt's tablespaces are kept at ${tablespaces}`
      : '';
  return notStarted
    ? {
        started: false,
        note: `the original data directory is back at ${j.live}, but the server did not start (${notStarted}): start it by hand${kept}`,
      }
    : {
        started: true,
        note: `the original data directory is back at ${j.live} and the server was started${kept}`,
      };
}

/** `p` moved from under `from` to under `to`, when it is `from` or inside it; else undefined. */
function movedPath(p: string, from: string, to: string): string | undefined {
  if (p === from) return to;
  return p.startsWith(`${from}/`) ? `${to}${p.slice(from.length)}` : undefined;
}

/**
 * The links in `dir`'s pg_tblspc that point under `from` point under `to`, each replaced in one
 * rename: a put-back stopped midway leaves each link old or new, and the next one finishes.
 * (Barman and barman-cloud-restore make these links and write no tablespace_map.)
 */
function repointTablespaces(dir: string, from: string, to: string): void {
  const tblspc = path.join(dir, 'pg_tblspc');
  if (fs.lstatSync(tblspc, { throwIfNoEntry: false })?.isDirectory())
    for (const name of fs.readdirSync(tblspc)) {
      const link = path.join(tblspc, name);
      const st = fs.lstatSync(link);
      const moved = st.isSymbolicLink() ? movedPath(fs.readlinkSync(link), from, to) : undefined;
      if (!moved) continue;
      const tmp = `${link}.restorable-tmp`;
      fs.rmSync(tmp, { force: true });
      fs.symlinkSync(moved, tmp);
      if (isRoot()) fs.lchownSync(tmp, st.uid, st.gid);
      fs.renameSync(tmp, link);
    }
}

/**
 * The attempt's tablespaces go with it: `<staging>.tablespaces` to `<failed>.tablespaces`, and
 * the kept attempt's links re-pointed there, so that it stays a folder one can inspect or start.
 * Each step is read from the folders, not assumed: a second put-back finishes a first one that was
 * stopped. Returns where they are kept, if there are any.
 */
function keepTablespaces(j: Journal): string | undefined {
  const from = j.tablespaces ?? tablespaceRoot(j.staging);
  const to = tablespaceRoot(j.failed);
  if (inode(from) !== undefined && inode(to) === undefined) fs.renameSync(from, to);
  if (fs.lstatSync(j.failed, { throwIfNoEntry: false })?.isDirectory())
    repointTablespaces(j.failed, from, to);
  return inode(to) !== undefined ? to : undefined;
}

/**
 * `restorable pitr --rollback` and the post step: finish whatever a run that was stopped left. A
 * final journal (serving, rolled-back) needs nothing; production is started if it is not running.
 */
export function resumeFromJournal(live: string): string {
  const j = readJournal(live);
  if (!j) return `no in-place journal beside ${path.resolve(live)}: nothing to roll back`;
  if (j.phase === 'serving' || j.phase === 'rolled-back') {
    const notStarted = startProductionSync(j, true);
    const what =
      j.phase === 'serving'
        ? `the recovered data serves at ${j.live}${servedTablespaces(j)}; the previous data directory is kept at ${j.safety}`
        : `the original data directory is at ${j.live}`;
    return notStarted
      ? `${what}, but the server did not start (${notStarted})`
      : `${what}, and the server runs`;
  }
  return putBackSync(j, true).note;
}

/**
 * Once the recovered copy serves, its tablespaces stay where the backend put them, in the folder
 * named after the staging folder (production's pg_tblspc links point there): said, so nobody
 * takes it for a leftover.
 */
export function servedTablespaces(j: Journal): string {
  const root = j.tablespaces ?? tablespaceRoot(j.staging);
  return fs.lstatSync(root, { throwIfNoEntry: false })?.isDirectory()
    ? ` (its tablespaces at ${root}, where its pg_tblspc links point: part of production now, never remove it)`
    : '';
}

/** The commands that undo the swap by hand, printed when it happens and in docs/pitr-restore.md. */
export function rollbackCommands(j: Journal): string[] {
  return [`restorable pitr --rollback --data-directory ${j.live}`, `or by hand: ${byHand(j)}`];
}

/**
 * Once the recovered data serves, `--rollback` no longer undoes anything (it only starts the
 * server): going back is by hand, and throws away what was written since.
 */
export function undoServedCommand(j: Journal): string {
  return `To go back to the previous data, which discards every write since the hand-over, ${byHand(j)} (restorable pitr --rollback does not undo a recovery that serves)`;
}

function byHand(j: Journal): string {
  return `stop the server, then mv ${j.live} ${j.failed} && mv ${j.safety} ${j.live}, and start it`;
}
