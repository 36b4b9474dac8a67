import type { CompareResult } from './run.js';

export function compareFacts(r: CompareResult): [string, string][] {
  const rows: [string, string][] = [
    ['source', r.source],
    ['target', r.target || '(none)'],
    ['compared', `${r.compared} tables, ${r.drifted} drifted, ${r.missing} missing`],
  ];
  if (r.baselineWritten) rows.push(['baseline written', r.baselineWritten]);
  return rows;
}
