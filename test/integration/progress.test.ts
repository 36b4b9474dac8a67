import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/core/duration.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import type { ScratchCluster } from '../../src/postgres/cluster.js';
import { sql, startCluster, tempDir } from '../harness/pg.js';

/**
 * Progress inside long stages, as a person reads it: the CLI run for real on a dump of a million
 * rows, restored into a real scratch cluster; stderr a log (a line every interval, shortened here)
 * or a terminal (script(1) gives it a pty: one live line, redrawn).
 */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const tsx = path.join(root, 'node_modules/tsx/dist/cli.mjs');
const cliArgs = (args: string[]) => [tsx, path.join(root, 'src/cli/index.ts'), ...args];
const ROWS = 1_000_000;

let dir: string;
let cluster: ScratchCluster;
let custom: string;
let plain: string;
let directory: string;

beforeAll(async () => {
  dir = tempDir('progress');
  cluster = await startCluster();
  await sql(cluster, 'postgres', 'CREATE DATABASE shop');
  await sql(
    cluster,
    'shop',
    `CREATE TABLE big AS SELECT g AS id, md5(g::text) AS t FROM generate_series(1, ${ROWS}) g;
     CREATE INDEX ON big (t);
     CREATE TABLE small AS SELECT g FROM generate_series(1, 10) g;`,
  );
  custom = await dumpDatabase(cluster, 'shop', path.join(dir, 'c', 'shop.dump'));
  plain = await dumpDatabase(cluster, 'shop', path.join(dir, 'p', 'shop.sql'), { format: 'p' });
  directory = await dumpDatabase(cluster, 'shop', path.join(dir, 'd', 'shop.dir'), { format: 'd' });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const env = { ...process.env, RESTORABLE_PROGRESS_INTERVAL_MS: '200' };
const drillArgs = (source: string, extra: string[] = []) => [
  'drill',
  '--source',
  source,
  '--max-age',
  '1000d',
  '--checksum',
  'skip',
  ...extra,
];

function cli(args: string[], intervalMs = 200) {
  const r = spawnSync(process.execPath, cliArgs(args), {
    encoding: 'utf8',
    env: { ...env, RESTORABLE_PROGRESS_INTERVAL_MS: String(intervalMs) },
    timeout: 240_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return r;
}

describe('progress inside long stages', () => {
  it('in a log: a line every interval with real numbers, for the read and the restore (custom, parallel)', () => {
    const r = cli(drillArgs(custom, ['--jobs', '2']));
    const lines = r.stderr.split('\n');
    const read = lines.filter((l) => /^▸ read +\d+s {2}read \S+ \S+ of \S+ \S+ \(\d+%\)$/.test(l));
    expect(read.length, r.stderr).toBeGreaterThan(0);
    const restore = lines
      .map((l) => /^▸ restore +\d+s {2}(\d+) of (\d+) objects(.*)$/.exec(l))
      .filter((m) => m !== null);
    expect(restore.length, r.stderr).toBeGreaterThan(1);
    for (const m of restore) expect(Number(m[1])).toBeLessThanOrEqual(Number(m[2]));
    // The table in flight, with its rows as the walk counted them.
    expect(
      restore.some((m) => m[3] === `, loading public.big (${ROWS} rows)`),
      r.stderr,
    ).toBe(true);
    // pg_restore --verbose's own lines stay out of the output and out of the classified stderr.
    expect(r.stderr).not.toMatch(/pg_restore: (creating|launching|finished)/);
    expect(r.stdout).toMatch(/verdict: PASS/);
  }, 300_000);

  it('a plain dump: bytes read of the file and the COPY in flight', () => {
    const r = cli(drillArgs(plain));
    const size = fs.statSync(plain).size;
    const restore = r.stderr.split('\n').filter((l) => /^▸ restore +\d+s {2}read \S+ \S+ of \S+ \S+/.test(l));
    expect(restore.length, r.stderr).toBeGreaterThan(1);
    expect(
      restore.some((l) => l.endsWith(`, loading public.big (${ROWS} rows)`)),
      r.stderr,
    ).toBe(true);
    expect(restore[0]).toContain(`of ${(size / 1024 / 1024).toFixed(1)} MiB`);
  }, 300_000);

  it('a directory dump (pg_dump -Fd): the read stage reads bytes of the total of its files', () => {
    const r = cli(['verify', '--source', directory, '--max-age', '1000d', '--checksum', 'skip'], 100);
    const total = fs
      .readdirSync(directory)
      .reduce((a, f) => a + fs.statSync(path.join(directory, f)).size, 0);
    const read = r.stderr
      .split('\n')
      .map((l) => /^▸ read +\d+s {2}read (\S+ \S+) of (\S+ \S+) \((\d+)%\)$/.exec(l))
      .filter((m) => m !== null);
    expect(read.length, r.stderr).toBeGreaterThan(0);
    for (const m of read) {
      expect(m[2], r.stderr).toBe(formatBytes(total));
      expect(Number(m[3]), r.stderr).toBeLessThanOrEqual(100);
    }
    // Some of it read while the line was drawn: the bytes come from the walk, not the listing.
    expect(
      read.some((m) => Number(m[3]) > 0),
      r.stderr,
    ).toBe(true);
    expect(r.stdout).toMatch(/verdict: PASS/);
  }, 300_000);

  it('the sample tier: the schema objects done, then the sampled rows loading, with their numbers', () => {
    const r = cli(drillArgs(custom, ['--tier', 'sample', '--sample-tables', 'public.big']));
    const lines = r.stderr.split('\n');
    const schema = lines
      .map((l) => /^▸ restore +\d+s {2}schema: (\d+) of (\d+) objects$/.exec(l))
      .filter((m) => m !== null);
    for (const m of schema) expect(Number(m[1])).toBeLessThanOrEqual(Number(m[2]));
    // The sample's list: one TABLE DATA entry (the database has no sequences), public.big loading.
    const rows = lines.filter((l) => /^▸ restore +\d+s {2}sample rows: /.test(l));
    expect(rows.length, r.stderr).toBeGreaterThan(0);
    expect(
      rows.some(
        (l) =>
          /sample rows: [01] of 1 objects, loading public\.big \((\d+) rows\)$/.exec(l)?.[1] === `${ROWS}`,
      ),
      r.stderr,
    ).toBe(true);
    expect(r.stderr).not.toMatch(/pg_restore: (creating|processing|launching|finished)/);
    expect(r.stdout).toMatch(/verdict: PASS/);
  }, 300_000);

  it('--json: stdout is the JSON alone, and no progress at all', () => {
    const r = cli(['verify', '--source', custom, '--max-age', '1000d', '--checksum', 'skip', '--json']);
    expect(JSON.parse(r.stdout).result.verdict).toBe('pass');
    expect(r.stderr).not.toContain('▸');
  }, 120_000);

  it('on a terminal: one live line, redrawn in place, until the stage result replaces it', () => {
    const out = path.join(dir, 'tty.out');
    const command = [process.execPath, ...cliArgs(drillArgs(plain))].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qfec', `${command} >/dev/null`, out], {
      encoding: 'utf8',
      env,
      timeout: 240_000,
    });
    expect(r.status, `script(1) failed (apt-get install bsdutils): ${r.stderr}`).toBe(0);
    // The escape that clears the line (ESC [ K) as a visible token, so the patterns below stay plain.
    const tty = fs.readFileSync(out, 'utf8').replaceAll('\x1b[K', '<CLEAR>');
    // Every live line starts by going back to the start of the line and clearing it.
    const live = tty.match(/\r<CLEAR>▸ restore +\d+s {2}[^\r\n]*/g) ?? [];
    expect(live.length, tty).toBeGreaterThan(1);
    expect(
      live.some((l) => /read \S+ \S+ of \S+ \S+, loading public\.big/.test(l)),
      tty,
    ).toBe(true);
    // No live line ends a line of its own: the stage's result is drawn over it.
    expect(tty).not.toMatch(/▸ [^\r\n]*\r?\n/);
    expect(tty).toMatch(/\r<CLEAR>✓ restore +\d+\.\d+s {2}ok/);
  }, 300_000);
});
