/**
 * `backend: barman-cloud` against Barman Cloud's own tools and the S3 test server: a scratch
 * production archiving with barman-cloud-wal-archive and backed up with barman-cloud-backup
 * (test/harness/barman-cloud.ts), a pgbench workload with markers; drills, a clone, in place, the
 * plan's findings, and a hostile bucket.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { parseDbUrl, withClient } from '../../src/postgres/client.js';
import { PgCtl } from '../../src/postgres/pgctl.js';
import { barmanChecks } from '../harness/barman.js';
import {
  CLOUD_BUCKET,
  CLOUD_INSTALL,
  CLOUD_PREFIX,
  CLOUD_SERVER,
  type CloudProduction,
  cloudTool,
  startCloudProduction,
} from '../harness/barman-cloud.js';
import { serverDir } from '../harness/pitr.js';

let f: CloudProduction;
const rules = (r: { findings: { rule: string }[] }) => r.findings.map((x) => x.rule);

beforeAll(async () => {
  for (const tool of [
    'barman-cloud-backup',
    'barman-cloud-backup-list',
    'barman-cloud-restore',
    'barman-cloud-wal-restore',
  ])
    expect(spawnSync('which', [tool]).status, `${tool} is missing: ${CLOUD_INSTALL}`).toBe(0);
  expect(spawnSync('python3', ['-c', 'import boto3']).status, `boto3 is missing: ${CLOUD_INSTALL}`).toBe(0);
  f = await startCloudProduction('barman-cloud', true);
  // Restorable's runs take the keys from the environment, as barman-cloud's tools do.
  Object.assign(process.env, f.s3.env);
}, 240_000);

afterAll(async () => {
  s3client?.destroy();
  await f?.stop();
});

let s3client: S3Client | undefined;
const client = () => {
  s3client ??= new S3Client({
    endpoint: f.s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return s3client;
};
async function listKeys(prefix: string): Promise<string[]> {
  const listed = await client().send(new ListObjectsV2Command({ Bucket: CLOUD_BUCKET, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key as string);
}
async function getObject(key: string): Promise<Buffer> {
  const got = await client().send(new GetObjectCommand({ Bucket: CLOUD_BUCKET, Key: key }));
  return Buffer.from(
    await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

const SECRET = () => f.s3.env.AWS_SECRET_ACCESS_KEY as string;

const opts = (extra: Record<string, string> = {}) =>
  parsePitrOptions(
    {
      backend: 'barman-cloud',
      'barman-server': CLOUD_SERVER,
      'barman-cloud-url': f.url,
      's3-endpoint': f.s3.endpoint,
      'target-time': f.target,
      config: barmanChecks(),
      ...extra,
    },
    'input',
  );

const walGets = () =>
  f.s3.requests.filter((q) => q.method === 'GET' && /\/main\/wals\/[0-9A-F]{16}\//.test(q.url));

describe('pitr-restore with Barman Cloud on S3', () => {
  it('drill to target-immediate: barman-cloud-restore of the latest backup, WAL from the bucket, proved', async () => {
    const before = walGets().length;
    const r = await runPitr(
      opts({ 'target-time': '', 'target-immediate': 'true', backup: 'latest', config: barmanChecks(true) }),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.source).toBe(`Barman Cloud ${f.url} server main`);
    expect(r.plan?.backup).toBe(f.backupId);
    expect(r.stopLine).toMatch(/consistency/);
    expect(r.stages.find((s) => s.name === 'teardown')?.status).toBe('ok');
    // barman-cloud-wal-restore, run by the server, fetched the WAL from the bucket.
    expect(walGets().length).toBeGreaterThan(before);
  }, 180_000);

  it('drill to a time: the newest backup before it, the bucket’s WAL in the plan, the point proved', async () => {
    const log = memoryLogger();
    const r = await runPitr(opts(), log);
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.plan?.backup).toBe(f.backupId);
    expect(r.plan?.backupEnded).toMatch(/Z$/);
    expect(r.plan?.walSegments).toBeGreaterThan(1);
    expect(r.checks?.every((c) => c.ok)).toBe(true);
    expect(r.stopLine).toMatch(/recovery stopping/);
    expect(JSON.stringify(r)).not.toContain(SECRET());
    expect(log.lines.join('\n')).not.toContain(SECRET());
  }, 180_000);

  it('drill to the marker planted on app (target-name)', async () => {
    const r = await runPitr(opts({ 'target-time': '', 'target-name': f.marker }), memoryLogger());
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.proof?.holds).toBe(true);
  }, 180_000);

  it('side by side: the clone on its own port, its tablespace beside it; no key in its configuration, its key file gone', async () => {
    const dir = path.join(serverDir('barman-cloud-clone'), 'clone');
    const prodTs = fs.readdirSync(f.tablespace as string, { recursive: true }).length;
    const r = await runPitr(opts({ mode: 'side-by-side', 'data-directory': dir }), memoryLogger());
    try {
      expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
      expect(r.databaseUrl).toMatch(/^postgresql:/);
      // The tablespace went beside the clone, never into production's folder (Barman's default).
      const links = fs.readdirSync(path.join(dir, 'pg_tblspc'));
      expect(links).toHaveLength(1);
      const to = fs.readlinkSync(path.join(dir, 'pg_tblspc', links[0] as string));
      expect(to).toBe(path.join(fs.realpathSync(`${dir}.tablespaces`), 'ts1'));
      expect(fs.readdirSync(f.tablespace as string, { recursive: true }).length).toBe(prodTs);
      const far = await withClient(
        parseDbUrl('url', r.databaseUrl as string, () => {}),
        (c) => c.query<{ n: string }>('select count(*) as n from far'),
      );
      expect(far.rows[0]?.n).toBe('10');
      for (const conf of ['postgresql.conf', 'postgresql.auto.conf'])
        expect(fs.readFileSync(path.join(dir, conf), 'utf8')).not.toContain(SECRET());
      const beside = fs.readdirSync(path.dirname(dir));
      expect(beside.filter((n) => n.includes('spool'))).toEqual([]);
    } finally {
      await new PgCtl(f.prod.bin.dir, dir, f.prod.osUser).shutdown();
    }
  }, 180_000);
});

describe('the plan, before anything runs', () => {
  it('a target after the last WAL in the bucket is found at the plan (nothing restored)', async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    const r = await runPitr(opts({ 'target-time': future }), memoryLogger());
    expect(rules(r)).toEqual(['PITR_TARGET_UNREACHED']);
    expect(r.stages.find((s) => s.name === 'fetch')?.status).toBe('skipped');
  }, 60_000);

  it('a target before the backup’s end is found at the plan', async () => {
    const r = await runPitr(opts({ 'target-time': f.beforeBackup }), memoryLogger());
    expect(rules(r)).toEqual(['PITR_TARGET_BEFORE_BACKUP']);
    expect(r.stages.find((s) => s.name === 'fetch')?.status).toBe('skipped');
  }, 60_000);

  it('a WAL object removed from the bucket is a WAL_GAP naming it; the healthy bucket says nothing', async () => {
    const keys = (await listKeys(`${CLOUD_PREFIX}/main/wals/`))
      .filter((k) => /\/[0-9A-F]{24}\.gz$/.test(k))
      .sort();
    const victim = keys[keys.length - 2] as string;
    const body = await getObject(victim);
    await client().send(new DeleteObjectCommand({ Bucket: CLOUD_BUCKET, Key: victim }));
    try {
      const r = await runPitr(opts({ 'plan-only': 'true' }), memoryLogger());
      expect(rules(r)).toEqual(['WAL_GAP']);
      expect(r.findings[0]?.message).toContain(path.basename(victim, '.gz'));
    } finally {
      await f.s3.put(CLOUD_BUCKET, victim, body);
    }
    const ok = await runPitr(opts({ 'plan-only': 'true' }), memoryLogger());
    expect(rules(ok)).toEqual([]);
    expect(ok.plan?.reachesTarget).toBe('cannot tell');
  }, 60_000);
});

describe('hostile inputs and a hostile bucket', () => {
  it('names that could be options, paths or shell words are refused before any tool runs', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ 'barman-server': '--endpoint-url=http://evil' }, /^barman-server: /],
      [{ 'barman-server': 'main/../other' }, /^barman-server: /],
      [{ backup: '-h' }, /^backup: /],
      [{ 'barman-cloud-url': "s3://pg-barman/prod';touch /tmp/x;'" }, /^barman-cloud-url: /],
      [{ 'barman-cloud-url': 's3://pg-barman/../other' }, /^barman-cloud-url: /],
      [{ 'barman-cloud-url': 's3://--endpoint-url=x/prod' }, /^barman-cloud-url: /],
      [{ 's3-endpoint': 'http://key:secret@127.0.0.1:9000' }, /^s3-endpoint: holds a user name/],
      [{ 's3-endpoint': '--endpoint-url=http://evil' }, /^s3-endpoint: /],
      [{ 's3-endpoint': 'file:///etc/passwd' }, /^s3-endpoint: /],
      [{ 's3-endpoint': "http://127.0.0.1:9000/'$(touch /tmp/x)'" }, /^s3-endpoint: /],
    ];
    for (const [extra, said] of bad) expect(() => opts(extra), JSON.stringify(extra)).toThrow(said);
    // The healthy ones pass, normalised.
    expect(opts({ 'barman-cloud-url': `${f.url}/` })).toMatchObject({ barmanCloudUrl: f.url });
  });

  it('a bucket that does not exist is one line naming barman-cloud-url; a server with no backups is BACKUP_MISSING', async () => {
    await expect(
      runPitr(opts({ 'barman-cloud-url': 's3://no-such-bucket/prod', 'plan-only': 'true' }), memoryLogger()),
    ).rejects.toThrow(
      /^barman-cloud-url: barman-cloud-backup-list s3:\/\/no-such-bucket\/prod main failed: .*no-such-bucket/,
    );
    const r = await runPitr(opts({ 'barman-server': 'other', 'plan-only': 'true' }), memoryLogger());
    expect(rules(r)).toEqual(['BACKUP_MISSING']);
  }, 60_000);

  it('a key with a line break (it would write settings into the server’s key file) is refused before anything runs', async () => {
    const saved = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = `${saved}\ncredential_process = touch /tmp/restorable-evil`;
    try {
      await expect(runPitr(opts(), memoryLogger())).rejects.toThrow(
        /^AWS_SECRET_ACCESS_KEY: holds a line break/,
      );
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = saved;
    }
  });

  /** A copy of the real backup's backup.info under another id, ending later (so it is the newest). */
  async function forge(id: string, change: (info: string) => string = (x) => x): Promise<string[]> {
    const info = (await getObject(`${CLOUD_PREFIX}/main/base/${f.backupId}/backup.info`)).toString();
    const key = `${CLOUD_PREFIX}/main/base/${id}/backup.info`;
    const later = info.replace(/^end_time=.*$/m, 'end_time=2099-12-31 23:59:59.000000+00:00');
    await f.s3.put(CLOUD_BUCKET, key, change(later));
    return [key];
  }
  async function remove(keys: string[]): Promise<void> {
    for (const Key of keys) await client().send(new DeleteObjectCommand({ Bucket: CLOUD_BUCKET, Key }));
  }
  const immediate = (backup: string) =>
    opts({ 'target-time': '', 'target-immediate': 'true', backup, config: barmanChecks(true) });

  it('a backup in the list whose id could be an option is never chosen', async () => {
    const keys = await forge('--endpoint-url=http:');
    try {
      const listed = await cloudTool('barman-cloud-backup-list', ['--format', 'json', f.url, 'main'], f.s3);
      // It reached barman-cloud-backup-list's answer; Restorable left it out.
      expect(listed).toContain('"--endpoint-url=http:"');
      const r = await runPitr(immediate('latest'), memoryLogger());
      expect(r.plan?.backup).toBe(f.backupId);
      expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    } finally {
      await remove(keys);
    }
  }, 180_000);

  it('a backup whose tablespace has a hostile name is refused before barman-cloud-restore runs', async () => {
    const id = '20991231T235959';
    const keys = await forge(id, (x) =>
      x.replace(/^tablespaces=.*$/m, "tablespaces=[('x;touch', 16400, '/etc/restorable-evil')]"),
    );
    try {
      const r = await runPitr(immediate(id), memoryLogger());
      expect(rules(r)).toEqual(['BASE_BACKUP_CORRUPT']);
      expect(r.findings[0]?.message).toContain('"x;touch"');
      expect(fs.existsSync('/etc/restorable-evil')).toBe(false);
      expect(r.stages.find((s) => s.name === 'recover')?.status).toBe('skipped');
    } finally {
      await remove(keys);
    }
  }, 60_000);

  it('a backup whose tar writes outside the folder is refused, and nothing is written there', async () => {
    const id = '20991231T235958';
    const escaped = path.join(serverDir('barman-cloud-escape'), 'escaped');
    const tar = path.join(path.dirname(escaped), 'data.tar');
    const made = spawnSync('python3', [
      '-c',
      'import io, sys, tarfile\nwith tarfile.open(sys.argv[1], "w") as t:\n  b = b"x"\n  i = tarfile.TarInfo("../" * 12 + sys.argv[2].lstrip("/")); i.size = 1\n  t.addfile(i, io.BytesIO(b))',
      tar,
      escaped,
    ]);
    expect(made.status, made.stderr.toString()).toBe(0);
    // Only data.tar: the crafted backup has no tablespace of its own.
    const keys = await forge(id, (x) => x.replace(/^tablespaces=.*$/m, 'tablespaces=None'));
    await f.s3.put(CLOUD_BUCKET, `${CLOUD_PREFIX}/main/base/${id}/data.tar`, fs.readFileSync(tar));
    keys.push(`${CLOUD_PREFIX}/main/base/${id}/data.tar`);
    try {
      const r = await runPitr(immediate(id), memoryLogger());
      expect(rules(r)).toEqual(['BASE_BACKUP_CORRUPT']);
      expect(r.findings[0]?.message).toMatch(/would be written outside/);
      expect(fs.existsSync(escaped)).toBe(false);
    } finally {
      await remove(keys);
    }
  }, 60_000);
});
