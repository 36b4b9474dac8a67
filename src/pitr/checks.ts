/**
 * The checks against a recovered server, each in the database it names: a check from config in its
 * `database` (default: the connection's), a planted marker's two halves in the database that holds
 * the marker (plant-marker writes it into marker-url's database, e.g. `app`).
 */
import type pg from 'pg';
import { runSmokeQueries, type SmokeQuery, type SmokeResult } from '../checks/semantics.js';
import { type ConnInfo, withClient } from '../postgres/client.js';
import type { Finding } from '../report/findings.js';

export interface PitrQuery extends SmokeQuery {
  asserts?: string;
  /** Run in this database. */
  database?: string;
  /** A marker's half: run in the database that holds this marker's table. */
  marker?: string;
}

/** The databases of the recovered server one may connect to. */
async function databases(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ d: string }>(
    'SELECT datname AS d FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname',
  );
  return r.rows.map((x) => x.d);
}

/**
 * The database holding restorable.pitr_marker with a row of this marker (either half); the
 * connection's own when none does (its checks then fail, as they should).
 */
export async function markerDatabase(conn: ConnInfo, name: string): Promise<string> {
  const all = await withClient(conn, databases);
  for (const d of all) {
    const found = await withClient({ ...conn, database: d }, async (c) => {
      const t = await c.query<{ t: string | null }>(
        "SELECT to_regclass('restorable.pitr_marker')::text AS t",
      );
      if (!t.rows[0]?.t) return false;
      const n = await c.query('SELECT 1 FROM restorable.pitr_marker WHERE name = $1 LIMIT 1', [name]);
      return (n.rowCount ?? 0) > 0;
    });
    if (found) return d;
  }
  return conn.database;
}

/** Run the checks, grouped by database; results in the order given. */
export async function runPitrChecks(
  conn: ConnInfo,
  queries: PitrQuery[],
): Promise<{ findings: Finding[]; results: SmokeResult[] }> {
  const marker = queries.find((q) => q.marker)?.marker;
  const markerDb = marker ? await markerDatabase(conn, marker) : undefined;
  const dbOf = (q: PitrQuery) => q.database ?? (q.marker ? markerDb : undefined) ?? conn.database;
  const findings: Finding[] = [];
  const byQuery = new Map<PitrQuery, SmokeResult>();
  for (const db of [...new Set(queries.map(dbOf))]) {
    const group = queries.filter((q) => dbOf(q) === db);
    const r = await withClient({ ...conn, database: db }, (c) => runSmokeQueries(c, group));
    findings.push(...r.findings);
    for (const [i, q] of group.entries()) byQuery.set(q, r.results[i] as SmokeResult);
  }
  return { findings, results: queries.map((q) => byQuery.get(q) as SmokeResult) };
}
