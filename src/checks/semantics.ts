import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { type Expectation, meets, parseExpectation } from '../config/restorable.js';
import { ident } from '../postgres/client.js';
import { type Finding, finding } from '../report/findings.js';

export interface SmokeQuery {
  name: string;
  sql: string;
  expect: string;
}

export interface SmokeResult {
  name: string;
  value: number | null;
  expect: string;
  ok: boolean;
}

function describe(e: Expectation): string {
  return e.op === 'between' ? `between ${e.lo} and ${e.hi}` : `${e.op} ${e.value}`;
}

/**
 * A role that may read everything and do nothing else, for smoke queries on a superuser's
 * connection: none of a superuser's powers (COPY ... TO PROGRAM, reading server files) reach a
 * query from config. Dropped again by the returned function.
 */
async function readerRole(c: pg.Client): Promise<{ role: string; drop: () => Promise<void> } | undefined> {
  const me = await c.query<{ s: boolean; v: number }>(
    "SELECT current_setting('is_superuser') = 'on' AS s, current_setting('server_version_num')::int AS v",
  );
  if (!me.rows[0]?.s) return undefined;
  const role = `restorable_smoke_${randomBytes(4).toString('hex')}`;
  await c.query(`CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
  if ((me.rows[0]?.v ?? 0) >= 140000) await c.query(`GRANT pg_read_all_data TO ${role}`);
  else {
    const schemas = await c.query<{ n: string }>(
      "SELECT nspname AS n FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'",
    );
    for (const { n } of schemas.rows) {
      await c.query(`GRANT USAGE ON SCHEMA ${ident(n)} TO ${role}`);
      await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${ident(n)} TO ${role}`);
    }
  }
  return {
    role,
    drop: async () => {
      await c.query('ROLLBACK').catch(() => {});
      await c.query(`DROP OWNED BY ${role}`);
      await c.query(`DROP ROLE ${role}`);
    },
  };
}

/**
 * Run smoke queries that return one number each, with a time limit: each alone (the extended
 * protocol takes one statement, so `select 1; commit; ...` cannot leave the transaction), in a
 * read-only transaction, as a role without a superuser's powers. Results are numbers, never rows:
 * a query that returns anything else fails.
 */
export async function runSmokeQueries(
  c: pg.Client,
  queries: SmokeQuery[],
): Promise<{ findings: Finding[]; results: SmokeResult[] }> {
  const reader = queries.length > 0 ? await readerRole(c) : undefined;
  try {
    return await smoke(c, queries, reader?.role);
  } finally {
    await reader?.drop();
  }
}

async function smoke(
  c: pg.Client,
  queries: SmokeQuery[],
  role: string | undefined,
): Promise<{ findings: Finding[]; results: SmokeResult[] }> {
  const findings: Finding[] = [];
  const results: SmokeResult[] = [];
  for (const q of queries) {
    const expectation = parseExpectation(q.expect) as Expectation;
    let value: number | null = null;
    let problem: string | undefined;
    try {
      await c.query('BEGIN READ ONLY');
      await c.query("SET LOCAL statement_timeout = '60s'");
      if (role) await c.query(`SET LOCAL ROLE ${role}`);
      // queryMode (pg 8.11+) is not in @types/pg yet.
      const one: pg.QueryArrayConfig & { queryMode: 'extended' } = {
        text: q.sql,
        rowMode: 'array',
        queryMode: 'extended',
      };
      const r = await c.query(one);
      await c.query('COMMIT');
      const cell = r.rows.length === 1 && r.fields.length === 1 ? (r.rows[0] as unknown[])[0] : undefined;
      const n =
        typeof cell === 'number'
          ? cell
          : typeof cell === 'string' && cell.trim() !== ''
            ? Number(cell)
            : Number.NaN;
      if (Number.isNaN(n))
        problem = `returned ${r.rows.length} row(s) of ${r.fields.length} column(s), not one number`;
      else value = n;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      problem = `failed: ${(e as Error).message}`;
    }
    const ok = problem === undefined && value !== null && meets(value, expectation);
    results.push({ name: q.name, value, expect: describe(expectation), ok });
    if (!ok) {
      findings.push(
        finding(
          'SEMANTICS_FAILED',
          'semantics',
          problem
            ? `smoke query "${q.name}" ${problem}`
            : `smoke query "${q.name}" returned ${value}, expected ${describe(expectation)}`,
          { evidence: { query: q.name, value, expected: describe(expectation) } },
        ),
      );
    }
  }
  return { findings, results };
}
