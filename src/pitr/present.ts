import { formatSeconds } from '../core/duration.js';
import { describeCoverage } from './plan.js';
import type { PitrResult } from './result.js';

/** The facts that head a PITR summary: the plan (what an approver signs), the recovery, what is next. */
export function pitrFacts(r: PitrResult): [string, string][] {
  const rows: [string, string][] = [
    ['mode', r.mode],
    ['source', r.source],
    ['target', r.target],
  ];
  if (r.plan) {
    rows.push([
      'base backup',
      `${r.plan.backup}${r.plan.backupEnded ? ` (ended ${r.plan.backupEnded})` : ''}`,
    ]);
    if (r.plan.walFirst) rows.push(['WAL', describeCoverage(r.plan)]);
    if (r.plan.estimatedSeconds !== undefined)
      rows.push([
        'estimate',
        `about ${formatSeconds(r.plan.estimatedSeconds)} (from the last run in history)`,
      ]);
  }
  if (r.server) rows.push(['server', `PostgreSQL ${r.server}`]);
  if (r.replaySeconds !== undefined)
    rows.push([
      'recovery',
      `${formatSeconds(r.replaySeconds)}${r.wal ? `, ${r.wal.fetched} WAL segment(s) prefetched (replay waited for ${r.wal.waits})` : ''}${r.stopLine ? `; ${r.stopLine}` : ''}`,
    ]);
  if (r.recoveredTo) rows.push(['recovered to', `${r.recoveredTo} (last replayed commit)`]);
  if (r.proof)
    rows.push([
      'proof (server log)',
      `${r.proof.holds ? 'holds' : `CONTRADICTS the target: ${r.proof.why}`}: last replayed commit ${r.proof.lastCommit ?? '(none since the backup)'}, stopped at ${r.proof.stoppedAt ?? '(no time in the stop line)'}`,
    ]);
  if (r.rpoSeconds !== undefined)
    rows.push(['RPO achieved', `${r.rpoSeconds} s (target point minus the last replayed commit)`]);
  if (r.checks?.length)
    rows.push([
      'checks',
      r.checks
        .map((q) => `${q.name}: ${q.value ?? 'error'} (${q.expect})${q.ok ? '' : ' FAILED'}`)
        .join('; '),
    ]);
  if (r.databaseUrl) rows.push(['database', r.databaseUrl]);
  if (r.safetySnapshot) rows.push(['safety snapshot', r.safetySnapshot]);
  if (r.discarded?.until && r.safetySnapshot)
    rows.push([
      'discarded',
      `the writes after ${r.recoveredTo ?? r.target} up to production's stop at ${r.discarded.until}${r.discarded.lsn ? ` (shutdown checkpoint ${r.discarded.lsn})` : ''}; they stay in the safety snapshot`,
    ]);
  if (r.downtimeSeconds !== undefined)
    rows.push([
      'downtime',
      `${formatSeconds(r.downtimeSeconds)} (production stopped until it served the recovered data)`,
    ]);
  return rows;
}

/** What to do next, as a markdown list for the job summary (seed 001 §2.5). */
export function pitrNext(r: PitrResult): string {
  return r.next.length ? `### What to do next\n\n${r.next.map((n) => `- ${n}`).join('\n')}\n` : '';
}
