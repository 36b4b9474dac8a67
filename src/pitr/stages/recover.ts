import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SEGMENT_SIZE, formatLsn, parseSegmentName } from '../../archive/wal.js';
import { formatBytes, formatSeconds } from '../../core/duration.js';
import type { PgBinary } from '../../postgres/binaries.js';
import { PgCtl, postmasterAlive } from '../../postgres/pgctl.js';
import {
  type RecoveryOutcome,
  runRecovery,
  settleRecoveryConfig,
  writeRecoveryConfig,
} from '../../postgres/recovery.js';
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
    fs.mkdirSync(socketDir, { recursive: true, mode: 0o700 });
    if (owner) fs.chownSync(socketDir, owner.uid, owner.gid);
    // The socket folder is private to the server's OS user: trust there, the backup's rules elsewhere.
    const hba = path.join(mode.dataDir, 'pg_hba.conf');
    const before = fs.existsSync(hba) ? fs.readFileSync(hba, 'utf8') : '';
    fs.writeFileSync(
      hba,
      `# Added by Restorable for the recovered copy: its socket folder is private (0700).\n${mode.hbaRules()}${before}`,
    );
    if (owner) fs.chownSync(hba, owner.uid, owner.gid);
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
    if (spool)
      ctx.pipe.progress(() => progressLine(spool.stats, coverage, opts.target, (Date.now() - t0) / 1000));
    const options = mode.recoveryOptions();
    const got = await runRecovery({
      dataDir: mode.dataDir,
      ...(options ? { options } : {}),
      bin: server,
      osUser: ctx.osUser,
      logFile: mode.logFile(),
      expectStopLine: opts.target.kind !== 'immediate',
    });
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
