import type { ConnInfo } from '../postgres/client.js';
import { ident, withClient } from '../postgres/client.js';

export interface TableCount {
  table: string;
  rows: number;
}

/** The user tables of a database, `schema.table`, quoted where needed. */
export const USER_TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   ORDER BY 1, 2`;

export function tableName(schema: string, name: string): string {
  const q = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : ident(s));
  return `${q(schema)}.${q(name)}`;
}

/** Exact row counts of every user table, over `jobs` connections at once. */
export async function countRows(conn: ConnInfo, jobs: number): Promise<TableCount[]> {
  const tables = await withClient(
    conn,
    async (c) => (await c.query<{ schema: string; name: string }>(USER_TABLES_SQL)).rows,
  );
  const out: TableCount[] = [];
  let next = 0;
  const worker = () =>
    withClient(conn, async (c) => {
      for (let i = next++; i < tables.length; i = next++) {
        const t = tables[i] as { schema: string; name: string };
        const r = await c.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${ident(t.schema)}.${ident(t.name)}`,
        );
        out.push({ table: tableName(t.schema, t.name), rows: Number(r.rows[0]?.n ?? 0) });
      }
    });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tables.length)) }, worker));
  return out.sort((a, b) => (a.table < b.table ? -1 : 1));
}
