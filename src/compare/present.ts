import type { CompareResult } from '../comparison/context.js';

export function compareFacts(r: CompareResult): [string, string][] {
  const rows: [string, string][] = [
    ['source', r.source],
    ['target', r.target || '(none)'],
    ['compared', `${r.compared} tables, ${r.drifted} drifted, ${r.missing} missing`],
  ];
  if (r.baselineWritten) rows.push(['baseline written', r.baselineWritten]);
  return rows;
}

/** The comparison as markdown, drifted rows first. */
export function compareTable(r: CompareResult): string {
  const fresh = r.rows.some((x) => x.sourceMax !== undefined || x.targetMax !== undefined);
  const head = [
    'table',
    'source',
    'target',
    'difference',
    'mode',
    ...(fresh ? ['source max', 'target max'] : []),
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const x of r.rows) {
    const cells = [
      `${x.drifted ? '**' : ''}${x.table}${x.drifted ? '**' : ''}`,
      x.source ?? '—',
      x.target ?? 'missing',
      x.difference === null ? '' : `${x.difference > 0 ? '+' : ''}${x.difference}`,
      x.mode,
      ...(fresh ? [x.sourceMax ?? '', x.targetMax ?? ''] : []),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function compareOutputs(r: CompareResult, reportPath: string): Record<string, string> {
  return {
    verdict: r.verdict,
    compared: String(r.compared),
    drifted: String(r.drifted),
    missing: String(r.missing),
    table: compareTable(r),
    findings: JSON.stringify(r.findings),
    report: reportPath,
  };
}
