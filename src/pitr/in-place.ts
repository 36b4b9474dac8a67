import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onCancel } from '../core/cancel.js';
import { run, userCommandEnv } from '../core/exec.js';
import type { Logger } from '../core/log.js';
import type { PgBinary } from '../postgres/binaries.js';
import type { ConnInfo } from '../postgres/client.js';
import { PGCTL_WAIT, PgCtl, postmasterAlive } from '../postgres/pgctl.js';
import { type Finding, finding } from '../report/findings.js';
import {
  type Journal,
  pausePoint,
  putBackSync,
  rollbackCommands,
  servedTablespaces,
  startProductionSync,
  tablespaceRoot,
  writeJournal,
} from './journal.js';
import type { InPlaceOptions } from './options.js';

/** Debian's layout (seed 001's postgresql@16-main): a cluster whose configuration lives in /etc. */
export interface DebianCluster {
  major: number;
  name: string;
  /** /etc/postgresql/<major>/<name>/postgresql.conf */
  conf: string;
}

/** The Debian cluster whose data_directory is `live`, if its configuration is in /etc/postgresql. */
export function debianCluster(live: string, etc = '/etc/postgresql'): DebianCluster | undefined {
  const want = path.resolve(live);
  for (const major of fs.existsSync(etc) ? fs.readdirSync(etc) : []) {
    if (!/^\d+$/.test(major)) continue;
    for (const name of fs.readdirSync(path.join(etc, major))) {
      const conf = path.join(etc, major, name, 'postgresql.conf');
      const text = fs.existsSync(conf) ? fs.readFileSync(conf, 'utf8') : '';
      const dir = /^\s*data_directory\s*=\s*'([^']*)'/m.exec(text)?.[1];
      if (dir && path.resolve(dir) === want) return { major: Number(major), name, conf };
    }
  }
  return undefined;
}

/** What a run in place keeps about production, set up before the fetch. */
export interface InPlace {
  journal: Journal;
  debian: DebianCluster | undefined;
  /** The stop-command, when one is given (else pg_ctlcluster on Debian's layout, else pg_ctl). */
  stopCommand: string | undefined;
  /** The recovery's own socket folder and port: nobody but Restorable reaches it while it is unproven. */
  socket: string;
  /** Stop listening for signals: the hand-over is done, or the put-back is. */
  release: () => void;
}

/**
 * Before anything is fetched: the journal, and a cancel handler that puts production back from
 * whatever phase it is in (quickly: the runner sends SIGKILL 10 s after SIGINT; what is left, the
 * post step or `restorable pitr --rollback` finishes).
 */
export function beginInPlace(
  opts: InPlaceOptions,
  liveBin: PgBinary,
  osUser: string | undefined,
  paths: { staging: string; spool: string; ts: string },
  log: Logger,
): InPlace {
  const live = path.resolve(opts.dataDirectory);
  const debian = opts.startCommand ? undefined : debianCluster(live);
  const journal: Journal = {
    version: 1,
    pid: process.pid,
    phase: 'fetching',
    updated: '',
    live,
    staging: paths.staging,
    safety: `${live}.restorable-safety-${paths.ts}`,
    failed: `${live}.restorable-failed-${paths.ts}`,
    spool: paths.spool,
    tablespaces: tablespaceRoot(paths.staging),
    // Short, for the socket's path (at most 107 bytes), and private (0700).
    private: fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-private-')),
    liveIno: fs.statSync(live).ino,
    liveBin: liveBin.dir,
    ...(osUser ? { osUser } : {}),
    start: {
      ...(opts.startCommand ? { command: opts.startCommand } : {}),
      ...(debian ? { cluster: { major: debian.major, name: debian.name } } : {}),
      log: `${live}.restorable-start-${paths.ts}.log`,
    },
  };
  writeJournal(journal);
  const release = onCancel(() => {
    if (journal.phase === 'serving' || journal.phase === 'rolled-back') return;
    const r = putBackSync(journal, false);
    log.warn(`cancelled: ${r.note}`);
  });
  return {
    journal,
    debian,
    stopCommand: opts.stopCommand,
    socket: path.join(journal.private, 'socket'),
    release,
  };
}

/**
 * The settings of the private recovery, for this start only: its own socket folder, no TCP
 * listener, hot standby off (nobody reads a half-recovered database), no archiving, no pid file of
 * production's; on Debian, production's configuration from /etc with the staging folder as data.
 */
export function privateOptions(ip: InPlace, port: number): Record<string, string> {
  return {
    port: String(port),
    listen_addresses: '',
    unix_socket_directories: ip.socket,
    hot_standby: 'off',
    archive_mode: 'off',
    external_pid_file: path.join(ip.journal.private, 'external.pid'),
    logging_collector: 'off',
    log_destination: 'stderr',
    cluster_name: 'restorable-recovery',
    hba_file: path.join(ip.journal.private, 'pg_hba.conf'),
    ...(ip.debian ? { config_file: ip.debian.conf, data_directory: ip.journal.staging } : {}),
  };
}

