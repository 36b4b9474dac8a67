/** What the plan says about the WAL: its findings and its words, from the coverage by segment names. */
import { type Finding, finding } from '../report/findings.js';
import type { Coverage, TargetTimeline } from './wal-archive.js';

export function coverageFindings(c: Coverage, timeline: TargetTimeline): Finding[] {
  if (c.unknownTimeline !== undefined)
    return [
      finding(
        'PITR_TIMELINE_UNKNOWN',
        'plan',
        `target-timeline ${timeline}: the archive has no ${c.unknownTimeline.toString(16).toUpperCase().padStart(8, '0')}.history that descends from the base backup's timeline`,
        { evidence: { timeline: c.unknownTimeline } },
      ),
    ];
  if (c.missing)
    return [
      finding(
        'WAL_GAP',
        'plan',
        `WAL segment ${c.missing} is missing from the archive (the chain from ${c.first} on timeline ${c.timeline ?? '?'} stops at ${c.last}, and recovery needs what follows)`,
        {
          evidence: { missing: c.missing, first: c.first, lastPresent: c.last, timeline: c.timeline ?? null },
        },
      ),
    ];
  if (c.endsBeforeTarget)
    return [
      finding(
        'PITR_TARGET_UNREACHED',
        'plan',
        `nothing was archived after the target time: every segment up to ${c.last} was written before it, so no commit after the target is in the WAL`,
        { evidence: { last: c.last } },
      ),
    ];
  return [];
}

export function planCoverage(c: Coverage): {
  walFirst: string;
  walLast: string;
  walSegments: number;
  timeline?: number;
  reachesTarget?: 'yes' | 'no' | 'cannot tell';
} {
  return {
    walFirst: c.first,
    walLast: c.last,
    walSegments: c.segments,
    ...(c.timeline !== undefined ? { timeline: c.timeline } : {}),
    ...(c.reachesTarget ? { reachesTarget: c.reachesTarget } : {}),
  };
}

/** One line: the chain, and what the names can and cannot tell. */
export function describeCoverage(
  c:
    | { walFirst?: string; walLast?: string; walSegments?: number; timeline?: number; reachesTarget?: string }
    | Coverage,
): string {
  const p = 'walFirst' in c ? c : planCoverage(c as Coverage);
  const reach =
    p.reachesTarget === 'cannot tell'
      ? 'whether it reaches the target: cannot tell before replay (segment names carry no times)'
      : p.reachesTarget === 'yes'
        ? 'reaches the target'
        : p.reachesTarget === 'no'
          ? 'does NOT reach the target'
          : '';
  return `${p.walFirst} … ${p.walLast} (${p.walSegments} segments${p.timeline !== undefined ? ` on timeline ${p.timeline}` : ''}, continuous by name from the backup start${reach ? `; ${reach}` : ''})`;
}
