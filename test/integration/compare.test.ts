import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareTable } from '../../src/compare/present.js';
import { parseCompareOptions } from '../../src/comparison/options.js';
import { type CompareResult, runCompare } from '../../src/comparison/run.js';
import { memoryLogger } from '../../src/core/log.js';
import { queryRows } from '../../src/postgres/client.js';
import { freePort, type ScratchCluster } from '../../src/postgres/cluster.js';
import { loadChinook, sql, startCluster, tempDir } from '../harness/pg.js';
import { startOptionDroppingProxy } from '../harness/pooler.js';

let pg: ScratchCluster;
let dir: string;
const EVIL = '"Order"; DROP TABLE keepme; --';

beforeAll(async () => {
  dir = tempDir('compare');
  pg = await startCluster({ label: 'test-compare' });
  await loadChinook(pg);
  await sql(
    pg,
    'chinook',
    `CREATE TABLE keepme (id int); INSERT INTO keepme VALUES (1);
     CREATE TABLE "${EVIL.replace(/"/g, '""')}" (id int); INSERT INTO "${EVIL.replace(/"/g, '""')}" VALUES (1), (2);
     CREATE SCHEMA audit; CREATE TABLE audit.log (id int); INSERT INTO audit.log SELECT generate_series(1, 50);
     ANALYZE;
     CREATE ROLE reader LOGIN PASSWORD 's3cret-reader'; GRANT USAGE ON SCHEMA public, audit TO reader;
     GRANT SELECT ON ALL TABLES IN SCHEMA public, audit TO reader;`,
  );
}, 120_000);

