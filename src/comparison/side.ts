import { structureLines } from '../checks/structure.js';
import { type ConnInfo, withClient } from '../postgres/client.js';
import { exactCounts, filterTables, freshness, listTables, type TableStat } from '../postgres/tables.js';
import type { CompareOptions } from './options.js';

export type Mode = 'exact' | 'estimate';

/** One side of a comparison: its tables' rows (and how they were counted), structure, freshness. */
export interface Side {
  counts: Map<string, { rows: number; mode: Mode }>;
  structure?: string[];
  freshness?: Map<string, string | null>;
}

/** Decide per table: exact below the limit (or with no statistics), estimated above. */
export function modeFor(opts: CompareOptions, estimate: number): Mode {
  if (opts.mode === 'exact') return 'exact';
  if (opts.mode === 'estimate') return 'estimate';
  return estimate < 0 || estimate < opts.exactLimit ? 'exact' : 'estimate';
}

export async function readSide(
  conn: ConnInfo,
  opts: CompareOptions,
  modes: (t: TableStat) => Mode,
): Promise<Side> {
  const tables = filterTables(await withClient(conn, listTables), opts);
  const exact = tables.filter((t) => modes(t) === 'exact');
  const counted = await exactCounts(conn, exact, opts.jobs);
  const counts = new Map<string, { rows: number; mode: Mode }>();
  for (const t of tables) {
    const n = counted.get(t.table);
    counts.set(
      t.table,
      n !== undefined ? { rows: n, mode: 'exact' } : { rows: Math.max(0, t.estimate), mode: 'estimate' },
    );
  }
  const side: Side = { counts };
  if (opts.structure) side.structure = await withClient(conn, structureLines);
  if (opts.freshnessColumn) side.freshness = await freshness(conn, tables, opts.freshnessColumn);
  return side;
}