/** The private socket folder and its rules: trust there (it is 0700, the server's user's). */
export function preparePrivate(ip: InPlace, owner: { uid: number; gid: number } | undefined): void {
  fs.mkdirSync(ip.socket, { recursive: true, mode: 0o700 });
  fs.chmodSync(ip.journal.private, 0o700);
  const hba = path.join(ip.journal.private, 'pg_hba.conf');
  fs.writeFileSync(
    hba,
    '# Restorable: the private recovery, reached only through its 0700 socket folder\nlocal all all trust\n',
  );
  if (owner) for (const p of [ip.journal.private, ip.socket, hba]) fs.chownSync(p, owner.uid, owner.gid);
}

/** A connection to the private recovery, in the database and as the user check-url names. */
export function privateConn(ip: InPlace, port: number, named: ConnInfo | undefined): ConnInfo {
  return { host: ip.socket, port, user: named?.user ?? 'postgres', database: named?.database ?? 'postgres' };
}

/** Stop production (its stop-command, pg_ctlcluster, or pg_ctl -m fast); a finding when it would not stop. */
export async function stopProduction(ip: InPlace): Promise<Finding | undefined> {
  const j = ip.journal;
  writeJournal(j, 'stopping');
  const stop = ip.stopCommand
    ? await run('sh', ['-c', ip.stopCommand], { user: j.osUser, env: userCommandEnv() })
    : ip.debian
      ? await run('pg_ctlcluster', [String(ip.debian.major), ip.debian.name, 'stop'])
      : await new PgCtl(j.liveBin, j.live, j.osUser).stop('fast', PGCTL_WAIT.productionStop);
  if (stop.code === 0 && !postmasterAlive(j.live)) {
    j.stoppedAt = new Date().toISOString();
    writeJournal(j, 'stopped');
    return undefined;
  }
  return finding(
    'RECOVERY_FAILED',
    'recover',
    `the live server did not stop (${stop.stderr.trim().split('\n').pop() || `exit ${stop.code}`}); nothing was changed`,
  );
}

/** Undo: the attempt aside, production's data back and started; the finding says how it went. */
export function rollBack(ip: InPlace, why: string, next: string[]): Finding {
  const r = putBackSync(ip.journal, true);
  ip.release();
  next.push(`${r.note}.`);
  return finding(
    'PITR_ROLLED_BACK',
    'recover',
    `the in-place recovery failed (${why}); the original data directory was put back${r.started ? ' and the server started' : ', but it did not start'}`,
    { evidence: { restarted: r.started } },
  );
}

/**
 * After promotion: settings that name the staging folder (pgBackRest writes its restore_command
 * with --pg1-path of the folder it restored into) name production's path, where the folder goes.
 */
export function rehome(ip: InPlace): void {
  const auto = path.join(ip.journal.staging, 'postgresql.auto.conf');
  const text = fs.readFileSync(auto, 'utf8');
  if (text.includes(ip.journal.staging))
    fs.writeFileSync(auto, text.split(ip.journal.staging).join(ip.journal.live));
}

/** After promotion: the new timeline's history file is marked for the archiver, for when archiving is on again. */
export function markHistoryReady(
  dataDir: string,
  owner: { uid: number; gid: number } | undefined,
): string | undefined {
  const wal = path.join(dataDir, 'pg_wal');
  const history = fs
    .readdirSync(wal)
    .filter((n) => /^[0-9A-F]{8}\.history$/.test(n))
    .sort()
    .pop();
  if (!history) return undefined;
  const ready = path.join(wal, 'archive_status', `${history}.ready`);
  if (!fs.existsSync(path.join(wal, 'archive_status', `${history}.done`))) {
    fs.writeFileSync(ready, '');
    if (owner) fs.chownSync(ready, owner.uid, owner.gid);
  }
  return history;
}

/**
 * The hand-over, once the recovery is proven: its private server stopped, production's folder
 * moved to the safety snapshot and the recovered one in, production started on it. A start that
 * fails puts the original back.
 */
export async function handOver(
  ip: InPlace,
  server: PgBinary,
  log: Logger,
  next: string[],
): Promise<{ findings: Finding[]; downtimeSeconds?: number }> {
  const j = ip.journal;
  await new PgCtl(server.dir, j.staging, j.osUser).shutdown();
  if (postmasterAlive(j.staging))
    return { findings: [rollBack(ip, 'the recovered server did not stop', next)] };
  writeJournal(j, 'recovered');
  writeJournal(j, 'swapping');
  fs.renameSync(j.live, j.safety);
  fs.renameSync(j.staging, j.live);
  writeJournal(j, 'swapped');
  await pausePoint('handover');
  log.info(
    `in place: the previous data directory is kept at ${j.safety}; to undo: ${rollbackCommands(j).join('; ')}`,
  );
  const notStarted = startProductionSync(j, true);
  if (notStarted)
    return {
      findings: [rollBack(ip, `production did not start on the recovered data: ${notStarted}`, next)],
    };
  j.servingAt = new Date().toISOString();
  writeJournal(j, 'serving');
  const tablespaces = servedTablespaces(j);
  if (tablespaces) log.info(`in place: the recovered data serves at ${j.live}${tablespaces}`);
  fs.rmSync(j.private, { recursive: true, force: true });
  ip.release();
  const downtime = j.stoppedAt ? (Date.parse(j.servingAt) - Date.parse(j.stoppedAt)) / 1000 : undefined;
  return { findings: [], ...(downtime !== undefined ? { downtimeSeconds: downtime } : {}) };
}
