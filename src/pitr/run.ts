import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SEGMENT_SIZE, formatLsn, parseSegmentName } from '../archive/wal.js';
import type { SmokeResult } from '../checks/semantics.js';
import type { CompareSummary } from '../compare/run.js';
import { formatBytes, formatSeconds } from '../core/duration.js';
import { errorMessage, UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { PgBinary } from '../postgres/binaries.js';
import { type ConnInfo, maskedUrl, parseDbUrl, waitForConnections, withClient } from '../postgres/client.js';
import {
  freePort,
  labelFolder,
  ownerOf,
  removeCluster,
  ScratchCluster,
  scratchFolder,
} from '../postgres/cluster.js';
import {
  controlData,
  ownedLog,
  postmasterAlive,
  type RecoveryOutcome,
  runRecovery,
  settleRecoveryConfig,
  stopServer,
  writeRecoveryConfig,
} from '../postgres/recovery.js';
import { type Finding, finding } from '../report/findings.js';
import { appendHistory, type HistoryEntry, readHistory } from '../report/history.js';
import type { Reportable } from '../report/render.js';
import { Pipeline, type StageResult } from '../report/stages.js';
import { FetchError } from '../sources/s3.js';
import {
  NativeBackend,
  openSource,
  PgbackrestBackend,
  type PitrBackend,
  type PlannedBackup,
} from './backends.js';
import { pitrCompare, type TableChange } from './changes.js';
import { type PitrQuery, runPitrChecks } from './checks.js';
import { checkCloneFolder, lastingSettings } from './clone.js';
import { fetchStage, serverBinary } from './fetch.js';
import {
  beginInPlace,
  handOver,
  type InPlace,
  markHistoryReady,
  preparePrivate,
  privateConn,
  privateOptions,
  rehome,
  rollBack,
  stopProduction,
} from './in-place.js';
import { pausePoint, putBackSync, readJournal, rollbackCommands, writeJournal } from './journal.js';
import { dataDirMajor } from './native.js';
import type { PitrOptions, PitrTarget, RecoverOptions } from './options.js';
import { coverageFindings, describeCoverage, planCoverage } from './plan.js';
import {
  isoMicros,
  type LogProof,
  microsOrMs,
  pgMicros,
  proveFromLog,
  rpoSeconds,
  targetFindings,
} from './proof.js';
import type { SpoolStats } from './spool.js';
import type { Coverage, TargetTimeline } from './wal-archive.js';

const MARKER_PREFIX = 'restorable-marker-';

/** A drill's recovered cluster is thrown away: replay need not be crash-safe. */
export const DRILL_RECOVERY_TUNING: Record<string, string> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  autovacuum: 'off',
};

export interface PitrResult extends Reportable {
  command: 'pitr';
  mode: PitrOptions['mode'];
  backend: string;
  source: string;
  target: string;
  plan?: {
    backup: string;
    backupEnded?: string;
    walFirst?: string;
    walLast?: string;
    walSegments?: number;
    /** The timeline the plan followed, and whether the WAL reaches the target (by segment names). */
    timeline?: number;
    reachesTarget?: 'yes' | 'no' | 'cannot tell';
    estimatedSeconds?: number;
  };
  server?: string;
  recoveredTo?: string;
  stopLine?: string;
  /** The server log's proof of the point: the last replayed commit and the first left out. */
  proof?: LogProof;
  /** Recovery point achieved: seconds from the last replayed commit to the target point. */
  rpoSeconds?: number;
  replaySeconds?: number;
  /** WAL served by the spool: segments fetched, bytes, and how many the server had to wait for. */
  wal?: { fetched: number; bytes: number; waits: number };
  checks?: SmokeResult[];
  compare?: CompareSummary;
  /** compare against the live server: each table whose rows changed since the target. */
  changedSinceTarget?: TableChange[];
  databaseUrl?: string;
  /** drill with keep: the scratch folder the post step (or clean) removes. */
  handle?: string;
  safetySnapshot?: string;
  /** In place: the writes the rollback discards, from the recovery point to production's stop. */
  discarded?: { until?: string; lsn?: string };
  /** In place: production's downtime, from its stop to serving the recovered data. */
  downtimeSeconds?: number;
  /** In place: the new timeline's history file, marked for the archiver. */
  history?: string;
  /** What a person should do now (seed 001 §2.5 after an in-place restore). */
  next: string[];
}