afterAll(async () => {
  await pg?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A fresh copy of the live database, changed by `sqlText`. */
async function copy(sqlText = ''): Promise<string> {
  const name = `restored_${n++}`;
  await sql(pg, 'postgres', `CREATE DATABASE ${name} TEMPLATE chinook`);
  if (sqlText) await sql(pg, name, sqlText);
  return name;
}
const url = (db: string, user = 'postgres', password = '') =>
  user === 'postgres' && !password
    ? pg.url(db)
    : `postgresql://${user}${password ? `:${password}` : ''}@127.0.0.1:${pg.port}/${db}`;

async function compare(raw: Record<string, string>): Promise<CompareResult> {
  const log = memoryLogger();
  return runCompare(parseCompareOptions(raw, 'input', log), log);
}
const rules = (r: CompareResult) =>
  [...new Set(r.findings.filter((f) => f.severity !== 'info').map((f) => f.rule))].sort();

describe('compare-counts', () => {
  it('an identical copy: every table compared exactly, silent, and the odd table name is counted, not run', async () => {
    const target = await copy();
    const r = await compare({
      'source-url': url('chinook', 'reader', 's3cret-reader'),
      'target-url': url(target),
    });
    expect(rules(r)).toEqual([]);
    expect(r.verdict).toBe('pass');
    expect(r.compared).toBe(14);
    expect(r.rows.find((x) => x.table === 'public.track')).toMatchObject({
      source: 3503,
      target: 3503,
      mode: 'exact',
    });
    expect(r.rows.find((x) => x.table.includes('DROP TABLE'))).toMatchObject({ source: 2, target: 2 });
    expect((await queryRows(pg.conn('chinook'), 'select count(*)::int n from keepme'))[0]).toEqual({ n: 1 });
    expect(JSON.stringify(r)).not.toContain('s3cret-reader');
    expect(r.source).toBe(`postgresql://reader:***@127.0.0.1:${pg.port}/chinook`);
  });

  it('COUNT_DRIFT when the target lost rows; growth is not drift unless direction is both', async () => {
    const fewer = await copy('DELETE FROM invoice_line WHERE invoice_line_id > 2000');
    const r = await compare({ 'source-url': url('chinook'), 'target-url': url(fewer) });
    expect(rules(r)).toEqual(['COUNT_DRIFT']);
    expect(r.drifted).toBe(1);
    expect(r.rows[0]).toMatchObject({
      table: 'public.invoice_line',
      source: 2240,
      target: 2000,
      difference: -240,
      drifted: true,
    });
    expect(compareTable(r).split('\n')[2]).toMatch(
      /^\| \*\*public\.invoice_line\*\* \| 2240 \| 2000 \| -240 \| exact \|$/,
    );
    const more = await copy("INSERT INTO genre VALUES (100, 'new')");
    expect(rules(await compare({ 'source-url': url('chinook'), 'target-url': url(more) }))).toEqual([]);
    expect(
      rules(await compare({ 'source-url': url('chinook'), 'target-url': url(more), direction: 'both' })),
    ).toEqual(['COUNT_DRIFT']);
  });

  it('tolerance, and per-table tolerance from restorable.yml', async () => {
    const fewer = await copy('DELETE FROM invoice_line WHERE invoice_line_id > 2200');
    expect(
      rules(await compare({ 'source-url': url('chinook'), 'target-url': url(fewer), tolerance: '2%' })),
    ).toEqual([]);
    expect(
      rules(await compare({ 'source-url': url('chinook'), 'target-url': url(fewer), tolerance: '10' })),
    ).toEqual(['COUNT_DRIFT']);
    const cfg = path.join(dir, 'restorable.yml');
    fs.writeFileSync(cfg, 'compare:\n  tables:\n    public.invoice_line: { tolerance: 50 }\n');
    expect(
      rules(await compare({ 'source-url': url('chinook'), 'target-url': url(fewer), config: cfg })),
    ).toEqual([]);
  });

  it('TABLE_MISSING, TABLE_UNEXPECTED and structure differences', async () => {
    const changed = await copy(
      'DROP TABLE playlist_track; CREATE TABLE extra (id int); ALTER TABLE album DROP COLUMN title',
    );
    const r = await compare({ 'source-url': url('chinook'), 'target-url': url(changed) });
    expect(rules(r)).toEqual([
      'STRUCTURE_MISSING',
      'STRUCTURE_UNEXPECTED',
      'TABLE_MISSING',
      'TABLE_UNEXPECTED',
    ]);
    expect(r.missing).toBe(1);
    expect(r.findings.find((f) => f.rule === 'STRUCTURE_MISSING')?.message).toMatch(/album\.title/);
    expect(r.verdict).toBe('fail');
    const noStructure = await compare({
      'source-url': url('chinook'),
      'target-url': url(changed),
      structure: 'false',
    });
    expect(rules(noStructure)).toEqual(['TABLE_MISSING', 'TABLE_UNEXPECTED']);
  });

  describe('structure: enums, domains, defaults and function bodies, each both ways', () => {
    beforeAll(async () => {
      await sql(
        pg,
        'chinook',
        `CREATE TYPE mood AS ENUM ('sad', 'ok');
         CREATE DOMAIN positive AS int CONSTRAINT positive_check CHECK (VALUE > 0);
         ALTER TABLE genre ALTER COLUMN name SET DEFAULT 'unknown';
         CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE sql AS 'SELECT i + 1';`,
      );
    });

    it('an unchanged copy is silent', async () => {
      const same = await copy();
      expect(rules(await compare({ 'source-url': url('chinook'), 'target-url': url(same) }))).toEqual([]);
    });

    it.each([
      ['an added enum value', "ALTER TYPE mood ADD VALUE 'elated'", /enum public\.mood \('sad', 'ok'\)/],
      ['a dropped domain CHECK', 'ALTER DOMAIN positive DROP CONSTRAINT positive_check', /positive_check/],
      ['a changed column default', "ALTER TABLE genre ALTER COLUMN name SET DEFAULT 'other'", /genre\.name/],
      [
        'a changed function body',
        "CREATE OR REPLACE FUNCTION add_one(i int) RETURNS int LANGUAGE sql AS 'SELECT i + 2'",
        /function public\.add_one\(i integer\) returns integer definition/,
      ],
    ])('%s', async (_label, change, line) => {
      const changed = await copy(change);
      const r = await compare({ 'source-url': url('chinook'), 'target-url': url(changed) });
      expect(rules(r)).toContain('STRUCTURE_MISSING');
      expect(r.findings.find((f) => f.rule === 'STRUCTURE_MISSING')?.message).toMatch(line);
      expect(r.verdict).toBe('fail');
    });
  });

  it('estimate mode reads statistics; auto counts small tables exactly and estimates big ones', async () => {
    const target = await copy('ANALYZE');
    const est = await compare({ 'source-url': url('chinook'), 'target-url': url(target), mode: 'estimate' });
    expect(est.rows.every((x) => x.mode === 'estimate')).toBe(true);
    expect(est.findings.map((f) => f.rule)).toContain('COUNT_ESTIMATED');
    expect(est.verdict).toBe('pass');
    const auto = await compare({
      'source-url': url('chinook'),
      'target-url': url(target),
      'exact-limit': '1000',
    });
    expect(auto.rows.find((x) => x.table === 'public.track')?.mode).toBe('estimate');
    expect(auto.rows.find((x) => x.table === 'public.genre')?.mode).toBe('exact');
  });

  it('schemas, include and exclude', async () => {
    const target = await copy();
    const r = await compare({ 'source-url': url('chinook'), 'target-url': url(target), schemas: 'audit' });
    expect(r.rows.map((x) => x.table)).toEqual(['audit.log']);
    const inc = await compare({
      'source-url': url('chinook'),
      'target-url': url(target),
      include: 'public.in*',
      exclude: 'public.invoice_line',
    });
    expect(inc.rows.map((x) => x.table)).toEqual(['public.invoice']);
  });

  it('write-baseline at backup time, then compare a restore against it exactly', async () => {
    const file = path.join(dir, 'baseline.json');
    const w = await compare({ 'source-url': url('chinook'), 'write-baseline': file });
    expect(w.baselineWritten).toBe(file);
    const b = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(b.tables['public.track']).toEqual({ rows: 3503, mode: 'exact' });
    const fewer = await copy(
      'DELETE FROM track WHERE track_id > 3500 AND track_id NOT IN (SELECT track_id FROM invoice_line UNION SELECT track_id FROM playlist_track)',
    );
    const left = (await queryRows<{ n: number }>(pg.conn(fewer), 'select count(*)::int n from track'))[0]?.n;
    const r = await compare({ baseline: file, 'target-url': url(fewer) });
    expect(r.rows.find((x) => x.table === 'public.track')).toMatchObject({ source: 3503, target: left });
    expect(rules(r)).toEqual(left === 3503 ? [] : ['COUNT_DRIFT']);
  });

  it('freshness-column reports max() on both sides', async () => {
    const older = await copy(
      "DELETE FROM invoice_line WHERE invoice_id IN (SELECT invoice_id FROM invoice WHERE invoice_date > '2025-10-01'); DELETE FROM invoice WHERE invoice_date > '2025-10-01'",
    );
    const r = await compare({
      'source-url': url('chinook'),
      'target-url': url(older),
      'freshness-column': 'invoice_date',
      tolerance: '100%',
    });
    const row = r.rows.find((x) => x.table === 'public.invoice');
    expect(row?.sourceMax).toMatch(/^20\d\d-/);
    expect(row?.targetMax).toMatch(/^20\d\d-/);
    expect(compareTable(r)).toContain('source max');
  });

  it('a source that will not take a read-only session is refused with one clear line, and nothing is read', async () => {
    const proxy = await startOptionDroppingProxy(pg.port);
    try {
      const target = await copy();
      const opts = parseCompareOptions(
        {
          'source-url': `postgresql://postgres:${pg.secret()}@127.0.0.1:${proxy.port}/chinook`,
          'target-url': url(target),
        },
        'input',
        memoryLogger(),
      );
      await expect(runCompare(opts, memoryLogger())).rejects.toThrow(
        /^source-url: did not take a read-only session\. Connect to PostgreSQL directly/,
      );
    } finally {
      await proxy.stop();
    }
  });

  it('SOURCE_UNREACHABLE and TARGET_UNREACHABLE are could-not-verify', async () => {
    const closed = await freePort();
    const s = await compare({
      'source-url': `postgresql://postgres@127.0.0.1:${closed}/x`,
      'target-url': url('chinook'),
    });
    expect(rules(s)).toEqual(['SOURCE_UNREACHABLE']);
    expect(s.verdict).toBe('could-not-verify');
    const t = await compare({
      'source-url': url('chinook'),
      'target-url': `postgresql://postgres@127.0.0.1:${closed}/x`,
    });
    expect(rules(t)).toEqual(['TARGET_UNREACHABLE']);
  });

  it.each([
    [{ 'source-url': 'nonsense', 'target-url': 'postgresql://h/db' }, /^source-url: is not a PostgreSQL URL/],
    [
      { 'source-url': 'postgresql://h/a', 'target-url': 'postgresql://h/b', tolerance: '5 percent' },
      /^tolerance: "5 percent" is not a tolerance/,
    ],
    [
      { 'source-url': 'postgresql://h/a', baseline: 'b.json', 'target-url': 'postgresql://h/b' },
      /^baseline: and source-url were both given/,
    ],
    [{ 'target-url': 'postgresql://h/b' }, /^source-url: is required \(or baseline\)/],
    [
      { 'source-url': 'postgresql://h/a', 'target-url': 'postgresql://h/b', mode: 'fast' },
      /^mode: "fast" is not exact, estimate or auto/,
    ],
  ])('bad input %j: one clear line', (raw, message) => {
    expect(() => parseCompareOptions(raw, 'input', memoryLogger())).toThrow(message);
  });
});
