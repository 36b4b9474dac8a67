import type { TocEntry } from './custom.js';
import { type PlainTables, tableKey } from './plain.js';
import { ArchiveProblem } from './problem.js';

interface Table {
  schema: string;
  table: string;
}

/** How many tables a message names before it says how many more. */
const NAMED = 10;

/**
 * The tables the dump creates but holds no rows for: pg_dump writes a TABLE DATA entry (a COPY
 * block, in plain form) for every table whose data it dumped, an empty one too. A table counts as
 * dumped when it, or a partitioned table it is a partition of, has data. None at all is a
 * schema-only dump.
 */
export function dataNotDumped(
  created: Table[],
  withData: Set<string>,
  parents: Map<string, string> = new Map(),
): ArchiveProblem | undefined {
  const covered = (key: string): boolean => {
    const seen = new Set<string>();
    for (let at: string | undefined = key; at && !seen.has(at); at = parents.get(at)) {
      if (withData.has(at)) return true;
      seen.add(at);
    }
    return false;
  };
  const missing = created
    .map(tableKey)
    .filter((k) => !covered(k))
    .sort();
  if (missing.length === 0) return undefined;
  if (withData.size === 0) {
    return new ArchiveProblem(
      'DATA_NOT_DUMPED',
      `a schema-only dump (pg_dump -s): none of its ${missing.length} tables has its rows in it`,
      { schemaOnly: true, tables: missing.length },
    );
  }
  const named = missing.slice(0, NAMED).join(', ');
  const more = missing.length > NAMED ? ` and ${missing.length - NAMED} more` : '';
  return new ArchiveProblem(
    'DATA_NOT_DUMPED',
    `the data of ${missing.length} table${missing.length === 1 ? '' : 's'} was not dumped (--exclude-table-data?): ${named}${more}`,
    { schemaOnly: false, tables: missing.length, first: missing[0] ?? '' },
  );
}

/** A custom, directory or tar dump's tables without a TABLE DATA entry. */
export function tocDataNotDumped(toc: TocEntry[]): ArchiveProblem[] {
  const created = toc
    .filter((e) => e.desc === 'TABLE' && !e.partitioned)
    .map((e) => ({ schema: e.namespace ?? '', table: e.tag }));
  const withData = new Set(
    toc
      .filter((e) => e.desc === 'TABLE DATA')
      .map((e) => tableKey({ schema: e.namespace ?? '', table: e.tag })),
  );
  const p = dataNotDumped(created, withData);
  return p ? [p] : [];
}

/** A plain dump's tables with neither a COPY block nor INSERT statements. */
export function plainDataNotDumped(tables: PlainTables, copied: Table[]): ArchiveProblem[] {
  const withData = new Set([...copied.map(tableKey), ...tables.inserted]);
  const p = dataNotDumped(tables.created, withData, tables.parents);
  return p ? [p] : [];
}