const PITR_STAGES = ['fetch', 'recover', 'checks', 'compare', 'teardown'];

function describeTarget(t: PitrTarget, inclusive: boolean): string {
  const incl = inclusive ? '' : ' (exclusive)';
  switch (t.kind) {
    case 'time':
      return `time ${isoMicros(t.micros)}${incl}`;
    case 'lsn':
      return `LSN ${formatLsn(t.lsn)}${incl}`;
    case 'name':
      return `restore point "${t.name}"`;
    case 'immediate':
      return 'immediate (end of the base backup)';
  }
}

/** The recovery_target_* settings for a target. */
function targetSettings(t: PitrTarget, inclusive: boolean, timeline: TargetTimeline): Record<string, string> {
  const common = {
    recovery_target_action: 'promote',
    recovery_target_timeline: String(timeline),
    recovery_target_inclusive: inclusive ? 'on' : 'off',
  };
  switch (t.kind) {
    case 'time':
      return { ...common, recovery_target_time: pgMicros(t.micros) };
    case 'lsn':
      return { ...common, recovery_target_lsn: formatLsn(t.lsn) };
    case 'name':
      return { ...common, recovery_target_name: t.name };
    case 'immediate':
      return {
        recovery_target_action: 'promote',
        recovery_target_timeline: String(timeline),
        recovery_target: 'immediate',
      };
  }
}

/** The newest backup that ended before the target (or the one asked for). */
function chooseBackup(
  backups: PlannedBackup[],
  target: PitrTarget,
  wanted: string | undefined,
): { backup?: PlannedBackup; finding?: Finding } {
  const endedBefore = (b: PlannedBackup) => {
    if (target.kind === 'time')
      return b.stopTime !== undefined && b.stopTime.getTime() <= target.time.getTime();
    if (target.kind === 'lsn') return b.endLsn !== undefined && b.endLsn <= target.lsn;
    return true;
  };
  if (backups.length === 0) return { finding: finding('BACKUP_MISSING', 'plan', 'no base backup was found') };
  if (wanted) {
    const b = backups.find((x) => x.id === wanted);
    if (!b)
      throw new UserError(
        'backup',
        `"${wanted}" is not one of the base backups (${backups.map((x) => x.id || '(the folder itself)').join(', ')})`,
        'Name a base backup folder (or pgBackRest label) exactly, or leave backup empty for the newest',
      );
    if (!endedBefore(b))
      return {
        finding: finding('PITR_TARGET_BEFORE_BACKUP', 'plan', `base backup ${b.id} ended after the target`, {
          evidence: { backup: b.id, ended: b.stopTime?.toISOString() ?? null },
        }),
      };
    return { backup: b };
  }
  const ok = backups.filter(endedBefore);
  const backup = ok[ok.length - 1];
  if (!backup) {
    const oldest = backups[0] as PlannedBackup;
    return {
      finding: finding(
        'PITR_TARGET_BEFORE_BACKUP',
        'plan',
        `the target is before the end of the oldest base backup (${oldest.id}${oldest.stopTime ? `, ended ${oldest.stopTime.toISOString()}` : ''})`,
        { evidence: { backups: backups.length, oldest: oldest.stopTime?.toISOString() ?? null } },
      ),
    };
  }
  return { backup };
}

/** Seconds per WAL segment and per base-backup byte, from earlier runs: a rough plan estimate. */
function estimate(history: HistoryEntry[], segments: number | undefined): number | undefined {
  const runs = history.filter(
    (h) => h.command === 'pitr' && h.verdict !== 'could-not-verify' && h.rows.walSegments,
  );
  const last = runs[runs.length - 1];
  if (!last || segments === undefined) return undefined;
  const replayPerSegment = (last.stages.recover ?? 0) / (last.rows.walSegments as number);
  return Math.round((last.stages.fetch ?? 0) + replayPerSegment * segments + (last.stages.checks ?? 0));
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
}

