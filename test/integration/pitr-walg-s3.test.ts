import fs from 'node:fs';
import path from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { ownerOf, type ScratchCluster } from '../../src/postgres/cluster.js';
import { startCluster } from '../harness/pg.js';
import { archiveNow, PROD_USER, query, serverDir, sleep } from '../harness/pitr.js';
import { type S3Harness, startS3 } from '../harness/s3.js';

/**
 * backend wal-g over S3 as seed 003 configures WAL-G for R2 (WALG_S3_PREFIX, AWS_ENDPOINT,
 * AWS_S3_FORCE_PATH_STYLE, brotli), against the stand-in test/fixtures/wal-g and the S3 test
 * server: no WAL-G binary can be installed here.
 */
const STANDIN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/wal-g');
const BUCKET = 'pg-wal';
const PREFIX = 'app_production';

let s3: S3Harness;
let client: S3Client;
let prod: ScratchCluster;
let target: string;

beforeAll(async () => {
  s3 = await startS3();
  await s3.bucket(BUCKET);
  const settings = {
    WALG_S3_PREFIX: `s3://${BUCKET}/${PREFIX}`,
    AWS_ENDPOINT: s3.endpoint,
    AWS_REGION: 'auto',
    AWS_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID as string,
    AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY as string,
    WALG_COMPRESSION_METHOD: 'brotli',
  };
  client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: settings.AWS_ACCESS_KEY_ID, secretAccessKey: settings.AWS_SECRET_ACCESS_KEY },
  });
  // The seed's env file, mode 600, owned by postgres: archive_command reads it with --config.
  const dir = serverDir('walg-s3');
  const envFile = path.join(dir, 'wal-g.json');
  fs.writeFileSync(envFile, JSON.stringify(settings), { mode: 0o600 });
  const owner = ownerOf(PROD_USER);
  if (owner) fs.chownSync(envFile, owner.uid, owner.gid);
  delete process.env.WALG_FILE_PREFIX;
  Object.assign(process.env, settings, { PATH: `${STANDIN}${path.delimiter}${process.env.PATH}` });
  prod = await startCluster({
    ...(PROD_USER ? { osUser: PROD_USER } : {}),
    label: 'test-walg-s3',
    tuning: 'default',
    settings: {
      wal_level: 'replica',
      archive_mode: 'on',
      archive_command: `${STANDIN}/wal-g --config ${envFile} wal-push %p`,
      max_wal_senders: '4',
    },
  });
  Object.assign(process.env, {
    WALG_STANDIN_PG_BIN: prod.bin.dir,
    PGHOST: prod.socketDir,
    PGPORT: String(prod.port),
    PGUSER: 'postgres',
  });
  await query(prod, 'CREATE TABLE orders (id serial PRIMARY KEY, batch int)');
  await query(prod, 'INSERT INTO orders (batch) SELECT 1 FROM generate_series(1, 100)');
  const pushed = await run(path.join(STANDIN, 'wal-g'), ['backup-push', prod.dataDir], {
    user: prod.osUser,
    inherit: ['WALG_', 'AWS_', 'PGHOST', 'PGPORT', 'PGUSER'],
  });
  if (pushed.code !== 0) throw new Error(`wal-g backup-push failed: ${pushed.stderr}`);
  await query(prod, 'INSERT INTO orders (batch) SELECT 2 FROM generate_series(1, 100)');
  await sleep(1100);
  target = new Date().toISOString();
  await sleep(1100);
  await query(prod, 'INSERT INTO orders (batch) SELECT 3 FROM generate_series(1, 100)');
  await archiveNow(prod);
}, 180_000);

afterAll(async () => {
  await prod?.stop();
  client?.destroy();
  await s3?.stop();
});

function checksConfig(): string {
  const cfg = path.join(serverDir('walg-s3-cfg'), 'restorable.yml');
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

const opts = () =>
  parsePitrOptions({ backend: 'wal-g', 'target-time': target, config: checksConfig() }, 'input');

describe('pitr-restore with WAL-G on S3, configured as seed 003 (against the stand-in)', () => {
  it('drill to a time: backup and WAL from the bucket, the checks prove it', async () => {
    const r = await runPitr(opts(), memoryLogger());
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.source).toBe(`WAL-G s3://${BUCKET}/${PREFIX}`);
    expect(r.plan?.backup).toMatch(/^base_[0-9A-F]{24}$/);
    expect(r.stopLine).toMatch(/recovery stopping/);
    // WAL came from the bucket: the server's wal-fetch asked S3 for segments.
    expect(
      s3.requests.some((q) => q.method === 'GET' && q.url.includes(`/${PREFIX}/wal_005/0000000100`)),
    ).toBe(true);
  }, 180_000);

  it('a segment deleted from the bucket is a WAL_GAP at the plan', async () => {
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/wal_005/` }),
    );
    const keys = (listed.Contents ?? [])
      .map((o) => o.Key as string)
      .filter((k) => /\/[0-9A-F]{24}\.br$/.test(k))
      .sort();
    const victim = keys[keys.length - 2] as string;
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: victim }));
    const body = Buffer.from(
      await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: victim }));
    try {
      const r = await runPitr(opts(), memoryLogger());
      expect(r.findings.map((f) => f.rule)).toEqual(['WAL_GAP']);
      expect(r.findings[0]?.message).toContain(path.basename(victim).slice(0, 24));
    } finally {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: victim, Body: body }));
    }
  }, 60_000);
});
