import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../../src/archive/wal.js';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { plantMarker } from '../../src/pitr/marker.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { parseDbUrl, withClient } from '../../src/postgres/client.js';
import { ownerOf, type ScratchCluster } from '../../src/postgres/cluster.js';
import { controlData } from '../../src/postgres/recovery.js';
import { startCluster } from '../harness/pg.js';
import {
  archiveNow,
  expectToolProgress,
  expectXidBothWays,
  PROD_USER,
  progressLines,
  query,
  serverDir,
  sleep,
} from '../harness/pitr.js';
import { expectNothingLeft, journalOf, PHASE_AT, type Point, signalAt } from '../harness/signals.js';

/**
 * pitr-restore with backend wal-g, against the stand-in test/fixtures/wal-g (WAL-G's documented
 * command contract over a WALG_FILE_PREFIX folder): no WAL-G binary can be installed here.
 */
const STANDIN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/wal-g');
/** A storage key as seed 003 sets one: it must reach wal-g only, never an argv, a log or a report. */
const SECRET = 'walg-test-secret-9f3c1d';

let prod: ScratchCluster;
let store: string;
let argvLog: string;
/** What settings each wal-g command was given (names only), as the stand-in records them. */
let settingsLog: string;
let target: string;
let backupName: string;
/** The transaction that committed batch 2 (pg_current_xact_id()). */
let batch2Xid: string;

/** pgbench on database `app`: the workload a marker is planted in. */
async function pgbench(args: string[]): Promise<void> {
  const conn = ['-h', prod.socketDir, '-p', String(prod.port), '-U', 'postgres'];
  const r = await run(path.join(prod.bin.dir, 'pgbench'), [
    ...conn,
    ...(args[0] === '-i' ? [] : ['-n']),
    ...args,
    'app',
  ]);
  if (r.code !== 0) throw new Error(`pgbench ${args.join(' ')} failed: ${r.stderr}`);
}

async function walg(...args: string[]) {
  return run(path.join(STANDIN, 'wal-g'), args, {
    user: prod.osUser,
    inherit: ['WALG_', 'AWS_'],
    env: { PGHOST: prod.socketDir, PGPORT: String(prod.port), PGUSER: 'postgres' },
  });
}

beforeAll(async () => {
  const dir = serverDir('walg');
  store = path.join(dir, 'store');
  argvLog = path.join(dir, 'argv.log');
  settingsLog = path.join(dir, 'settings.log');
  fs.mkdirSync(store);
  fs.writeFileSync(argvLog, '');
  fs.writeFileSync(settingsLog, '');
  const owner = ownerOf(PROD_USER);
  if (owner) for (const p of [store, argvLog, settingsLog]) fs.chownSync(p, owner.uid, owner.gid);
  // Seed 003's settings, from the environment (here a folder instead of R2).
  Object.assign(process.env, {
    WALG_FILE_PREFIX: store,
    WALG_COMPRESSION_METHOD: 'brotli',
    AWS_SECRET_ACCESS_KEY: SECRET,
    WALG_STANDIN_LOG: argvLog,
    WALG_STANDIN_SETTINGS_LOG: settingsLog,
    // As pitr.yml passes the encryption secrets a caller did not set: empty, so not settings.
    WALG_LIBSODIUM_KEY: '',
    WALG_PGP_KEY: '',
    PATH: `${STANDIN}${path.delimiter}${process.env.PATH}`,
  });
  prod = await startCluster({
    ...(PROD_USER ? { osUser: PROD_USER } : {}),
    label: 'test-walg',
    tuning: 'default',
    settings: {
      wal_level: 'replica',
      archive_mode: 'on',
      archive_command: `WALG_FILE_PREFIX=${store} WALG_COMPRESSION_METHOD=brotli ${STANDIN}/wal-g wal-push %p`,
      max_wal_senders: '4',
    },
  });
  // wal-verify reads the cluster's current segment over libpq's settings, as WAL-G does.
  Object.assign(process.env, {
    WALG_STANDIN_PG_BIN: prod.bin.dir,
    PGHOST: prod.socketDir,
    PGPORT: String(prod.port),
    PGUSER: 'postgres',
  });
  await query(prod, 'CREATE TABLE orders (id serial PRIMARY KEY, batch int)');
  await query(prod, 'INSERT INTO orders (batch) SELECT 1 FROM generate_series(1, 100)');
  await query(prod, 'CREATE DATABASE app');
  await pgbench(['-i', '-s', '1', '-q']);
  const pushed = await walg('backup-push', prod.dataDir);
  if (pushed.code !== 0) throw new Error(`wal-g backup-push failed: ${pushed.stderr}`);
  backupName = /name (base_[0-9A-F]{24})/.exec(pushed.stderr)?.[1] as string;
  const [x] = await query<{ xid: string }>(
    prod,
    'WITH r AS (INSERT INTO orders (batch) SELECT 2 FROM generate_series(1, 100) RETURNING 1) SELECT DISTINCT pg_current_xact_id()::text AS xid FROM r',
  );
  batch2Xid = x?.xid as string;
  await sleep(1100);
  target = new Date().toISOString();
  await sleep(1100);
  await query(prod, 'INSERT INTO orders (batch) SELECT 3 FROM generate_series(1, 100)');
  await archiveNow(prod);
}, 180_000);