/**
 * pitr-restore: plan (backup, WAL coverage, before anything changes), fetch and verify the base
 * backup, recover to the target serving WAL from a prefetching spool, prove it, tear down.
 */
export async function runPitr(
  opts: PitrOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): Promise<PitrResult> {
  const pipe = Pipeline.withConfig(opts.failOn, opts.config.ignore, onStage);
  const result: PitrResult = {
    ...pipe.begin('pitr'),
    mode: opts.mode,
    backend: opts.backend,
    source: '',
    target: describeTarget(opts.target, opts.inclusive),
    next: [],
  };
  const history = opts.history ? readHistory(opts.history) : [];
  const binDirFor = async (major: number) => (await serverBinary(major, opts.pgBinDir)).dir;
  const osUser = opts.osUser ?? (process.getuid?.() === 0 ? 'postgres' : undefined);
  const backend: PitrBackend =
    opts.backend === 'native'
      ? new NativeBackend(
          openSource('base-backups', opts.baseBackups, opts, log),
          openSource('wal-archive', opts.walArchive, opts, log, true),
          opts.prefetch,
          binDirFor,
          log,
          opts.targetTimeline,
        )
      : new PgbackrestBackend(
          opts.stanza,
          opts.pgbackrestConfig,
          opts.target,
          opts.inclusive,
          osUser,
          opts.targetTimeline,
        );
  result.source = backend.description;

  // In place: the interlock is checked before anything else happens.
  let liveBin: PgBinary | undefined;
  if (opts.mode === 'in-place' && !opts.planOnly) {
    const dataDir = opts.dataDirectory;
    const major = dataDirMajor(dataDir) as number;
    liveBin = await serverBinary(major, opts.pgBinDir);
    const id = (await controlData(liveBin, dataDir))['Database system identifier'];
    const accepted = [id, opts.config.pitr?.name].filter(Boolean);
    if (!accepted.includes(opts.confirm)) {
      throw new UserError(
        'confirm',
        `"${opts.confirm}" is neither the system identifier of ${dataDir} nor pitr.name from config`,
        `Read it with pg_controldata ${dataDir} (Database system identifier) and confirm that this is the cluster to roll back`,
      );
    }
  }

  if (opts.mode === 'side-by-side' && !opts.planOnly)
    checkCloneFolder('data-directory', opts.dataDirectory, osUser);
  let chosen: PlannedBackup | undefined;
  let coverage: Coverage | undefined;
  const plan = await pipe.stage('plan', async () => {
    let backups: PlannedBackup[];
    try {
      backups = await backend.list();
    } catch (e) {
      if (!(e instanceof FetchError)) throw e;
      return { findings: [finding('FETCH_FAILED', 'plan', e.message)] };
    }
    const pickResult = chooseBackup(backups, opts.target, opts.backup);
    if (pickResult.finding) return { findings: [pickResult.finding] };
    chosen = pickResult.backup as PlannedBackup;
    const findings: Finding[] = [];
    try {
      coverage = await backend.coverage(chosen, opts.target);
    } catch (e) {
      if (!(e instanceof FetchError)) throw e;
      return { findings: [finding('FETCH_FAILED', 'plan', e.message)] };
    }
    if (coverage) findings.push(...coverageFindings(coverage, opts.targetTimeline));
    const est = estimate(history, coverage?.segments);
    result.plan = {
      backup: chosen.id || '(base-backups itself)',
      ...(chosen.stopTime ? { backupEnded: chosen.stopTime.toISOString() } : {}),
      ...(coverage ? planCoverage(coverage) : {}),
      ...(est !== undefined ? { estimatedSeconds: est } : {}),
    };
    log.info(
      `plan: base backup ${result.plan.backup}${chosen.stopTime ? ` (ended ${chosen.stopTime.toISOString()})` : ''}, ${chosen.size ? formatBytes(chosen.size) : ''}; WAL ${coverage ? describeCoverage(coverage) : 'checked by pgBackRest'}; target ${result.target}`,
    );
    return { findings };
  });

  const blocked = plan.status !== 'ok' || !chosen;
  if (blocked || opts.planOnly) {
    const why = opts.planOnly
      ? 'plan-only'
      : `the plan did not pass (${plan.findings[0]?.rule ?? plan.reason ?? 'no backup'})`;
    for (const s of PITR_STAGES) pipe.skip(s, why);
    if (opts.mode === 'in-place' && !opts.planOnly)
      result.next.push('Nothing was changed: production runs as before.');
    return finish(result, pipe, opts);
  }
  try {
    await recoverStages(opts, backend, chosen as PlannedBackup, coverage, pipe, result, log, osUser, liveBin);
  } catch (e) {
    // In place, an error of ours must not leave production down: the journal says what to undo.
    const j = opts.mode === 'in-place' ? readJournal(opts.dataDirectory) : undefined;
    if (j && j.pid === process.pid && j.phase !== 'serving' && j.phase !== 'rolled-back')
      log.warn(`in place, after an error (${errorMessage(e)}): ${putBackSync(j, true).note}`);
    throw e;
  }
  return finish(result, pipe, opts);
}

