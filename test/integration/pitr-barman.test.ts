import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { ownerOf, type ScratchCluster } from '../../src/postgres/cluster.js';
import { startCluster } from '../harness/pg.js';
import { archiveNow, baseBackup, PROD_USER, query, serverDir, sleep } from '../harness/pitr.js';

let prod: ScratchCluster;
let home: string;
let conf: string;
let base: string;
let target: string;

/** A Barman configuration for one server, `main`, whose WAL Barman compresses with `compression`. */
function writeConfig(compression: string): void {
  fs.writeFileSync(
    conf,
    `[barman]
barman_home = ${home}
barman_user = ${PROD_USER ?? process.env.USER ?? 'postgres'}
log_file = ${home}/barman.log
compression = ${compression}

[main]
description = scratch production
conninfo = host=${prod.socketDir} port=${prod.port} user=postgres dbname=postgres
streaming_conninfo = host=${prod.socketDir} port=${prod.port} user=postgres
backup_method = postgres
archiver = on
`,
  );
}

/** Barman's archiver: moves what archive_command left in incoming/ into wals/, compressing it. */
async function barmanArchiveWal(): Promise<void> {
  const r = await run('barman', ['-c', conf, 'archive-wal', 'main'], {
    user: prod.osUser,
    install: 'apt-get install barman (or run scripts/install-deps.sh)',
  });
  if (r.code !== 0) throw new Error(`barman archive-wal failed: ${r.stderr}${r.stdout}`);
}

beforeAll(async () => {
  home = serverDir('barman-home');
  conf = path.join(home, 'barman.conf');
  const incoming = path.join(home, 'main', 'incoming');
  fs.mkdirSync(incoming, { recursive: true });
  const owner = ownerOf(PROD_USER);
  if (owner) for (const d of [path.join(home, 'main'), incoming]) fs.chownSync(d, owner.uid, owner.gid);
  // archive_command copies into Barman's incoming folder (what barman-wal-archive or rsync does
  // over ssh to a Barman host); Barman's own archiver takes it from there.
  prod = await startCluster({
    ...(PROD_USER ? { osUser: PROD_USER } : {}),
    label: 'test-barman-prod',
    tuning: 'default',
    settings: {
      wal_level: 'replica',
      archive_mode: 'on',
      archive_command: `test ! -f ${incoming}/%f && cp %p ${incoming}/%f`,
      max_wal_senders: '4',
    },
  });
  writeConfig('gzip');
  base = serverDir('barman-native-base');
  await query(prod, 'CREATE TABLE orders (id serial PRIMARY KEY, batch int)');
  await query(prod, 'INSERT INTO orders (batch) SELECT 1 FROM generate_series(1, 100)');
  await baseBackup(prod, path.join(base, 'b1'));
  await archiveNow(prod);
  await barmanArchiveWal();
  // Later WAL compressed with bzip2: Barman's folder then holds both, under bare names.
  writeConfig('bzip2');
  await query(prod, 'INSERT INTO orders (batch) SELECT 2 FROM generate_series(1, 100)');
  await sleep(1100);
  target = new Date().toISOString();
  await sleep(1100);
  await query(prod, 'INSERT INTO orders (batch) SELECT 3 FROM generate_series(1, 100)');
  await archiveNow(prod);
  await barmanArchiveWal();
}, 180_000);

afterAll(async () => {
  await prod?.stop();
});

function checksConfig(): string {
  const cfg = path.join(serverDir('barman-cfg'), 'restorable.yml');
  fs.writeFileSync(
    cfg,
    `pitr:
  checks:
    - { name: before, sql: "select count(*) from orders where batch <= 2", expect: "== 200", asserts: before-target }
    - { name: after, sql: "select count(*) from orders where batch = 3", expect: "== 0", asserts: after-target }
`,
  );
  return cfg;
}

describe('the native backend over a real Barman server’s WAL folder', () => {
  it('recovers to a time from Barman’s wals/ (gzip and bzip2 in place, bare names) and proves it', async () => {
    const wals = path.join(home, 'main', 'wals');
    const magic = new Set<string>();
    for (const d of fs.readdirSync(wals, { withFileTypes: true }))
      if (d.isDirectory())
        for (const f of fs.readdirSync(path.join(wals, d.name)))
          if (/^[0-9A-F]{24}$/.test(f))
            magic.add(
              fs
                .readFileSync(path.join(wals, d.name, f))
                .subarray(0, 3)
                .toString('hex'),
            );
    // gzip's 1f8b08 and bzip2's "BZh".
    expect([...magic].sort()).toEqual(['1f8b08', '425a68']);
    const r = await runPitr(
      parsePitrOptions(
        { 'base-backups': base, 'wal-archive': wals, 'target-time': target, config: checksConfig() },
        'input',
      ),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.checks?.every((c) => c.ok)).toBe(true);
    expect(r.stopLine).toMatch(/recovery stopping/);
  }, 180_000);

  it('a target after Barman’s last WAL is found at the plan', async () => {
    const wals = path.join(home, 'main', 'wals');
    const future = new Date(Date.now() + 3600_000).toISOString();
    const r = await runPitr(
      parsePitrOptions({ 'base-backups': base, 'wal-archive': wals, 'target-time': future }, 'input'),
      memoryLogger(),
    );
    expect(r.findings.map((f) => f.rule)).toEqual(['PITR_TARGET_UNREACHED']);
    expect(r.stages.find((s) => s.name === 'fetch')?.status).toBe('skipped');
  }, 60_000);
});
