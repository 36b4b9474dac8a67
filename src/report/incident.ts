import { formatSeconds } from '../core/duration.js';
import type { Finding } from './findings.js';
import { sortFindings } from './render.js';

/**
 * The incident record of a point-in-time recovery, as seed 004 §10.2 asks for it: when it started,
 * why, the restore point, the data loss, the downtime, who signed off, and the metrics table
 * (detection, decision, restore, verification, total RTO, data loss, RPO met) against targets.
 * Times come from the workflow's jobs; the sign-off from the run's approvals.
 */
export interface IncidentApproval {
  state: string;
  user: string;
  comment: string;
  environments: string[];
}

export interface IncidentInput {
  database: string;
  mode: string;
  reason: string;
  requestedBy: string;
  runUrl: string;
  /** The recovery target as asked (a time, an LSN, a restore point's name, `immediate`). */
  target: string;
  /** When the damage happened, when known: the target time. */
  damageAt?: string;
  /** When the incident was detected (default: when the run was dispatched). */
  detectedAt?: string;
  dispatchedAt: string;
  planFinishedAt?: string;
  restoreStartedAt?: string;
  restoreFinishedAt?: string;
  verifyFinishedAt?: string;
  approvals: IncidentApproval[];
  restore: {
    verdict: string;
    recoveredTo?: string;
    baseBackup?: string;
    walSegments?: string;
    walRange?: string;
    replaySeconds?: number;
    totalSeconds?: number;
    estimatedSeconds?: number;
    safetySnapshot?: string;
  };
  verify: { verdict: string; detail?: string };
  findings: Finding[];
  targets: {
    detection: number;
    decision: number;
    restore: number;
    verification: number;
    rto: number;
    rpo: number;
  };
}

/** Seed 004's targets, in seconds: detection 5 min, decision 10, restore 20, verification 10, RTO 60, RPO 15. */
export const SEED_TARGETS: IncidentInput['targets'] = {
  detection: 300,
  decision: 600,
  restore: 1200,
  verification: 600,
  rto: 3600,
  rpo: 900,
};

const secondsBetween = (a?: string, b?: string): number | undefined => {
  if (!a || !b) return undefined;
  const d = (Date.parse(b) - Date.parse(a)) / 1000;
  return Number.isFinite(d) ? Math.max(0, d) : undefined;
};

const minutes = (s: number | undefined) => (s === undefined ? '—' : formatSeconds(s));

export interface IncidentMetric {
  metric: string;
  target: number;
  actual?: number;
  note?: string;
}

