/**
 * A real Barman 3.4 server for a scratch production (backup_method = postgres, WAL through Barman's
 * incoming folder and its archiver, gzip) running a pgbench workload with a marker: one Barman
 * backup, then a target time between batch 2 (kept) and batch 3 (after the target).
 */
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { plantMarker } from '../../src/pitr/marker.js';
import { ownerOf, type ScratchCluster } from '../../src/postgres/cluster.js';
import { startCluster } from './pg.js';
import { archiveNow, PROD_USER, query, serverDir, sleep } from './pitr.js';

export interface BarmanProduction {
  prod: ScratchCluster;
  home: string;
  conf: string;
  /** Between batch 2 and batch 3 of orders. */
  target: string;
  /** Before the Barman backup began. */
  beforeBackup: string;
  /** The restore point planted on database app (plant-marker). */
  marker: string;
  /** The transaction that committed batch 2 (pg_current_xact_id()). */
  batch2Xid: string;
  backupId: string;
  /** The backup's own data folder in Barman's home (for the hostile tests to tamper with). */
  backupData: string;
  /** Production's tablespace folder (`ts1`, 10 rows of table `far`), when asked for. */
  tablespace?: string;
}

export async function barmanAs(prod: ScratchCluster, conf: string, ...args: string[]): Promise<string> {
  const r = await run('barman', ['-c', conf, ...args], {
    user: prod.osUser,
    install: 'apt-get install barman (or run scripts/install-deps.sh)',
  });
  if (r.code !== 0) throw new Error(`barman ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function pgbench(prod: ScratchCluster, args: string[]): Promise<void> {
  const r = await run('/usr/lib/postgresql/15/bin/pgbench', [
    ...['-h', prod.socketDir, '-p', String(prod.port), '-U', 'postgres'],
    ...(args[0] === '-i' ? [] : ['-n']),
    ...args,
    'app',
  ]);
  if (r.code !== 0) throw new Error(`pgbench ${args.join(' ')} failed: ${r.stderr}`);
}

/**
 * `scale`: pgbench's (1 is about 16 MiB; the bench's 8 about 120 MiB, seed 001's database).
 * `tablespace`: a tablespace `ts1` holding table `far` (10 rows), made before the backup.
 */
export async function startBarmanProduction(
  label: string,
  scale = 1,
  tablespace = false,
): Promise<BarmanProduction> {
  const home = serverDir(label);
  const conf = path.join(home, 'barman.conf');
  const incoming = path.join(home, 'main', 'incoming');
  fs.mkdirSync(incoming, { recursive: true });
  const owner = ownerOf(PROD_USER);
  if (owner) for (const d of [path.join(home, 'main'), incoming]) fs.chownSync(d, owner.uid, owner.gid);
  const prod = await startCluster({
    ...(PROD_USER ? { osUser: PROD_USER } : {}),
    label: `test-${label}`,
    tuning: 'default',
    settings: {
      wal_level: 'replica',
      archive_mode: 'on',
      archive_command: `test ! -f ${incoming}/%f && cp %p ${incoming}/%f`,
      max_wal_senders: '4',
    },
  });
  fs.writeFileSync(
    conf,
    `[barman]
barman_home = ${home}
barman_user = ${PROD_USER ?? process.env.USER ?? 'postgres'}
log_file = ${home}/barman.log
compression = gzip

[main]
description = scratch production
conninfo = host=${prod.socketDir} port=${prod.port} user=postgres dbname=postgres
streaming_conninfo = host=${prod.socketDir} port=${prod.port} user=postgres
backup_method = postgres
immediate_checkpoint = true
archiver = on
`,
  );
  // WAL switched, archived into incoming/, and taken into wals/ by Barman's archiver.
  const shipWal = async () => {
    await archiveNow(prod);
    await barmanAs(prod, conf, 'archive-wal', 'main');
  };
  await query(prod, 'CREATE DATABASE app');
  await pgbench(prod, ['-i', '-s', String(scale), '-q']);
  await query(prod, 'CREATE TABLE orders (id serial PRIMARY KEY, batch int)');
  await query(prod, 'INSERT INTO orders (batch) SELECT 1 FROM generate_series(1, 100)');
  const ts = tablespace ? serverDir(`${label}-ts1`) : undefined;
  if (ts) {
    await query(prod, `CREATE TABLESPACE ts1 LOCATION '${ts}'`);
    await query(prod, 'CREATE TABLE far (n int) TABLESPACE ts1');
    await query(prod, 'INSERT INTO far SELECT generate_series(1, 10)');
  }
  await shipWal();
  const beforeBackup = new Date().toISOString();
  await sleep(1100);
  await barmanAs(prod, conf, 'backup', 'main');
  const listed = JSON.parse(await barmanAs(prod, conf, '-f', 'json', 'list-backups', 'main'));
  const backupId = (listed.main[0] as { backup_id: string }).backup_id;
  await pgbench(prod, ['-c', '2', '-t', '200']);
  const [x] = await query<{ xid: string }>(
    prod,
    'WITH r AS (INSERT INTO orders (batch) SELECT 2 FROM generate_series(1, 100) RETURNING 1) SELECT DISTINCT pg_current_xact_id()::text AS xid FROM r',
  );
  const batch2Xid = x?.xid as string;
  const marker = (await plantMarker(prod.url('app'), memoryLogger())).name;
  await sleep(1100);
  const target = new Date().toISOString();
  await sleep(1100);
  await query(prod, 'INSERT INTO orders (batch) SELECT 3 FROM generate_series(1, 100)');
  await pgbench(prod, ['-c', '2', '-t', '100']);
  await shipWal();
  const backupData = path.join(home, 'main', 'base', backupId, 'data');
  return {
    ...{ prod, home, conf, target, beforeBackup, marker, batch2Xid, backupId, backupData },
    ...(ts ? { tablespace: ts } : {}),
  };
}

/** restorable.yml whose checks prove the target (or, `immediate`, the end of the backup). */
export function barmanChecks(immediate = false): string {
  const cfg = path.join(serverDir('barman-cfg'), 'restorable.yml');
  fs.writeFileSync(
    cfg,
    immediate
      ? `pitr:
  checks:
    - { name: before, sql: "select count(*) from orders", expect: "== 100", asserts: before-target }
    - { name: after, sql: "select count(*) from orders where batch >= 2", expect: "== 0", asserts: after-target }
`
      : `pitr:
  checks:
    - { name: before, sql: "select count(*) from orders where batch <= 2", expect: "== 200", asserts: before-target }
    - { name: after, sql: "select count(*) from orders where batch = 3", expect: "== 0", asserts: after-target }
    - { name: accounts in app, sql: "select count(*) from pgbench_accounts", expect: "== 100000", database: app }
`,
  );
  return cfg;
}