afterAll(async () => {
  await prod?.stop();
});

/** restorable.yml whose checks prove the target: `rows` rows of batches 1-2, none of batch 3. */
function checksConfig(rows = 200): string {
  const cfg = path.join(serverDir('walg-cfg'), 'restorable.yml');
  fs.writeFileSync(
    cfg,
    `pitr:
  checks:
    - { name: before, sql: "select count(*) from orders where batch <= 2", expect: "== ${rows}", asserts: before-target }
    - { name: after, sql: "select count(*) from orders where batch = 3", expect: "== 0", asserts: after-target }
`,
  );
  return cfg;
}

const opts = (extra: Record<string, string> = {}) =>
  parsePitrOptions({ backend: 'wal-g', 'target-time': target, config: checksConfig(), ...extra }, 'input');

/** The stand-in's own record of every argv it was run with. */
const argvs = () => fs.readFileSync(argvLog, 'utf8');

/**
 * Every wal-g command Restorable ran (backup-list, backup-fetch) and the server ran (wal-fetch,
 * from the private settings file) had the storage's settings, and none of the ones set empty: an
 * empty WALG_LIBSODIUM_KEY would have WAL-G decrypt with no key.
 */
function expectSettingsGiven(): void {
  const given = fs
    .readFileSync(settingsLog, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { command: string; set: string[]; empty: string[] });
  const commands = new Set(given.map((g) => g.command));
  for (const c of ['backup-list', 'backup-fetch', 'wal-fetch']) expect(commands).toContain(c);
  for (const g of given) {
    if (!['backup-list', 'backup-fetch', 'wal-fetch'].includes(g.command)) continue;
    expect(g.set, g.command).toEqual(expect.arrayContaining(['WALG_FILE_PREFIX', 'WALG_COMPRESSION_METHOD']));
    expect(g.empty, g.command).toEqual([]);
    expect(g.set, g.command).not.toContain('WALG_LIBSODIUM_KEY');
  }
}

describe('the wal-g stand-in keeps WAL-G’s documented contract', () => {
  it('backup-list --json --detail, wal-fetch exit 74 for an absent file, wal-verify --json', async () => {
    const list = JSON.parse((await walg('backup-list', '--json', '--detail')).stdout);
    expect(list[0]).toMatchObject({ backup_name: backupName, wal_file_name: backupName.slice(5) });
    for (const k of ['time', 'start_time', 'finish_time', 'start_lsn', 'finish_lsn', 'pg_version'])
      expect(list[0]).toHaveProperty(k);
    const absent = await walg('wal-fetch', '0000000100000000000000FE', path.join(store, 'x'));
    expect(absent.code).toBe(74);
    const v = JSON.parse((await walg('wal-verify', 'integrity', 'timeline', '--json')).stdout);
    expect(v.integrity.status).toBe('OK');
    expect(v.integrity.details[0]).toMatchObject({ timeline_id: 1, status: 'FOUND' });
    expect(v.timeline.details).toMatchObject({ current_timeline_id: 1, highest_storage_timeline_id: 1 });
  }, 60_000);
});

