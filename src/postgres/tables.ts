import type pg from 'pg';
import { globMatcher } from '../core/glob.js';
import { type ConnInfo, ident, withClient } from './client.js';

/** `schema.table`, each part quoted only where it needs to be. */
export function tableName(schema: string, name: string): string {
  const q = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : ident(s));
  return `${q(schema)}.${q(name)}`;
}

export interface TableCount {
  table: string;
  rows: number;
}

/**
 * Exact row counts of every user table, over `jobs` connections at once; those `known` already
 * (counted as the restore ran) are taken from it, the rest counted.
 */
export async function countRows(
  conn: ConnInfo,
  jobs: number,
  known: ReadonlyMap<string, number> = new Map(),
): Promise<TableCount[]> {
  const tables = await withClient(conn, listTables);
  const counts = await exactCounts(
    conn,
    tables.filter((t) => !known.has(t.table)),
    jobs,
  );
  return tables.map((t) => ({ table: t.table, rows: known.get(t.table) ?? counts.get(t.table) ?? 0 }));
}

/**
 * Exact row counts of those of `names` (`schema.table`) that are partitions: countRows counts a
 * partitioned table whole, at its root, so a partition named on its own is counted here.
 */
export async function partitionCounts(conn: ConnInfo, names: string[]): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const parts = await withClient(conn, async (c) =>
    (
      await c.query<{ schema: string; name: string }>(
        `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relispartition AND c.relkind IN ('r', 'p')`,
      )
    ).rows
      .map((r) => ({ table: tableName(r.schema, r.name), ...r }))
      .filter((r) => names.includes(r.table)),
  );
  return exactCounts(conn, parts, 1);
}

export interface TableStat {
  /** `schema.table`, quoted only where needed. */
  table: string;
  schema: string;
  name: string;
  /** Catalog statistics: reltuples, else the stats collector's live tuples; -1 when never analyzed. */
  estimate: number;
}

/** Every user table with its estimated rows, in one round trip. */
const TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name,
         CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint ELSE coalesce(s.n_live_tup, -1) END AS estimate
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   ORDER BY 1, 2`;

export async function listTables(c: pg.Client): Promise<TableStat[]> {
  const rows = (await c.query<{ schema: string; name: string; estimate: string }>(TABLES_SQL)).rows;
  return rows.map((r) => ({
    table: tableName(r.schema, r.name),
    schema: r.schema,
    name: r.name,
    estimate: Number(r.estimate),
  }));
}

export interface TableFilter {
  schemas?: string[];
  include?: string[];
  exclude?: string[];
}

/** Globs match `schema.table` as written unquoted (`public.orders`, `audit.*`). */
export function filterTables<T extends { schema: string; name: string }>(tables: T[], f: TableFilter): T[] {
  const inc = (f.include ?? []).map((g) => globMatcher(g, 'include'));
  const exc = (f.exclude ?? []).map((g) => globMatcher(g, 'exclude'));
  return tables.filter((t) => {
    const key = `${t.schema}.${t.name}`;
    if (f.schemas?.length && !f.schemas.includes(t.schema)) return false;
    if (inc.length && !inc.some((m) => m(key))) return false;
    return !exc.some((m) => m(key));
  });
}

/** count(*) of the given tables over `jobs` connections; every identifier is quoted. */
export async function exactCounts(
  conn: ConnInfo,
  tables: { table: string; schema: string; name: string }[],
  jobs: number,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (tables.length === 0) return out;
  let next = 0;
  const worker = () =>
    withClient(conn, async (c) => {
      for (let i = next++; i < tables.length; i = next++) {
        const t = tables[i] as { table: string; schema: string; name: string };
        const r = await c.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${ident(t.schema)}.${ident(t.name)}`,
        );
        out.set(t.table, Number(r.rows[0]?.n ?? 0));
      }
    });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tables.length)) }, worker));
  return out;
}

/** max(column) of every listed table that has the column, as text. */
export async function freshness(
  conn: ConnInfo,
  tables: { table: string; schema: string; name: string }[],
  column: string,
): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  await withClient(conn, async (c) => {
    const having = new Set(
      (
        await c.query<{ schema: string; name: string }>(
          `SELECT n.nspname AS schema, c.relname AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.attname = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
          [column],
        )
      ).rows.map((r) => `${r.schema}\u0000${r.name}`),
    );
    for (const t of tables) {
      if (!having.has(`${t.schema}\u0000${t.name}`)) continue;
      const r = await c.query<{ m: string | null }>(
        `SELECT max(${ident(column)})::text AS m FROM ${ident(t.schema)}.${ident(t.name)}`,
      );
      out.set(t.table, r.rows[0]?.m ?? null);
    }
  });
  return out;
}
