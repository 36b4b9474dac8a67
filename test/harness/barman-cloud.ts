/**
 * A scratch "production" archiving to the S3 test server with Barman Cloud, as seed 001's cloud
 * setup does: `archive_command = barman-cloud-wal-archive` (gzip), one `barman-cloud-backup`, a
 * pgbench workload with a marker, then a target time between batch 2 (kept) and batch 3 (after it).
 * The keys reach archive_command through a 0600 credentials file, never its command line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { plantMarker } from '../../src/pitr/marker.js';
import { ownerOf, type ScratchCluster } from '../../src/postgres/cluster.js';
import { startCluster } from './pg.js';
import { archiveNow, PROD_USER, query, serverDir, sleep } from './pitr.js';
import { type S3Harness, startS3 } from './s3.js';

export const CLOUD_INSTALL =
  'apt-get install barman-cli-cloud python3-boto3 (or run scripts/install-deps.sh)';
export const CLOUD_BUCKET = 'pg-barman';
export const CLOUD_PREFIX = 'prod';
export const CLOUD_SERVER = 'main';

export interface CloudProduction {
  prod: ScratchCluster;
  s3: S3Harness;
  /** `s3://bucket/prefix`, barman-cloud's source_url. */
  url: string;
  /** Between batch 2 and batch 3 of orders. */
  target: string;
  /** Before the backup began. */
  beforeBackup: string;
  /** The restore point planted on database app. */
  marker: string;
  backupId: string;
  /** Production's tablespace folder (`ts1`, 10 rows of table `far`), when asked for. */
  tablespace?: string;
  stop(): Promise<void>;
}

/** barman-cloud-* with the test server's keys in its environment. */
export async function cloudTool(tool: string, args: string[], s3: S3Harness, user?: string): Promise<string> {
  const r = await run(tool, ['--endpoint-url', s3.endpoint, ...args], {
    ...(user ? { user } : {}),
    env: s3.env,
    install: CLOUD_INSTALL,
  });
  if (r.code !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A 0600 boto3 credentials file, the server's user's, for archive_command. */
function credentialsFile(s3: S3Harness, dir: string): string {
  const file = path.join(dir, 'aws-credentials');
  fs.writeFileSync(
    file,
    `[default]\naws_access_key_id = ${s3.env.AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${s3.env.AWS_SECRET_ACCESS_KEY}\nregion = ${s3.env.AWS_REGION}\n`,
    { mode: 0o600 },
  );
  const owner = ownerOf(PROD_USER);
  if (owner) fs.chownSync(file, owner.uid, owner.gid);
  return file;
}

async function pgbench(prod: ScratchCluster, args: string[]): Promise<void> {
  const r = await run(path.join(prod.bin.dir, 'pgbench'), [
    ...['-h', prod.socketDir, '-p', String(prod.port), '-U', 'postgres'],
    ...(args[0] === '-i' ? [] : ['-n']),
    ...args,
    'app',
  ]);
  if (r.code !== 0) throw new Error(`pgbench ${args.join(' ')} failed: ${r.stderr}`);
}

/** `tablespace`: a tablespace `ts1` holding table `far` (10 rows), made before the backup. */
export async function startCloudProduction(label: string, tablespace = false): Promise<CloudProduction> {
  const s3 = await startS3();
  await s3.bucket(CLOUD_BUCKET);
  const url = `s3://${CLOUD_BUCKET}/${CLOUD_PREFIX}`;
  const creds = credentialsFile(s3, serverDir(`${label}-creds`));
  const prod = await startCluster({
    ...(PROD_USER ? { osUser: PROD_USER } : {}),
    label: `test-${label}`,
    tuning: 'default',
    settings: {
      wal_level: 'replica',
      archive_mode: 'on',
      archive_command: `env AWS_SHARED_CREDENTIALS_FILE=${creds} AWS_CONFIG_FILE=${creds} barman-cloud-wal-archive -z --endpoint-url ${s3.endpoint} ${url} ${CLOUD_SERVER} %p`,
      max_wal_senders: '4',
    },
  });
  const pg = ['-h', prod.socketDir, '-p', String(prod.port), '-U', 'postgres'];
  await query(prod, 'CREATE DATABASE app');
  await pgbench(prod, ['-i', '-s', '1', '-q']);
  await query(prod, 'CREATE TABLE orders (id serial PRIMARY KEY, batch int)');
  await query(prod, 'INSERT INTO orders (batch) SELECT 1 FROM generate_series(1, 100)');
  const ts = tablespace ? serverDir(`${label}-ts1`) : undefined;
  if (ts) {
    await query(prod, `CREATE TABLESPACE ts1 LOCATION '${ts}'`);
    await query(prod, 'CREATE TABLE far (n int) TABLESPACE ts1');
    await query(prod, 'INSERT INTO far SELECT generate_series(1, 10)');
  }
  await archiveNow(prod);
  const beforeBackup = new Date().toISOString();
  await sleep(1100);
  await cloudTool('barman-cloud-backup', [...pg, '--immediate-checkpoint', url, CLOUD_SERVER], s3, PROD_USER);
  const listed = JSON.parse(
    await cloudTool('barman-cloud-backup-list', ['--format', 'json', url, CLOUD_SERVER], s3),
  ) as { backups_list: { backup_id: string }[] };
  const backupId = listed.backups_list[0]?.backup_id as string;
  await pgbench(prod, ['-c', '2', '-t', '200']);
  await query(prod, 'INSERT INTO orders (batch) SELECT 2 FROM generate_series(1, 100)');
  const marker = (await plantMarker(prod.url('app'), memoryLogger())).name;
  await sleep(1100);
  const target = new Date().toISOString();
  await sleep(1100);
  await query(prod, 'INSERT INTO orders (batch) SELECT 3 FROM generate_series(1, 100)');
  await pgbench(prod, ['-c', '2', '-t', '100']);
  await archiveNow(prod);
  return {
    prod,
    s3,
    url,
    target,
    beforeBackup,
    marker,
    backupId,
    ...(ts ? { tablespace: ts } : {}),
    async stop() {
      await prod.stop();
      await s3.stop();
    },
  };
}
