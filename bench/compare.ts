/**
 * compare-counts (issue 4): exact counts over a database of 200+ tables against a sequential
 * `psql -c 'select count(*) ...'` loop over the same tables (target: at most 0.6x), and estimate
 * mode, which must answer in one round trip per side whatever the number of tables.
 */
import pg from 'pg';
import { parseCompareOptions } from '../src/comparison/options.js';
import { runCompare } from '../src/comparison/run.js';
import { run } from '../src/core/exec.js';
import { silentLogger } from '../src/core/log.js';
import { findAll } from '../src/postgres/binaries.js';
import { libpqEnv, withClient } from '../src/postgres/client.js';
import { ScratchCluster } from '../src/postgres/cluster.js';
import { fmtS, fmtX, median, timed, verdict } from './stats.js';

export const COMPARE_TARGET = 0.6;

export interface CompareBench {
  tables: number;
  rounds: number;
  psqlLoop: number[];
  exact: number[];
  estimateSmall: number[];
  estimateLarge: number[];
  largeTables: number;
  queries: { source: number; target: number };
}

async function makeTables(c: ScratchCluster, db: string, n: number, rows: number): Promise<void> {
  await withClient(c.conn(), (client) => client.query(`CREATE DATABASE ${db}`));
  await withClient(c.conn(db), async (client) => {
    for (let i = 0; i < n; i += 50) {
      const stmts: string[] = [];
      for (let k = i; k < Math.min(n, i + 50); k++) {
        stmts.push(
          `CREATE TABLE t${k} (id bigint PRIMARY KEY, v text); INSERT INTO t${k} SELECT g, md5(g::text) FROM generate_series(1, ${rows}) g;`,
        );
      }
      await client.query(stmts.join('\n'));
    }
    await client.query('ANALYZE');
  });
}

/** Queries each side sends in estimate mode, counted at the client: the round trips. */
async function countQueries(c: ScratchCluster, db: string): Promise<{ source: number; target: number }> {
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const original = proto.query;
  const seen: { database: string; text: string }[] = [];
  proto.query = function (this: pg.Client, ...args: unknown[]) {
    seen.push({ database: (this as unknown as { database: string }).database, text: String(args[0]) });
    return original.apply(this, args);
  };
  try {
    const opts = parseCompareOptions(
      { 'source-url': c.url(db), 'target-url': c.url(`${db}_copy`), mode: 'estimate', structure: 'false' },
      'input',
      silentLogger,
    );
    await runCompare(opts, silentLogger);
  } finally {
    proto.query = original;
  }
  return {
    source: seen.filter((q) => q.database === db).length,
    target: seen.filter((q) => q.database === `${db}_copy`).length,
  };
}

export async function benchCompare(rounds: number, tables = 200, rows = 2000): Promise<CompareBench> {
  const c = await ScratchCluster.start({ label: 'bench-compare' });
  try {
    await makeTables(c, 'many', tables, rows);
    await withClient(c.conn(), (x) => x.query('CREATE DATABASE many_copy TEMPLATE many'));
    const large = tables * 10;
    await makeTables(c, 'huge', large, 1);
    const psql = (await findAll('psql'))[0];
    if (!psql) throw new Error('psql is missing: apt-get install postgresql-client');
    const out: CompareBench = {
      tables,
      rounds,
      psqlLoop: [],
      exact: [],
      estimateSmall: [],
      estimateLarge: [],
      largeTables: large,
      queries: await countQueries(c, 'many'),
    };
    const env = libpqEnv(c.conn('many'));
    for (let r = 0; r < rounds; r++) {
      out.psqlLoop.push(
        (
          await timed(async () => {
            // Seed 003's way, twice (source and restored copy), one psql per table, one after another.
            for (let side = 0; side < 2; side++) {
              for (let i = 0; i < tables; i++) {
                const res = await run(psql.path, ['-X', '-qAt', '-c', `select count(*) from t${i}`], { env });
                if (res.code !== 0) throw new Error(res.stderr);
              }
            }
          })
        ).seconds,
      );
      const exact = parseCompareOptions(
        { 'source-url': c.url('many'), 'target-url': c.url('many'), mode: 'exact', structure: 'false' },
        'input',
        silentLogger,
      );
      out.exact.push((await timed(() => runCompare(exact, silentLogger))).seconds);
      const est = (db: string) =>
        parseCompareOptions(
          { 'source-url': c.url(db), 'target-url': c.url(db), mode: 'estimate', structure: 'false' },
          'input',
          silentLogger,
        );
      out.estimateSmall.push((await timed(() => runCompare(est('many'), silentLogger))).seconds);
      out.estimateLarge.push((await timed(() => runCompare(est('huge'), silentLogger))).seconds);
    }
    return out;
  } finally {
    await c.stop();
  }
}

export function printCompare(b: CompareBench, say: (m: string) => void): void {
  say(`${b.tables} tables, counted on both sides; ${b.rounds} round(s), medians:`);
  say(`  psql -c loop (2 x ${b.tables} processes)  ${fmtS(median(b.psqlLoop))}`);
  say(`  compare-counts exact, 4 jobs           ${fmtS(median(b.exact))}`);
  say(`  estimate, ${b.tables} tables                  ${fmtS(median(b.estimateSmall))}`);
  say(`  estimate, ${b.largeTables} tables                 ${fmtS(median(b.estimateLarge))}`);
  say(
    `  queries in estimate mode: source ${b.queries.source} (the read-only check, the catalog), target ${b.queries.target}`,
  );
}

export function compareSummaryRows(b: CompareBench): string[][] {
  const ratio = median(b.exact) / median(b.psqlLoop);
  return [
    [
      'compare exact / psql loop',
      `median ${fmtX(ratio)}`,
      `<= ${COMPARE_TARGET.toFixed(2)}x`,
      verdict(ratio <= COMPARE_TARGET),
    ],
    // One catalog query per side whatever the size (the source adds its read-only check).
    [
      `estimate ${b.largeTables} / ${b.tables} tables`,
      `median ${fmtX(median(b.estimateLarge) / median(b.estimateSmall))}`,
      `queries: source ${b.queries.source}, target ${b.queries.target}`,
      verdict(b.queries.target === 1 && b.queries.source <= 2),
    ],
  ];
}
