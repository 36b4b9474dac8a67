import { formatLsn } from '../../archive/wal.js';
import { formatBytes } from '../../core/duration.js';
import { UserError } from '../../core/errors.js';
import { type Finding, finding } from '../../report/findings.js';
import type { HistoryEntry } from '../../report/history.js';
import type { StageResult } from '../../report/stages.js';
import { FetchError } from '../../sources/s3.js';
import type { PitrBackend, PlannedBackup } from '../backends.js';
import type { RunBase } from '../modes.js';
import type { PitrOptions, PitrTarget } from '../options.js';
import { coverageFindings, describeCoverage, planCoverage } from '../plan.js';
import { isoMicros } from '../proof.js';
import type { Coverage } from '../wal-archive.js';

export function describeTarget(t: PitrTarget, inclusive: boolean): string {
  const incl = inclusive ? '' : ' (exclusive)';
  switch (t.kind) {
    case 'time':
      return `time ${isoMicros(t.micros)}${incl}`;
    case 'lsn':
      return `LSN ${formatLsn(t.lsn)}${incl}`;
    case 'name':
      return `restore point "${t.name}"`;
    case 'xid':
      return `transaction ${t.xid}${t.epoch ? ` (${t.text}: epoch ${t.epoch}, dropped as PostgreSQL does)` : ''}${incl}`;
    case 'immediate':
      return 'immediate (end of the base backup)';
  }
}

/** The newest backup that ended before the target (or the one asked for). */
export function chooseBackup(
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
    // `latest`: the newest, as Barman and pgBackRest name it.
    const b =
      wanted === 'latest' && !backups.some((x) => x.id === 'latest')
        ? backups[backups.length - 1]
        : backups.find((x) => x.id === wanted);
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

/** What the plan chose: the base backup, and the WAL's coverage of the target (none for pgBackRest). */
export interface Planned {
  stage: StageResult;
  chosen?: PlannedBackup;
  coverage?: Coverage;
}

/**
 * The plan stage, before anything changes: the base backup for the target, and whether the WAL
 * archive holds what recovery needs on the timeline it follows.
 */
export async function planStage(
  ctx: RunBase<PitrOptions>,
  backend: PitrBackend,
  history: HistoryEntry[],
): Promise<Planned> {
  const { opts, result, log } = ctx;
  const planned: Omit<Planned, 'stage'> = {};
  const unreadable = (e: unknown) => {
    if (!(e instanceof FetchError)) throw e;
    return { findings: [finding('FETCH_FAILED', 'plan', e.message)] };
  };
  const stage = await ctx.pipe.stage('plan', async () => {
    let backups: PlannedBackup[];
    try {
      backups = await backend.list();
    } catch (e) {
      return unreadable(e);
    }
    const pickResult = chooseBackup(backups, opts.target, opts.backup);
    if (pickResult.finding) return { findings: [pickResult.finding] };
    const chosen = pickResult.backup as PlannedBackup;
    let coverage: Coverage | undefined;
    try {
      coverage = await backend.coverage(chosen, opts.target);
    } catch (e) {
      return unreadable(e);
    }
    Object.assign(planned, { chosen }, coverage ? { coverage } : {});
    const est = estimate(history, coverage?.segments);
    result.plan = {
      backup: chosen.id || '(base-backups itself)',
      ...(chosen.stopTime ? { backupEnded: chosen.stopTime.toISOString() } : {}),
      ...(coverage ? planCoverage(coverage) : {}),
      ...(est !== undefined ? { estimatedSeconds: est } : {}),
    };
    log.info(
      `plan: base backup ${result.plan.backup}${chosen.stopTime ? ` (ended ${chosen.stopTime.toISOString()})` : ''}, ${chosen.size ? formatBytes(chosen.size) : ''}; WAL ${coverage ? describeCoverage(coverage) : `checked by ${opts.backend}`}; target ${result.target}`,
    );
    const own = backend.planFindings ? await backend.planFindings() : [];
    return { findings: [...(coverage ? coverageFindings(coverage, opts.targetTimeline) : []), ...own] };
  });
  return { stage, ...planned };
}