function finish(result: PitrResult, pipe: Pipeline, opts: PitrOptions): PitrResult {
  pipe.settle(result);
  if (opts.history && !opts.planOnly) {
    appendHistory(opts.history, {
      at: result.startedAt,
      command: 'pitr',
      tier: opts.mode,
      verdict: result.verdict,
      backup: result.plan?.backup ?? '',
      ...(result.server ? { targetVersion: result.server } : {}),
      totalSeconds: result.totalSeconds,
      stages: Object.fromEntries(pipe.stages.map((s) => [s.name, Math.round(s.seconds * 100) / 100])),
      rows: result.plan?.walSegments !== undefined ? { walSegments: result.plan.walSegments } : {},
    });
  }
  return result;
}

/**
 * One progress line: the segment the server replays (as an LSN) against the target or the plan's
 * last segment, segments fetched, the rate and the time left at that rate.
 */
export function progressLine(
  s: SpoolStats,
  coverage: Coverage | undefined,
  target: PitrTarget,
  seconds: number,
): string {
  const segSize = coverage?.segSize ?? DEFAULT_SEGMENT_SIZE;
  const at = s.requested ? parseSegmentName(s.requested, segSize) : undefined;
  const last = coverage ? parseSegmentName(coverage.last, segSize) : undefined;
  const first = coverage ? parseSegmentName(coverage.first, segSize) : undefined;
  const end = target.kind === 'lsn' ? target.lsn : last ? (last.segno + 1n) * BigInt(segSize) : undefined;
  const replayed = at ? at.segno * BigInt(segSize) : undefined;
  const rate = s.bytes / Math.max(seconds, 0.001);
  let eta = '';
  if (rate > 0 && end !== undefined && replayed !== undefined && end > replayed)
    eta = `, about ${formatSeconds(Number(end - replayed) / rate)} left`;
  const total = first && last ? Number(last.segno - first.segno) + 1 : undefined;
  return `replayed to ${replayed !== undefined ? formatLsn(replayed) : '(starting)'} of ${end !== undefined ? formatLsn(end) : 'the end of the archive'}${target.kind === 'lsn' ? ' (target)' : ''}: ${s.fetched}${total ? `/${total}` : ''} segment(s) fetched, ${formatBytes(rate)}/s${eta}`;
}