export function incidentMetrics(i: IncidentInput): IncidentMetric[] {
  const drill = i.mode === 'drill';
  const detected = i.detectedAt ?? i.dispatchedAt;
  const restore = i.restore.totalSeconds ?? secondsBetween(i.restoreStartedAt, i.restoreFinishedAt);
  const lossEnd = i.restoreStartedAt ?? detected;
  const dataLoss = drill ? undefined : secondsBetween(i.restore.recoveredTo, lossEnd);
  return [
    {
      metric: 'Detection',
      target: i.targets.detection,
      ...(drill ? { note: 'a drill' } : {}),
      ...(!drill && secondsBetween(i.damageAt, detected) !== undefined
        ? { actual: secondsBetween(i.damageAt, detected) as number }
        : {}),
      ...(!drill && !i.damageAt ? { note: 'the target is not a time' } : {}),
    },
    {
      metric: 'Decision (approval wait)',
      target: i.targets.decision,
      // From the plan's last step to the restore job's first: the approval wait, plus any wait in
      // the queue for a runner (both before and after the approval).
      ...(secondsBetween(i.planFinishedAt, i.restoreStartedAt) !== undefined
        ? {
            actual: secondsBetween(i.planFinishedAt, i.restoreStartedAt) as number,
            note: 'plan done to restore started, runner queue included',
          }
        : { note: 'the restore did not start' }),
    },
    {
      metric: 'Restore',
      target: i.targets.restore,
      ...(restore !== undefined ? { actual: restore } : { note: 'no restore' }),
      ...(i.restore.replaySeconds !== undefined
        ? { note: `WAL replay ${formatSeconds(i.restore.replaySeconds)}` }
        : {}),
    },
    {
      metric: 'Verification',
      target: i.targets.verification,
      ...(secondsBetween(i.restoreFinishedAt, i.verifyFinishedAt) !== undefined
        ? { actual: secondsBetween(i.restoreFinishedAt, i.verifyFinishedAt) as number }
        : { note: 'not verified' }),
    },
    {
      metric: 'Total RTO',
      target: i.targets.rto,
      ...(i.verifyFinishedAt && !drill
        ? { actual: secondsBetween(i.damageAt ?? detected, i.verifyFinishedAt) as number }
        : {}),
      note: drill
        ? 'a drill: from dispatch'
        : i.damageAt
          ? 'from the damage to verified'
          : 'from detection to verified',
      ...(drill && i.verifyFinishedAt
        ? { actual: secondsBetween(i.dispatchedAt, i.verifyFinishedAt) as number }
        : {}),
    },
    {
      metric: 'Data loss window',
      target: i.targets.rpo,
      ...(dataLoss !== undefined ? { actual: dataLoss } : {}),
      note: drill
        ? 'a drill: nothing replaced'
        : i.restore.recoveredTo
          ? `writes after ${i.restore.recoveredTo} up to the restore`
          : 'not recovered',
    },
  ];
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function incidentTitle(i: IncidentInput): string {
  const verdict = i.restore.verdict === 'pass' && i.verify.verdict === 'pass' ? 'restored' : 'restore FAILED';
  return `Incident record: ${i.database} ${i.mode} to ${i.target}: ${verdict}${i.reason ? ` (${i.reason})` : ''}`;
}

export function incidentRecord(i: IncidentInput): string {
  const metrics = incidentMetrics(i);
  const approved = i.approvals.filter((a) => a.state === 'approved');
  const signOff = approved.length
    ? approved
        .map(
          (a) =>
            `@${a.user}${a.environments.length ? ` (${a.environments.join(', ')})` : ''}${a.comment ? `: "${a.comment}"` : ''}`,
        )
        .join('; ')
    : i.approvals.length
      ? `not approved: ${i.approvals.map((a) => `@${a.user} ${a.state}`).join('; ')}`
      : 'no approval recorded (the environment has no required reviewers?)';
  const rpo = metrics.find((m) => m.metric === 'Data loss window');
  const rpoMet = rpo?.actual === undefined ? '—' : rpo.actual <= i.targets.rpo ? 'Yes' : 'No';
  const out: string[] = [
    `## ${incidentTitle(i)}`,
    '',
    '| | |',
    '|---|---|',
    `| database | ${cell(i.database)} |`,
    `| mode | ${cell(i.mode)} |`,
    `| reason (ticket) | ${cell(i.reason || '—')} |`,
    `| requested by | @${cell(i.requestedBy)} at ${i.dispatchedAt} |`,
    `| signed off by | ${cell(signOff)} |`,
    `| incident detected | ${i.detectedAt ?? `${i.dispatchedAt} (when the run was dispatched)`} |`,
    `| recovery target | ${cell(i.target)} |`,
    `| recovered to | ${cell(i.restore.recoveredTo ?? '—')} |`,
    `| base backup | ${cell(i.restore.baseBackup ?? '—')} |`,
    `| WAL | ${cell([i.restore.walSegments && `${i.restore.walSegments} segments`, i.restore.walRange].filter(Boolean).join(', ') || '—')} |`,
    `| estimated / took | ${minutes(i.restore.estimatedSeconds)} / ${minutes(i.restore.totalSeconds)} |`,
    `| safety snapshot | ${cell(i.restore.safetySnapshot || '—')} |`,
    `| restore verdict | ${i.restore.verdict} |`,
    `| verification | ${i.verify.verdict}${i.verify.detail ? `: ${cell(i.verify.detail)}` : ''} |`,
    `| run | ${i.runUrl} |`,
    '',
    '### Metrics',
    '',
    '| metric | target | actual | status |',
    '|---|---|---|---|',
    ...metrics.map(
      (m) =>
        `| ${m.metric} | ${formatSeconds(m.target)} | ${minutes(m.actual)}${m.note ? ` (${cell(m.note)})` : ''} | ${m.actual === undefined ? '—' : m.actual <= m.target ? '✅' : '❌ over'} |`,
    ),
    `| RPO met | Yes | ${rpoMet} | ${rpoMet === '—' ? '—' : rpoMet === 'Yes' ? '✅' : '❌'} |`,
    '',
  ];
  if (i.findings.length) {
    out.push('### Findings', '', '| severity | rule | what | fix |', '|---|---|---|---|');
    for (const f of sortFindings(i.findings)) {
      out.push(`| ${f.severity} | \`${f.rule}\` | ${cell(f.message)} | ${cell(f.fix ?? '')} |`);
    }
    out.push('');
  }
  out.push(
    '### Post-incident review (within 48 hours)',
    '',
    '- Root cause:',
    '- Did we meet the RTO and RPO targets? (the table above)',
    '- What went well, what could be improved:',
    '- Runbook or monitoring changes:',
    '',
  );
  return out.join('\n');
}
