import { DEFAULT_SEGMENT_SIZE, formatLsn, parseSegmentName } from '../../archive/wal.js';
import { formatBytes, formatSeconds } from '../../core/duration.js';
import { privateSocketDir, writeOwnHba } from '../../postgres/auth.js';
import type { PgBinary } from '../../postgres/binaries.js';
import { PgCtl, postmasterAlive } from '../../postgres/pgctl.js';
import {
  type RecoveryOutcome,
  runRecovery,
  settleRecoveryConfig,
  writeRecoveryConfig,
} from '../../postgres/recovery.js';
import { replayingSegment } from '../../postgres/replay-title.js';
import { type Finding, finding } from '../../report/findings.js';
import type { StageResult } from '../../report/stages.js';
import type { Restored } from '../backends.js';
import type { RecoveryMode, RunContext } from '../modes.js';
import type { PitrTarget } from '../options.js';
import { microsOrMs, pgMicros } from '../proof.js';
import type { SpoolStats } from '../spool.js';
import type { Coverage, TargetTimeline } from '../wal-archive.js';

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
    case 'xid':
      return { ...common, recovery_target_xid: String(t.xid) };
    case 'immediate':
      return {
        recovery_target_action: 'promote',
        recovery_target_timeline: String(timeline),
        recovery_target: 'immediate',
      };
  }
}

/** Where replay is in the plan's range: the segment replayed (as an LSN), the end, the range's segments. */
function replayPosition(at: string | undefined, coverage: Coverage | undefined, target: PitrTarget) {
  const segSize = coverage?.segSize ?? DEFAULT_SEGMENT_SIZE;
  const seg = at ? parseSegmentName(at, segSize) : undefined;
  const last = coverage ? parseSegmentName(coverage.last, segSize) : undefined;
  const first = coverage ? parseSegmentName(coverage.first, segSize) : undefined;
  const end = target.kind === 'lsn' ? target.lsn : last ? (last.segno + 1n) * BigInt(segSize) : undefined;
  const replayed = seg ? seg.segno * BigInt(segSize) : undefined;
  const total = first && last ? Number(last.segno - first.segno) + 1 : undefined;
  const index = first && seg ? Number(seg.segno - first.segno) + 1 : undefined;
  // A segment past the plan's last (the archive grew since the plan, or the server asks for the one
  // after its last) is not given a place in the range: its LSN says how far past it replay went.
  const inRange =
    index !== undefined && total !== undefined && index >= 1 && index <= total ? index : undefined;
  const ofEnd = `${end !== undefined ? formatLsn(end) : 'the end of the archive'}${target.kind === 'lsn' ? ' (target)' : ''}`;
  const head = `replayed to ${replayed !== undefined ? formatLsn(replayed) : '(starting)'} of ${ofEnd}`;
  /** The rate, and the time left at that rate. */
  const pace = (rate: number) => {
    const left =
      rate > 0 && end !== undefined && replayed !== undefined && end > replayed
        ? `, about ${formatSeconds(Number(end - replayed) / rate)} left`
        : '';
    return `${formatBytes(rate)}/s${left}`;
  };
  return {
    head,
    pace,
    total,
    index: inRange,
    replayed,
    start: first ? first.segno * BigInt(segSize) : undefined,
  };
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
  const p = replayPosition(s.requested, coverage, target);
  const rate = s.bytes / Math.max(seconds, 0.001);
  return `${p.head}: ${s.fetched}${p.total ? `/${p.total}` : ''} segment(s) fetched, ${p.pace(rate)}`;
}

/**
 * The progress line of a backend whose own tool is restore_command (pgBackRest, Barman, WAL-G):
 * the segment the server replays, from its startup process's title, as a place in the plan's
 * range; the rate is WAL replayed since the range's start.
 */
export function replayLine(
  at: string | undefined,
  coverage: Coverage | undefined,
  target: PitrTarget,
  seconds: number,
): string {
  const p = replayPosition(at, coverage, target);
  if (p.replayed === undefined) return p.head;
  const done = p.start !== undefined && p.replayed > p.start ? Number(p.replayed - p.start) : 0;
  const segment = p.index !== undefined ? `: segment ${p.index} of ${p.total} in the plan's range` : '';
  return `${p.head}${segment}, ${p.pace(done / Math.max(seconds, 0.001))}`;
}

/**
 * The segment the server replays, sampled from its startup process's title every 50 ms while
 * recovery runs (the progress line then reads it, never /proc itself); never going back.
 */