/** The checks against the recovered server: pitr.checks, plus a marker's own two halves. */
function pitrChecks(opts: PitrOptions): PitrQuery[] {
  const queries: PitrQuery[] = (opts.config.pitr?.checks ?? []).map((c) => ({
    name: c.name,
    sql: c.sql,
    expect: c.expect,
    ...(c.asserts ? { asserts: c.asserts } : {}),
    ...(c.database ? { database: c.database } : {}),
  }));
  const t = opts.target;
  if (t.kind === 'name' && t.name.startsWith(MARKER_PREFIX)) {
    const q = (phase: string) =>
      `SELECT count(*) FROM restorable.pitr_marker WHERE name = '${t.name.replace(/'/g, "''")}' AND phase = '${phase}'`;
    queries.push(
      {
        name: 'marker row from before the restore point',
        sql: q('before'),
        expect: '== 1',
        asserts: 'before-target',
        marker: t.name,
      },
      {
        name: 'marker row from after the restore point',
        sql: q('after'),
        expect: '== 0',
        asserts: 'after-target',
        marker: t.name,
      },
    );
  }
  return queries;
}

async function recoverStages(
  opts: RecoverOptions,
  backend: PitrBackend,
  chosen: PlannedBackup,
  coverage: Coverage | undefined,
  pipe: Pipeline,
  result: PitrResult,
  log: Logger,
  osUser: string | undefined,
  liveBin: PgBinary | undefined,
): Promise<void> {
  const owner = ownerOf(osUser);
  const ts = stamp();
  // Where the backup is unpacked, and where the recovered server runs.
  let root: string | undefined;
  let dataDir: string;
  let socketDir: string | undefined;
  if (opts.mode === 'drill') {
    root = scratchFolder('pitr', osUser);
    dataDir = path.join(root, 'data');
    socketDir = path.join(root, 'socket');
  } else if (opts.mode === 'side-by-side') {
    dataDir = opts.dataDirectory;
    socketDir = `${dataDir}.restorable-socket`;
  } else {
    dataDir = `${opts.dataDirectory}.restorable-restore-${ts}`;
  }
  const spoolDir =
    opts.mode === 'drill'
      ? path.join(root as string, 'spool')
      : `${opts.dataDirectory}.restorable-spool-${ts}`;
  const cleanupScratch = async () => {
    if (root) {
      // Unlabelled, no server ever ran in it; one whose server would not stop is left, and said so.
      const removed = await removeCluster(root).catch((e: Error) => {
        log.warn(e.message);
        return true;
      });
      if (!removed) fs.rmSync(root, { recursive: true, force: true });
      ScratchCluster.abandon(root);
    }
  };

  // In place: the journal and the put-back on a signal, before anything is fetched.
  const ip =
    opts.mode === 'in-place'
      ? beginInPlace(opts, liveBin as PgBinary, osUser, { staging: dataDir, spool: spoolDir, ts }, log)
      : undefined;
  if (ip) await pausePoint('fetch');
  const { fetch, restored, bin } = await fetchStage(
    pipe,
    opts,
    backend,
    chosen,
    dataDir,
    spoolDir,
    owner,
    (b) => {
      if (root) labelFolder(root, b, osUser, 'pitr');
    },
  );
  if (fetch.status !== 'ok' || !restored || !bin) {
    restored?.spool?.remove();
    // Ours to remove: in place, the staging folder; side by side, what we put into the empty folder.
    if (opts.mode !== 'drill') fs.rmSync(dataDir, { recursive: true, force: true });
    if (ip) {
      putBackSync(ip.journal, true);
      ip.release();
    }
    await cleanupScratch();
    for (const s of [...PITR_STAGES.slice(1), ...(ip ? ['handover'] : [])])
      pipe.skip(s, `the base backup did not restore (${fetch.findings[0]?.rule ?? fetch.reason ?? ''})`);
    if (opts.mode === 'in-place') result.next.push('Nothing was changed: production runs as before.');
    return;
  }
  const server = bin as PgBinary;
  const rest = restored as NonNullable<typeof restored>;
  if (ip) {
    ip.journal.serverBin = server.dir;
    writeJournal(ip.journal);
  }
  result.server = server.version;

  // The settings of the recovered server: a clone never archives into production's archive.
  const port = opts.mode === 'in-place' ? undefined : (opts.port ?? (await freePort()));
  const privatePort = ip ? await freePort() : undefined;
  if (ip) preparePrivate(ip, owner);
  const settings: Record<string, string> = {
    ...rest.settings,
    ...(opts.backend === 'native' ? targetSettings(opts.target, opts.inclusive, opts.targetTimeline) : {}),
    archive_mode: 'off',
    hot_standby: 'on',
    primary_conninfo: '',
    timezone: 'UTC',
    log_timezone: 'UTC',
    ...(port !== undefined
      ? {
          port: String(port),
          listen_addresses: '127.0.0.1',
          unix_socket_directories: socketDir as string,
          logging_collector: 'off',
        }
      : {}),
    ...(opts.mode === 'drill' ? DRILL_RECOVERY_TUNING : {}),
  };
  // What outlives recovery: archive_mode off, and a clone's own port and socket (a plain pg_ctl start
  // must not take production's).
  const lasting = lastingSettings(opts.mode, settings);
  if (socketDir) {
    fs.mkdirSync(socketDir, { recursive: true, mode: 0o700 });
    if (owner) fs.chownSync(socketDir, owner.uid, owner.gid);
    // The socket folder is private to the server's OS user: trust there, the backup's rules elsewhere.
    const hba = path.join(dataDir, 'pg_hba.conf');
    const before = fs.existsSync(hba) ? fs.readFileSync(hba, 'utf8') : '';
    fs.writeFileSync(
      hba,
      `# Added by Restorable for the recovered copy: its socket folder is private (0700).\nlocal all all trust\n${opts.mode === 'drill' ? 'host all all 127.0.0.1/32 trust\n' : ''}${before}`,
    );
    if (owner) fs.chownSync(hba, owner.uid, owner.gid);
  }
  const placeholders = writeRecoveryConfig(dataDir, settings, owner);

  let outcome: RecoveryOutcome | undefined;
  const recover = await pipe.stage('recover', async () => {
    const findings: Finding[] = [];
    if (ip) {
      const notStopped = await stopProduction(ip);
      if (notStopped) {
        putBackSync(ip.journal, true);
        ip.release();
        result.next.push('Nothing was changed: production runs as before.');
        return { findings: [notStopped] };
      }
      // Production's last write is its shutdown checkpoint: what the rollback discards ends there.
      const cd = await controlData(liveBin as PgBinary, ip.journal.live);
      const at = Date.parse(cd['Time of latest checkpoint'] ?? '');
      result.discarded = {
        ...(Number.isFinite(at) ? { until: new Date(at).toISOString() } : {}),
        ...(cd['Latest checkpoint location'] ? { lsn: cd['Latest checkpoint location'] } : {}),
      };
    }
    if (ip) await pausePoint('replay');
    const spool = rest.spool;
    const target = opts.target;
    const t0 = Date.now();
    outcome = await runRecovery({
      dataDir,
      ...(ip ? { options: privateOptions(ip, privatePort as number) } : {}),
      bin: server,
      osUser,
      logFile:
        opts.mode === 'drill'
          ? path.join(root as string, 'server.log')
          : ownedLog(`${opts.dataDirectory}.restorable-recovery-${ts}.log`, owner),
      expectStopLine: target.kind !== 'immediate',
      onTick: () => {
        if (spool) log.info(progressLine(spool.stats, coverage, target, (Date.now() - t0) / 1000));
      },
    });
    spool?.remove();
    result.replaySeconds = outcome.seconds;
    if (spool)
      result.wal = { fetched: spool.stats.fetched, bytes: spool.stats.bytes, waits: spool.stats.waits };
    if (outcome.recoveredTo) result.recoveredTo = microsOrMs(outcome.lastCommit, outcome.recoveredTo);
    if (outcome.stopLine) result.stopLine = outcome.stopLine;
    if (outcome.status === 'promoted') {
      settleRecoveryConfig(dataDir, lasting);
      if (ip) {
        const history = markHistoryReady(dataDir, owner);
        if (history) result.history = history;
        // Debian's layout keeps its configuration in /etc: the empty files recovery needed go.
        if (ip.debian) for (const f of placeholders) fs.rmSync(f, { force: true });
        rehome(ip);
        writeJournal(ip.journal, 'promoted');
      }
      return { findings };
    }
    const why = outcome.reason ?? 'recovery did not finish';
    findings.push(
      outcome.status === 'unreached'
        ? finding(
            'PITR_TARGET_UNREACHED',
            'recover',
            `${why} (target ${result.target}); last replayed commit ${outcome.recoveredTo?.toISOString() ?? 'unknown'}`,
            {
              evidence: { recoveredTo: outcome.recoveredTo?.toISOString() ?? null },
            },
          )
        : finding('RECOVERY_FAILED', 'recover', `${why}. Server log:\n${outcome.logTail}`),
    );
    if (postmasterAlive(dataDir)) await stopServer(server, dataDir, osUser);
    if (ip) findings.push(rollBack(ip, why, result.next));
    return { findings };
  });

  if (recover.status !== 'ok' || outcome?.status !== 'promoted') {
    for (const s of PITR_STAGES.slice(2, 4)) pipe.skip(s, 'recovery did not reach the target');
    if (ip) pipe.skip('handover', 'recovery did not reach the target: production runs on its original data');
    await pipe.stage('teardown', async () => {
      await cleanupScratch();
      return {};
    });
    return;
  }

  // In place the checks run on the private recovery, before production is handed anything.
  const named =
    opts.mode === 'in-place' && opts.checkUrl
      ? parseDbUrl('check-url', opts.checkUrl, (s) => log.secret(s))
      : undefined;
  const conn: ConnInfo | undefined = ip
    ? privateConn(ip, privatePort as number, named)
    : { host: socketDir as string, port: port as number, user: 'postgres', database: 'postgres' };
  let adopted: ScratchCluster | undefined;
  if (root) adopted = ScratchCluster.adopt(root, port as number, server, osUser, settings);

  const proof = proveFromLog(opts.target, opts.inclusive, outcome);
  if (proof) result.proof = proof;
  const rpo = rpoSeconds(opts.target, proof);
  if (rpo !== undefined) result.rpoSeconds = rpo;
  if (ip && conn) await waitForConnections(conn);
  if (ip) await pausePoint('verify');
  await pipe.stage('checks', async () => {
    const queries = pitrChecks(opts);
    const findings: Finding[] = [];
    if (!conn) return { notRun: 'in-place without check-url: no connection to run the checks on' };
    const c = conn;
    if (queries.length) {
      const r = await runPitrChecks(c, queries);
      result.checks = r.results;
      findings.push(...r.findings.map((f) => ({ ...f, stage: 'checks' })));
    }
    const asserted = (which: string) => queries.some((q) => q.asserts === which);
    findings.push(...targetFindings(proof, asserted, result.target));
    return { findings };
  });

  if (conn) {
    const { summary, changes } = await pitrCompare(pipe, opts.compare, conn, log);
    if (summary) result.compare = summary;
    if (changes) result.changedSinceTarget = changes;
  } else pipe.skip('compare', 'in-place without check-url: no connection to compare on');

  if (ip) {
    await pipe.stage('handover', async () => {
      const unrun = pipe.stages.find((x) => x.name === 'checks' && x.status === 'not-run');
      if (unrun)
        return { findings: [rollBack(ip, `the checks could not run (${unrun.reason ?? ''})`, result.next)] };
      if (pipe.verdict() === 'fail') {
        const why = pipe.findings.find((f) => f.severity !== 'info')?.rule ?? 'a check failed';
        return {
          findings: [rollBack(ip, `the recovered copy did not pass its checks (${why})`, result.next)],
        };
      }
      const h = await handOver(ip, server, log, result.next);
      if (h.downtimeSeconds !== undefined) result.downtimeSeconds = Math.round(h.downtimeSeconds * 10) / 10;
      if (h.findings.length === 0) result.safetySnapshot = ip.journal.safety;
      return { findings: h.findings };
    });
    if (!result.safetySnapshot) {
      pipe.skip('teardown', 'in-place: production runs on its original data');
      return;
    }
  }

  if (opts.mode === 'drill' && opts.keep && adopted) {
    result.handle = adopted.detach();
    result.databaseUrl = adopted.url();
    pipe.skip(
      'teardown',
      `keep: the recovered cluster stays up (remove it with: restorable clean --root ${result.handle})`,
    );
  } else if (opts.mode === 'drill') {
    await pipe.stage('teardown', async () => {
      await adopted?.stop();
      await cleanupScratch();
      return {};
    });
  } else {
    if (opts.mode === 'side-by-side') {
      result.databaseUrl = maskedUrl(conn as ConnInfo);
      result.next.push(
        `The recovered copy runs on port ${port} (data ${dataDir}, socket ${socketDir}). Copy the rows you need back, then stop it: pg_ctl stop -D ${dataDir}`,
      );
    } else {
      result.next.push(
        `Production now runs on the recovered data. The previous data directory is kept at ${result.safetySnapshot} (never deleted by Restorable): remove it only when you are sure. To undo: ${rollbackCommands((ip as InPlace).journal).join('; ')}.`,
        'Take a fresh base backup now (seed 001 §2.5): the recovery started a new timeline, and older backups lead elsewhere.',
        `archive_mode is off in the recovered server (postgresql.auto.conf): once the new base backup is planned, ALTER SYSTEM RESET archive_mode and restart${result.history ? `; the new timeline's history file ${result.history} is marked ready, so the archiver sends it first` : ''}.`,
      );
    }
    pipe.skip('teardown', `${opts.mode}: the recovered server stays up`);
  }
}

