import type pg from 'pg';
import { type Expectation, meets, parseExpectation } from '../drill/config.js';
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
 * Run smoke queries that return one number each, read-only, with a time limit. Results are numbers,
 * never rows: a query that returns anything else fails.
 */
export async function runSmokeQueries(
  c: pg.Client,
  queries: SmokeQuery[],
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
      const r = await c.query({ text: q.sql, rowMode: 'array' });
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
