import type pg from 'pg';
import { type TableCount, tableName } from '../postgres/tables.js';
import { type Finding, finding } from '../report/findings.js';

/** Every table's ancestors (partitioned parents, inheritance parents), at every level. */
const ANCESTORS_SQL = `
  WITH RECURSIVE up(rel, anc) AS (
    SELECT inhrelid, inhparent FROM pg_inherits
    UNION SELECT up.rel, i.inhparent FROM up JOIN pg_inherits i ON i.inhrelid = up.anc)
  SELECT rn.nspname AS schema, r.relname AS name, an.nspname AS anc_schema, a.relname AS anc_name
    FROM up JOIN pg_class r ON r.oid = up.rel JOIN pg_namespace rn ON rn.oid = r.relnamespace
    JOIN pg_class a ON a.oid = up.anc JOIN pg_namespace an ON an.oid = a.relnamespace`;

/** Every table there is, counted or not (extension members and foreign tables are not counted). */
const RELATIONS_SQL = `
  SELECT n.nspname AS schema, c.relname AS name FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'f')`;

/**
 * What each counted table should hold: a table's count(*) takes in its partitions and inheritance
 * children, so the rows the dump holds for each table go to it and to every counted ancestor (with
 * --load-via-partition-root a partition's rows go through the root, and land in the same sum).
 * Tables with rows in the dump that are nowhere in the restored database come back as `absent`.
 */
async function expectedRows(
  c: pg.Client,
  dumped: Record<string, number>,
  counted: Set<string>,
): Promise<{ expected: Map<string, number>; absent: string[] }> {
  const ancestors = new Map<string, string[]>();
  for (const r of (await c.query<Record<string, string>>(ANCESTORS_SQL)).rows) {
    const t = tableName(r.schema as string, r.name as string);
    ancestors.set(t, [...(ancestors.get(t) ?? []), tableName(r.anc_schema as string, r.anc_name as string)]);
  }
  const existing = new Set(
    (await c.query<{ schema: string; name: string }>(RELATIONS_SQL)).rows.map((r) =>
      tableName(r.schema, r.name),
    ),
  );
  const expected = new Map<string, number>();
  const absent: string[] = [];
  for (const [table, rows] of Object.entries(dumped)) {
    const into = [table, ...(ancestors.get(table) ?? [])].filter((t) => counted.has(t));
    for (const t of into) expected.set(t, (expected.get(t) ?? 0) + rows);
    if (into.length === 0 && !existing.has(table) && rows > 0) absent.push(table);
  }
  return { expected, absent };
}

/**
 * The dump is its own reference: after a full restore, every table holds the rows the walk counted
 * in the dump, or the restore lost (or gained) rows; no config or history needed. `dumped` holds the
 * dump's rows by schema.table, `counts` the restored database's exact counts.
 */
export async function rowsLost(
  c: pg.Client,
  dumped: Record<string, number>,
  counts: TableCount[],
  stage: string,
): Promise<Finding[]> {
  const restored = new Map(counts.map((t) => [t.table, t.rows]));
  const { expected, absent } = await expectedRows(c, dumped, new Set(restored.keys()));
  const findings: Finding[] = [];
  for (const [table, rows] of expected) {
    const now = restored.get(table) ?? 0;
    if (now === rows) continue;
    findings.push(
      finding(
        'ROWS_LOST',
        stage,
        `table ${table} has ${now} rows after the restore, but the dump holds ${rows}${now < rows ? `: ${rows - now} lost` : ''}`,
        { evidence: { table, restored: now, dumped: rows } },
      ),
    );
  }
  for (const table of absent) {
    findings.push(
      finding(
        'ROWS_LOST',
        stage,
        `table ${table} has ${dumped[table]} rows in the dump and is not in the restored database`,
        { evidence: { table, restored: null, dumped: dumped[table] ?? 0 } },
      ),
    );
  }
  return findings;
}