/** Plant a marker on the live server: a row before and after a restore point, WAL switched so both reach the archive. */
export async function plantMarker(url: string, log: Logger): Promise<{ name: string; plantedAt: string }> {
  const conn = parseDbUrl('marker-url', url, (s) => log.secret(s));
  const name = `${MARKER_PREFIX}${stamp().toLowerCase()}-${Math.random().toString(36).slice(2, 6)}`;
  return withClient(conn, async (c) => {
    await c.query('CREATE SCHEMA IF NOT EXISTS restorable');
    await c.query(
      `CREATE TABLE IF NOT EXISTS restorable.pitr_marker (
         id bigserial PRIMARY KEY, name text NOT NULL, phase text NOT NULL,
         at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    );
    await c.query("INSERT INTO restorable.pitr_marker (name, phase) VALUES ($1, 'before')", [name]);
    const at = (await c.query<{ at: Date }>('SELECT clock_timestamp() AS at')).rows[0]?.at as Date;
    await c.query('SELECT pg_create_restore_point($1)', [name]);
    await c.query("INSERT INTO restorable.pitr_marker (name, phase) VALUES ($1, 'after')", [name]);
    // Close the segment so the restore point and the row after it reach the archive now.
    await c.query('SELECT pg_switch_wal()');
    log.info(`planted marker ${name}: recover to it with target-name: ${name}`);
    return { name, plantedAt: at.toISOString() };
  });
}

export function pitrOutputs(r: PitrResult, reportPath: string): Record<string, string> {
  return {
    verdict: r.verdict,
    'recovered-to': r.recoveredTo ?? '',
    'base-backup': r.plan?.backup ?? '',
    'wal-segments': r.plan?.walSegments !== undefined ? String(r.plan.walSegments) : '',
    'wal-range': r.plan?.walFirst ? `${r.plan.walFirst}..${r.plan.walLast}` : '',
    'rpo-seconds': r.rpoSeconds !== undefined ? String(r.rpoSeconds) : '',
    'replay-seconds': r.replaySeconds !== undefined ? r.replaySeconds.toFixed(1) : '',
    'total-seconds': r.totalSeconds.toFixed(1),
    'estimated-seconds': r.plan?.estimatedSeconds !== undefined ? String(r.plan.estimatedSeconds) : '',
    'database-url': r.databaseUrl ?? '',
    'safety-snapshot': r.safetySnapshot ?? '',
    'downtime-seconds': r.downtimeSeconds !== undefined ? r.downtimeSeconds.toFixed(1) : '',
    'discarded-until': r.discarded?.until ?? '',
    'target-name': '',
    findings: JSON.stringify(r.findings),
    report: reportPath,
  };
}
