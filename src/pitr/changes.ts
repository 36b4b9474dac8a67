/**
 * The compare stage of a PITR: counts of the recovered copy against compare-source-url (in the
 * database that URL names) or a baseline. Against the live server the differences are the point of
 * a recovery to the past: they are reported as what changed since the target, per table, with both
 * counts (PITR_CHANGED_SINCE_TARGET, info), not as a failed backup.
 */
import type { CompareOptions } from '../comparison/options.js';
import { type CompareSummary, runCompare } from '../comparison/run.js';
import type { Logger } from '../core/log.js';
import type { ConnInfo } from '../postgres/client.js';
import { type Finding, finding } from '../report/findings.js';
import type { Pipeline } from '../report/stages.js';

/** One table that changed between the target and now. */
export interface TableChange {
  table: string;
  /** Rows in the recovered copy (null: the table did not exist at the target). */
  atTarget: number | null;
  /** Rows in production now (null: dropped since). */
  now: number | null;
}

const COUNT_RULES = new Set(['COUNT_DRIFT', 'TABLE_MISSING', 'TABLE_UNEXPECTED']);

function asChange(f: Finding): { change: TableChange; finding: Finding } {
  const e = f.evidence ?? {};
  const change: TableChange = {
    table: String(e.table),
    atTarget: typeof e.target === 'number' ? e.target : null,
    now: typeof e.source === 'number' ? e.source : null,
  };
  const says =
    change.atTarget === null
      ? `created since the target (${change.now} rows now)`
      : change.now === null
        ? `dropped since the target (${change.atTarget} rows at the target)`
        : `${change.atTarget} rows at the target, ${change.now} in production now (${change.now - change.atTarget >= 0 ? '+' : ''}${change.now - change.atTarget})`;
  return {
    change,
    finding: finding('PITR_CHANGED_SINCE_TARGET', 'compare', `table ${change.table}: ${says}`, {
      evidence: { table: change.table, atTarget: change.atTarget, now: change.now },
    }),
  };
}

/** Run the compare stage; returns its summary and, against a live source, the tables that changed. */
export async function pitrCompare(
  pipe: Pipeline,
  opts: CompareOptions | undefined,
  conn: ConnInfo,
  log: Logger,
): Promise<{ summary?: CompareSummary; changes?: TableChange[] }> {
  if (!opts) {
    pipe.skip('compare', 'no compare-source-url or compare-baseline');
    return {};
  }
  const out: { summary?: CompareSummary; changes?: TableChange[] } = {};
  const live = opts.source !== undefined && !opts.baseline;
  // The recovered copy's database of the same name as the source's.
  const target = { ...conn, database: opts.source?.database ?? conn.database };
  await pipe.stage('compare', async () => {
    const r = await runCompare({ ...opts, target }, log);
    out.summary = { compared: r.compared, drifted: r.drifted, missing: r.missing, source: r.source };
    const notRun = r.stages.find((s) => s.status === 'not-run');
    const findings: Finding[] = [];
    for (const f of r.findings) {
      if (live && COUNT_RULES.has(f.rule)) {
        const c = asChange(f);
        out.changes ??= [];
        out.changes.push(c.change);
        findings.push(c.finding);
      } else findings.push({ ...f, stage: 'compare' });
    }
    return { findings, ...(notRun?.reason ? { notRun: notRun.reason } : {}) };
  });
  return out;
}