class ReplayWatch {
  at: string | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(dataDir: string) {
    this.timer = setInterval(() => {
      const seg = replayingSegment(dataDir);
      if (seg && (!this.at || seg > this.at)) this.at = seg;
    }, 50);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The recovered server, configured: what outlives recovery, and the files made for it. */
export interface Prepared {
  lasting: Record<string, string>;
  placeholders: string[];
}

/**
 * The settings of the recovered server (a clone never archives into production's archive), its
 * socket folder's rules, and the recovery configuration written into its data directory.
 */
export async function prepareServer(
  ctx: RunContext,
  mode: RecoveryMode,
  restored: Restored,
): Promise<Prepared> {
  const { opts, owner } = ctx;
  const settings: Record<string, string> = {
    ...restored.settings,
    ...(opts.backend !== 'pgbackrest'
      ? targetSettings(opts.target, opts.inclusive, opts.targetTimeline)
      : {}),
    archive_mode: 'off',
    hot_standby: 'on',
    // The progress line reads the segment replayed from the startup process's title.
    update_process_title: 'on',
    primary_conninfo: '',
    timezone: 'UTC',
    log_timezone: 'UTC',
    ...(await mode.serverSettings()),
  };
  // What outlives recovery: archive_mode off, and a clone's own port and socket (a plain pg_ctl start
  // must not take production's).
  const lasting = mode.settle(settings);
  const socketDir = mode.socketDir;
  if (socketDir) {
    privateSocketDir(socketDir, owner);
    // The backup's pg_hba.conf (production's, hostile here) is set aside: ours, whatever it said.
    writeOwnHba(mode.dataDir, owner);
  }
  return { lasting, placeholders: writeRecoveryConfig(mode.dataDir, settings, owner) };
}

/** The finding of a recovery that ended without promoting at its target. */
function notReached(ctx: RunContext, outcome: RecoveryOutcome, stats: SpoolStats | undefined): Finding {
  const why = outcome.reason ?? 'recovery did not finish';
  // A damaged segment the server asked for: replay stopped before it, whatever the server says.
  const damaged = stats?.corrupt.find((c) => stats.missing.includes(c.name));
  if (damaged)
    return finding(
      'WAL_CORRUPT',
      'recover',
      `WAL segment ${damaged.name} is damaged: ${damaged.why}; recovery stopped before it (${why}, target ${ctx.result.target})`,
      { evidence: { segment: damaged.name, recoveredTo: outcome.recoveredTo?.toISOString() ?? null } },
    );
  if (outcome.status !== 'unreached')
    return finding('RECOVERY_FAILED', 'recover', `${why}. Server log:\n${outcome.logTail}`);
  // The first segment the server asked for that the archive does not hold: where the WAL ends.
  const absent = stats?.missing.find((n) => /^[0-9A-F]{24}$/.test(n));
  return finding(
    'PITR_TARGET_UNREACHED',
    'recover',
    `${why} (target ${ctx.result.target}); last replayed commit ${outcome.recoveredTo?.toISOString() ?? 'unknown'}${absent ? `; the WAL archive has no ${absent}, the next segment recovery asked for` : ''}`,
    {
      evidence: {
        recoveredTo: outcome.recoveredTo?.toISOString() ?? null,
        ...(absent ? { missingSegment: absent } : {}),
      },
    },
  );
}

/**
 * The recover stage: production stopped first in place, then targeted archive recovery with WAL
 * from the spool, its progress (WAL replayed of the plan's range) for the progress line; the outcome says whether it promoted at the target.
 */
export async function recoverStage(
  ctx: RunContext,
  mode: RecoveryMode,
  server: PgBinary,
  restored: Restored,
  prepared: Prepared,
  coverage: Coverage | undefined,
): Promise<{ stage: StageResult; outcome?: RecoveryOutcome }> {
  const { opts, result } = ctx;
  let outcome: RecoveryOutcome | undefined;
  const stage = await ctx.pipe.stage('recover', async () => {
    const stopped = await mode.beforeReplay();
    if (stopped) return { findings: [stopped] };
    const spool = restored.spool;
    const t0 = Date.now();
    const seconds = () => (Date.now() - t0) / 1000;
    const watch = spool ? undefined : new ReplayWatch(mode.dataDir);
    ctx.pipe.progress(() =>
      spool
        ? progressLine(spool.stats, coverage, opts.target, seconds())
        : replayLine(watch?.at, coverage, opts.target, seconds()),
    );
    const options = mode.recoveryOptions();
    const got = await runRecovery({
      dataDir: mode.dataDir,
      ...(options ? { options } : {}),
      bin: server,
      osUser: ctx.osUser,
      logFile: mode.logFile(),
      expectStopLine: opts.target.kind !== 'immediate',
    }).finally(() => watch?.stop());
    outcome = got;
    await spool?.remove();
    restored.cleanup?.();
    result.replaySeconds = got.seconds;
    if (spool)
      result.wal = { fetched: spool.stats.fetched, bytes: spool.stats.bytes, waits: spool.stats.waits };
    if (got.recoveredTo) result.recoveredTo = microsOrMs(got.lastCommit, got.recoveredTo);
    if (got.stopLine) result.stopLine = got.stopLine;
    if (got.status === 'promoted') {
      await mode.promoting();
      settleRecoveryConfig(mode.dataDir, prepared.lasting);
      mode.promoted(prepared.placeholders);
      return { findings: [] };
    }
    const findings = [notReached(ctx, got, spool?.stats)];
    if (postmasterAlive(mode.dataDir)) await new PgCtl(server.dir, mode.dataDir, ctx.osUser).shutdown();
    findings.push(...mode.failed(got.reason ?? 'recovery did not finish'));
    return { findings };
  });
  return { stage, ...(outcome ? { outcome } : {}) };
}
