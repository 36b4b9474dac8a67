import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import type { ScratchCluster } from '../../src/postgres/cluster.js';
import { controlData } from '../../src/postgres/recovery.js';
import { startCluster } from '../harness/pg.js';
import {
  archiveNow,
  baseBackup,
  expectToolProgress,
  expectXidBothWays,
  PROD_USER,
  progressLines,
  query,
  serverDir,
  sleep,
} from '../harness/pitr.js';
import { compressWith } from '../harness/recompress.js';
import { expectNothingLeft, journalOf, PHASE_AT, type Point, signalAt } from '../harness/signals.js';

let prod: ScratchCluster;
let conf: string;
let repo: string;
let target: string;
/** pg_basebackup's copy beside pgBackRest's, for the native backend over pgBackRest's archive. */
let nativeBase: string;
/** The transaction that committed batch 2 (pg_current_xact_id()). */
let batch2Xid: string;
const stanza = 'app';
/** A segment far past the plan's range, for the hostile input that claims it. */
const FAKE_SEGMENT = '0000000100000000000000FF';

async function pgbackrest(...args: string[]): Promise<string> {
  const r = await run('pgbackrest', [`--config=${conf}`, `--stanza=${stanza}`, ...args], {
    user: prod.osUser,
    install: 'apt-get install pgbackrest (or run scripts/install-deps.sh)',
  });
  if (r.code !== 0) throw new Error(`pgbackrest ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

beforeAll(async () => {
  const dir = serverDir('pgbackrest');
  repo = path.join(dir, 'repo');
  conf = path.join(dir, 'pgbackrest.conf');
  for (const d of ['repo', 'log', 'lock', 'spool']) fs.mkdirSync(path.join(dir, d));
  fs.writeFileSync(conf, '');
  prod = await startCluster({
    ...(PROD_USER ? { osUser: PROD_USER } : {}),
    label: 'test-pgbackrest',
    tuning: 'default',
    settings: {
      wal_level: 'replica',
      archive_mode: 'on',
      archive_command: `pgbackrest --config=${conf} --stanza=${stanza} archive-push %p`,
      max_wal_senders: '4',
    },
  });
  fs.writeFileSync(
    conf,
    `[global]
repo1-path=${repo}
log-path=${dir}/log
lock-path=${dir}/lock
spool-path=${dir}/spool
log-level-console=warn
start-fast=y

[${stanza}]
pg1-path=${prod.dataDir}
pg1-port=${prod.port}
pg1-socket-path=${prod.socketDir}
`,
  );
  const { ownerOf } = await import('../../src/postgres/cluster.js');
  const owner = ownerOf(prod.osUser);
  if (owner)
    for (const p of [dir, ...fs.readdirSync(dir).map((n) => path.join(dir, n))])
      fs.chownSync(p, owner.uid, owner.gid);
  await pgbackrest('stanza-create');
  await query(prod, 'CREATE TABLE orders (id serial PRIMARY KEY, batch int)');
  await query(prod, 'INSERT INTO orders (batch) SELECT 1 FROM generate_series(1, 100)');
  // Hostile input in the backup: a cluster_name shaped like the startup process's title (the
  // recovered server takes it from the backup's configuration), and a table value shaped like the
  // server's log line of a restored segment. Neither may move the replay progress out of the plan's range.
  await query(prod, `ALTER SYSTEM SET cluster_name = 'x: startup recovering ${FAKE_SEGMENT}'`);
  await query(prod, 'CREATE TABLE notes (t text)');
  await query(
    prod,
    `INSERT INTO notes VALUES (E'\\n2026-12-01 00:00:00 UTC [1] LOG:  restored log file "${FAKE_SEGMENT}" from archive\\n')`,
  );
  await pgbackrest('backup', '--type=full');
  nativeBase = serverDir('pgbackrest-native-base');
  await baseBackup(prod, path.join(nativeBase, 'b1'));
  // From here on archive-push compresses with zstd (the stanza's own setting): the archive holds
  // both <segment>-<sha1>.gz and <segment>-<sha1>.zst, as after a change of compress-type.
  fs.appendFileSync(conf, 'compress-type=zst\n');
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

/** restorable.yml with checks that prove the target: 200 rows before it (or `before`), none of batch 3. */
function checksConfig(before = 200): string {
  const cfg = path.join(serverDir('pgbackrest-cfg'), 'restorable.yml');
  fs.writeFileSync(
    cfg,
    `pitr:
  checks:
    - { name: before, sql: "select count(*) from orders where batch <= 2", expect: "== ${before}", asserts: before-target }
    - { name: after, sql: "select count(*) from orders where batch = 3", expect: "== 0", asserts: after-target }
`,
  );
  return cfg;
}

const opts = (extra: Record<string, string> = {}) =>
  parsePitrOptions(
    {
      backend: 'pgbackrest',
      stanza,
      'pgbackrest-config': conf,
      'target-time': target,
      config: checksConfig(),
      ...extra,
    },
    'input',
  );

describe('pitr-restore with pgBackRest (posix repository)', () => {
  it('restores the newest backup before the target with pgbackrest restore, and proves it; progress of the fetch and the replay', async () => {
    const { lines, listener } = progressLines();
    const r = await runPitr(opts(), memoryLogger(), listener);
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.plan?.backup).toMatch(/F$/);
    expect(r.plan?.walSegments).toBeGreaterThan(0);
    expect(r.stopLine).toMatch(/recovery stopping/);
    // pgBackRest's own size of the backup (the files it restores), as pgbackrest info tells it.
    const info = JSON.parse(await pgbackrest('info', '--output=json')) as {
      backup: { label: string; info: { size: number } }[];
    }[];
    const size = info[0]?.backup.find((b) => b.label === r.plan?.backup)?.info.size as number;
    expectToolProgress(lines, r, size);
  }, 180_000);

  it('target-xid: pgbackrest restore --type=xid lands with batch 2’s transaction and not batch 3 (inclusive), before it (exclusive)', async () => {
    await expectXidBothWays((extra) => runPitr(opts(extra), memoryLogger()), batch2Xid, checksConfig(100));
  }, 240_000);

  it('the native backend reads pgBackRest’s archive folder (<segment>-<sha1>.gz and .zst)', async () => {
    const archiveDir = path.join(repo, 'archive', stanza);
    const names: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true }))
        if (e.isDirectory()) walk(path.join(d, e.name));
        else names.push(e.name);
    };
    walk(archiveDir);
    expect(names.some((n) => /^[0-9A-F]{24}-[0-9a-f]{40}\.gz$/.test(n))).toBe(true);
    expect(names.some((n) => /^[0-9A-F]{24}-[0-9a-f]{40}\.zst$/.test(n))).toBe(true);
    const r = await runPitr(
      parsePitrOptions(
        {
          'base-backups': nativeBase,
          'wal-archive': archiveDir,
          'target-time': target,
          config: checksConfig(),
        },
        'input',
      ),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.checks?.every((c) => c.ok)).toBe(true);
    expect(r.stopLine).toMatch(/recovery stopping/);
  }, 180_000);

  it('the native backend checks each segment against the SHA-1 in its pgBackRest name: WAL_CORRUPT on a mismatch', async () => {
    // The segment the base backup starts in: recovery needs it. One byte of its unused tail
    // changed and recompressed as pgBackRest had it: it decompresses, and replay would not notice.
    const label = fs.readFileSync(path.join(nativeBase, 'b1', 'backup_label'), 'utf8');
    const seg = /START WAL LOCATION: .* \(file ([0-9A-F]{24})\)/.exec(label)?.[1] as string;
    const dir = path.join(repo, 'archive', stanza);
    const found: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true }))
        if (e.isDirectory()) walk(path.join(d, e.name));
        else if (e.name.startsWith(`${seg}-`)) found.push(path.join(d, e.name));
    };
    walk(dir);
    const victim = found[0] as string;
    const original = fs.readFileSync(victim);
    const zst = victim.endsWith('.zst');
    const plain = zst ? compressWith('zstd', original, ['-d']) : gunzipSync(original);
    expect(crypto.createHash('sha1').update(plain).digest('hex')).toBe(
      /-([0-9a-f]{40})\./.exec(path.basename(victim))?.[1],
    );
    const changed = Buffer.from(plain);
    changed[changed.length - 1] = (changed[changed.length - 1] as number) ^ 0xff;
    fs.writeFileSync(victim, zst ? compressWith('zstd', changed) : gzipSync(changed));
    try {
      const r = await runPitr(
        parsePitrOptions(
          { 'base-backups': nativeBase, 'wal-archive': dir, 'target-time': target, config: checksConfig() },
          'input',
        ),
        memoryLogger(),
      );
      expect(r.verdict, JSON.stringify(r.findings)).toBe('fail');
      expect(r.findings.map((f) => f.rule)).toContain('WAL_CORRUPT');
      expect(r.findings.find((f) => f.rule === 'WAL_CORRUPT')?.message).toMatch(/SHA-1/);
    } finally {
      fs.writeFileSync(victim, original);
    }
  }, 180_000);

  it('finds a gap in the repository’s archive before restoring', async () => {
    const archiveDir = path.join(repo, 'archive', stanza);
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else if (/^[0-9A-F]{24}-/.test(e.name)) files.push(path.join(d, e.name));
      }
    };
    walk(archiveDir);
    files.sort((a, b) => path.basename(a).localeCompare(path.basename(b)));
    const victim = files[files.length - 2] as string;
    const saved = path.join(serverDir('pgbackrest-aside'), path.basename(victim));
    fs.copyFileSync(victim, saved);
    fs.rmSync(victim);
    try {
      const r = await runPitr(opts(), memoryLogger());
      expect(r.findings.map((f) => f.rule)).toEqual(['WAL_GAP']);
      expect(r.findings[0]?.message).toContain(path.basename(victim).slice(0, 24));
    } finally {
      // Put back as pgBackRest had it: its owner's, or archive-get cannot read it later.
      const st = fs.statSync(path.dirname(victim));
      fs.copyFileSync(saved, victim);
      fs.chownSync(victim, st.uid, st.gid);
    }
  }, 60_000);

  describe('in place, signalled at every point (the committed CLI)', () => {
    let runs = 0;
    afterAll(() => {
      process.stdout.write(`pgBackRest in-place signal runs: ${runs}\n`);
    });
    // pgBackRest restores in one command: there is no unpack point of Restorable's own.
    const points = (Object.keys(PHASE_AT) as Point[]).filter((p) => p !== 'unpack');
    for (const point of points) {
      it.each(['SIGINT', 'kill -9 then --rollback'] as const)(
        `${point}: %s leaves production's original data serving`,
        async (style) => {
          const id = (await controlData(prod.bin, prod.dataDir))['Database system identifier'] as string;
          const cfg = checksConfig();
          const args = ['--backend', 'pgbackrest', '--stanza', stanza, '--pgbackrest-config', conf];
          const said = await signalAt(
            prod.dataDir,
            [...args, '--target-time', target, '--config', cfg, '--confirm', id],
            point,
            style,
          );
          const rows = await query<{ n: string }>(prod, 'select count(*) as n from orders').catch(() => []);
          expect(rows[0]?.n, said).toBe('300');
          expect(journalOf(prod.dataDir)?.phase, said).toBe('rolled-back');
          expectNothingLeft(prod.dataDir, said);
          runs++;
        },
        120_000,
      );
    }
  });

  it('in place: pgbackrest restore into the staging folder recovers there, privately, and hands over', async () => {
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
    expect(auto).not.toContain('restorable-restore-');
    expect(auto).toContain(`--pg1-path=${prod.dataDir}`);
    expect(r.history).toMatch(/^0000000[2-9]\.history$/);
    expect(fs.existsSync(path.join(prod.dataDir, 'pg_wal', 'archive_status', `${r.history}.ready`))).toBe(
      true,
    );
  }, 180_000);
});
