import type { Tolerance } from '../../config/restorable.js';
import { type Finding, finding } from '../../report/findings.js';
import type { CompareContext, CompareRow } from '../context.js';
import type { Mode, Side } from '../side.js';

function allowed(t: Tolerance, source: number): number {
  return t.kind === 'percent' ? (source * t.value) / 100 : t.value;
}

/**
 * The counts stage: every table of either side, a row each, drifted beyond its tolerance (in the
 * direction asked), missing from the target, or not in the source; drifted rows sort first.
 */
export async function countsStage(ctx: CompareContext, src: Side, tgt: Side): Promise<void> {
  const { result } = ctx;
  await ctx.pipe.stage('counts', async () => {
    const findings: Finding[] = [];
    const names = [...new Set([...src.counts.keys(), ...tgt.counts.keys()])].sort();
    const estimated: string[] = [];
    for (const table of names) {
      const row = compareTableRow(ctx, table, src, tgt, findings);
      if (row.mode === 'estimate') estimated.push(table);
      result.rows.push(row);
    }
    result.compared = result.rows.filter((r) => r.source !== null && r.target !== null).length;
    result.rows.sort(
      (a, b) =>
        Number(b.drifted) - Number(a.drifted) ||
        Number(b.target === null) - Number(a.target === null) ||
        (a.table < b.table ? -1 : 1),
    );
    if (estimated.length) {
      findings.push(
        finding(
          'COUNT_ESTIMATED',
          'counts',
          `${estimated.length} table(s) compared by catalog statistics, not count(*): ${estimated.slice(0, 5).join(', ')}${estimated.length > 5 ? ', ...' : ''}`,
          { evidence: { tables: estimated.length } },
        ),
      );
    }
    return { findings };
  });
}

/** One table's row, its finding (if any) pushed to `findings`. */
function compareTableRow(
  ctx: CompareContext,
  table: string,
  src: Side,
  tgt: Side,
  findings: Finding[],
): CompareRow {
  const { opts, result } = ctx;
  const s = src.counts.get(table);
  const t = tgt.counts.get(table);
  const mode: Mode = s?.mode === 'estimate' || t?.mode === 'estimate' ? 'estimate' : 'exact';
  const row: CompareRow = {
    table,
    source: s?.rows ?? null,
    target: t?.rows ?? null,
    difference: s && t ? t.rows - s.rows : null,
    mode,
    drifted: false,
    ...(src.freshness?.has(table) ? { sourceMax: src.freshness.get(table) ?? null } : {}),
    ...(tgt.freshness?.has(table) ? { targetMax: tgt.freshness.get(table) ?? null } : {}),
  };
  if (s && !t) {
    findings.push(
      finding(
        'TABLE_MISSING',
        'counts',
        `table ${table} (${s.rows} rows in the source) is not in the target`,
        {
          evidence: { table, source: s.rows },
        },
      ),
    );
    result.missing++;
  } else if (!s && t) {
    findings.push(
      finding('TABLE_UNEXPECTED', 'counts', `table ${table} is in the target but not in the source`, {
        evidence: { table, target: t.rows },
      }),
    );
  } else if (s && t) {
    const tol = opts.config.compare?.tables?.[table]?.tolerance ?? opts.tolerance;
    const limit = allowed(tol, s.rows);
    const diff = t.rows - s.rows;
    const drift = opts.direction === 'drop' ? -diff > limit : Math.abs(diff) > limit;
    if (drift) {
      row.drifted = true;
      result.drifted++;
      findings.push(
        finding(
          'COUNT_DRIFT',
          'counts',
          `table ${table}: ${t.rows} rows in the target, ${s.rows} in the source (${diff > 0 ? '+' : ''}${diff}, ${mode})`,
          { evidence: { table, source: s.rows, target: t.rows, difference: diff, mode } },
        ),
      );
    }
  }
  return row;
}