describe('pitr-restore with WAL-G (against the stand-in)', () => {
  it('drill to a time: backup-list picks the backup, backup-fetch, wal-fetch replays, the checks prove it; progress of both', async () => {
    fs.writeFileSync(argvLog, '');
    fs.writeFileSync(settingsLog, '');
    const log = memoryLogger();
    const { lines, listener } = progressLines();
    const r = await runPitr(opts(), log, listener);
    // The backup's size as backup-list --detail tells it (uncompressed_size).
    const listed = JSON.parse((await walg('backup-list', '--json', '--detail')).stdout);
    expectToolProgress(
      lines,
      r,
      listed.find((b: { backup_name: string }) => b.backup_name === backupName).uncompressed_size,
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.backend).toBe('wal-g');
    expect(r.plan?.backup).toBe(backupName);
    expect(r.plan?.walSegments).toBeGreaterThan(0);
    expect(r.stopLine).toMatch(/recovery stopping/);
    expect(r.checks?.every((c) => c.ok)).toBe(true);
    // The server ran wal-fetch, with the settings from its private file, not from argv.
    expect(argvs()).toMatch(/"--config","[^"]+wal-g\.json","wal-fetch","0000000100000000000000/);
    expect(argvs()).not.toContain(SECRET);
    expect(JSON.stringify(r)).not.toContain(SECRET);
    expect(log.lines.join('\n')).not.toContain(SECRET);
    expectSettingsGiven();
  }, 180_000);

  it('drill to target-immediate: the backup’s end, batch 1 only', async () => {
    const r = await runPitr(
      parsePitrOptions(
        { backend: 'wal-g', 'target-immediate': 'true', config: checksConfig(100), backup: backupName },
        'input',
      ),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.plan?.reachesTarget).toBe('yes');
  }, 180_000);

  it('drill to target-xid: wal-fetch replays to batch 2’s transaction, not batch 3 (inclusive), before it (exclusive)', async () => {
    await expectXidBothWays((extra) => runPitr(opts(extra), memoryLogger()), batch2Xid, checksConfig(100));
  }, 240_000);

  it('side by side: a clone left running, its wal-g settings file gone', async () => {
    const dir = path.join(serverDir('walg-sbs'), 'clone');
    const r = await runPitr(opts({ mode: 'side-by-side', 'data-directory': dir }), memoryLogger());
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    const conn = parseDbUrl('database-url', r.databaseUrl as string, () => {});
    const n = await withClient(conn, async (c) =>
      Number((await c.query('select count(*) as n from orders')).rows[0].n),
    );
    expect(n).toBe(200);
    const auto = fs.readFileSync(path.join(dir, 'postgresql.auto.conf'), 'utf8');
    expect(auto).not.toMatch(/restore_command/);
    const beside = fs.readdirSync(path.dirname(dir));
    expect(beside.filter((f) => f.includes('restorable-spool'))).toEqual([]);
    const logs = beside.filter((f) => /^clone\.restorable-recovery-.*\.log$/.test(f));
    expect(logs.length).toBe(1);
    expect(fs.readFileSync(path.join(path.dirname(dir), logs[0] as string), 'utf8')).not.toContain(SECRET);
    await run(path.join(prod.bin.dir, 'pg_ctl'), ['-D', dir, '-m', 'immediate', '-w', 'stop'], {
      user: prod.osUser,
    });
  }, 180_000);

  it('a target after the last WAL is found at the plan: a time after now, an LSN past the archive', async () => {
    const later = await runPitr(
      opts({ 'target-time': new Date(Date.now() + 3600_000).toISOString() }),
      memoryLogger(),
    );
    expect(later.findings.map((f) => f.rule)).toEqual(['PITR_TARGET_UNREACHED']);
    expect(later.stages.find((s) => s.name === 'fetch')?.status).toBe('skipped');
    const lsn = (await query<{ l: string }>(prod, 'select pg_current_wal_lsn() as l'))[0]?.l as string;
    const past = await runPitr(
      opts({ 'target-time': '', 'target-lsn': formatLsn((parseLsn(lsn) as bigint) + 3n * 16n ** 6n) }),
      memoryLogger(),
    );
    expect(past.findings.map((f) => f.rule)).toEqual(['WAL_GAP']);
    expect(past.stages.find((s) => s.name === 'fetch')?.status).toBe('skipped');
  }, 60_000);

  it('a time between the last archived segment and now is found at the plan (st ls: every upload before it)', async () => {
    // Nothing was archived since beforeAll's last switch (a switch here would move the cluster's
    // current segment, which the gap test below reads).
    await sleep(1100);
    // Before now (wal-verify alone cannot tell), after every segment WAL-G holds.
    const between = new Date(Date.now() - 300).toISOString();
    const r = await runPitr(opts({ 'target-time': between, 'plan-only': 'true' }), memoryLogger());
    expect(r.findings.map((f) => f.rule)).toEqual(['PITR_TARGET_UNREACHED']);
    expect(r.findings[0]?.message).toMatch(/nothing was archived after the target time/);
    expect(r.plan?.reachesTarget).toBe('no');
    expect(fs.readFileSync(argvLog, 'utf8')).toContain('["st","ls","wal_005"]');
    // A time inside the archived WAL: the listing does not cry wolf.
    const inside = await runPitr(opts({ 'plan-only': 'true' }), memoryLogger());
    expect(inside.verdict, JSON.stringify(inside.findings)).toBe('pass');
    expect(inside.plan?.reachesTarget).toBe('cannot tell');
  }, 60_000);

  it('a removed segment is a WAL_GAP at the plan, named; put back, the plan passes', async () => {
    const wal = path.join(store, 'wal_005');
    const segs = fs
      .readdirSync(wal)
      .filter((f) => /^[0-9A-F]{24}\.br$/.test(f))
      .sort();
    const victim = segs[segs.length - 2] as string;
    const aside = path.join(serverDir('walg-aside'), victim);
    fs.renameSync(path.join(wal, victim), aside);
    try {
      const r = await runPitr(opts(), memoryLogger());
      expect(r.findings.map((f) => f.rule)).toEqual(['WAL_GAP']);
      expect(r.findings[0]?.message).toContain(victim.slice(0, 24));
    } finally {
      fs.renameSync(aside, path.join(wal, victim));
    }
    const again = await runPitr(opts({ 'plan-only': 'true' }), memoryLogger());
    expect(again.findings).toEqual([]);
  }, 60_000);

  it('a backup name that would read as a flag is not a backup: never passed to wal-g', async () => {
    const base = path.join(store, 'basebackups_005');
    const evil = '--config=x';
    fs.mkdirSync(path.join(base, evil));
    fs.copyFileSync(path.join(base, backupName, 'metadata.json'), path.join(base, evil, 'metadata.json'));
    fs.writeFileSync(path.join(base, `${evil}_backup_stop_sentinel.json`), '{}');
    try {
      fs.writeFileSync(argvLog, '');
      const r = await runPitr(opts({ 'plan-only': 'true' }), memoryLogger());
      expect(r.plan?.backup).toBe(backupName);
      expect(argvs()).not.toContain(evil);
    } finally {
      fs.rmSync(path.join(base, evil), { recursive: true });
      fs.rmSync(path.join(base, `${evil}_backup_stop_sentinel.json`));
    }
  }, 60_000);

  it('a marker planted under a pgbench workload: recovered to its restore point, found, and proved', async () => {
    await pgbench(['-c', '2', '-t', '100']);
    const marker = await plantMarker(prod.url('app'), memoryLogger());
    await pgbench(['-c', '2', '-t', '50']);
    await archiveNow(prod);
    const cfg = path.join(serverDir('walg-marker'), 'restorable.yml');
    fs.writeFileSync(
      cfg,
      `pitr:
  checks:
    - { name: accounts in app, sql: "select count(*) from pgbench_accounts", expect: "== 100000", database: app }
`,
    );
    const r = await runPitr(
      parsePitrOptions({ backend: 'wal-g', 'target-name': marker.name, config: cfg }, 'input'),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.checks?.map((c) => c.ok)).toEqual([true, true, true]);
    expect(r.proof?.holds).toBe(true);
  }, 180_000);

  describe('in place, signalled at every point (the committed CLI)', () => {
    let runs = 0;
    afterAll(() => {
      process.stdout.write(`WAL-G in-place signal runs: ${runs}\n`);
    });
    // wal-g backup-fetch unpacks in one command: there is no unpack point of Restorable's own.
    const points = (Object.keys(PHASE_AT) as Point[]).filter((p) => p !== 'unpack');
    for (const point of points) {
      it.each(['SIGINT', 'kill -9 then --rollback'] as const)(
        `${point}: %s leaves production's original data serving`,
        async (style) => {
          const id = (await controlData(prod.bin, prod.dataDir))['Database system identifier'] as string;
          const said = await signalAt(
            prod.dataDir,
            ['--backend', 'wal-g', '--target-time', target, '--config', checksConfig(), '--confirm', id],
            point,
            style,
          );
          const rows = await query<{ n: string }>(prod, 'select count(*) as n from orders').catch(() => []);
          expect(rows[0]?.n, said).toBe('300');
          expect(journalOf(prod.dataDir)?.phase, said).toBe('rolled-back');
          expectNothingLeft(prod.dataDir, said);
          expect(said).not.toContain(SECRET);
          runs++;
        },
        120_000,
      );
    }
  });

  it('in place: backup-fetch into the staging folder, recovery there, hand-over; no wal-g settings left', async () => {
    const id = (await controlData(prod.bin, prod.dataDir))['Database system identifier'] as string;
    const r = await runPitr(
      opts({ mode: 'in-place', 'data-directory': prod.dataDir, confirm: id }),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.stages.find((s) => s.name === 'handover')?.status).toBe('ok');
    expect((await query<{ n: string }>(prod, 'select count(*) as n from orders'))[0]?.n).toBe('200');
    expect(r.safetySnapshot && fs.existsSync(path.join(r.safetySnapshot, 'PG_VERSION'))).toBe(true);
    const auto = fs.readFileSync(path.join(prod.dataDir, 'postgresql.auto.conf'), 'utf8');
    expect(auto).not.toMatch(/restore_command|wal-g\.json/);
    const beside = fs.readdirSync(path.dirname(prod.dataDir));
    expect(beside.filter((f) => f.includes('restorable-spool'))).toEqual([]);
  }, 180_000);
});
