/**
 * A plain base backup (pg_basebackup -Fp) with many files, one S3 object each, restored with the
 * concurrent fetch and recovered: the data is checked on the recovered server, the manifest check
 * still runs (a damaged object is BASE_BACKUP_CORRUPT).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { parseDbUrl, withClient } from '../../src/postgres/client.js';
import type { ScratchCluster } from '../../src/postgres/cluster.js';
import { archiveNow, baseBackup, query, serverDir, startArchiving } from '../harness/pitr.js';
import { type S3Harness, startS3 } from '../harness/s3.js';

const TABLES = 300;
let prod: ScratchCluster;
let s3: S3Harness;
let backup: string;
let expected: { small: string; big: string };
const saved = { ...process.env };

/** One digest of every small table's rows, and one of the big table's. */
const digests = {
  small: `SELECT md5(string_agg(s, ',' ORDER BY s)) AS d FROM (${Array.from(
    { length: TABLES },
    (_, i) => `SELECT 't${i}:' || id || v AS s FROM t_${i}`,
  ).join(' UNION ALL ')}) q`,
  big: `SELECT md5(string_agg(id || pad, ',' ORDER BY id)) || ':' || count(*) AS d FROM big`,
};

function filesUnder(root: string): string[] {
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => path.relative(root, path.join(f.parentPath, f.name)));
}

async function uploadAll(dir: string, prefix: string): Promise<void> {
  const queue = filesUnder(dir);
  const worker = async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift())
      await s3.put('pitr', `${prefix}${f}`, fs.readFileSync(path.join(dir, f)));
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

beforeAll(async () => {
  const archive = serverDir('pitr-s3plain-archive');
  const base = serverDir('pitr-s3plain-base');
  prod = await startArchiving('test-pitr-s3plain', archive);
  // Hundreds of small tables (a heap and an index file each), one of a few pages, and one larger
  // than a ranged GET's part (4 MiB): every way an object is fetched.
  await query(
    prod,
    `DO $$ BEGIN FOR i IN 0..${TABLES - 1} LOOP
       EXECUTE format('CREATE TABLE t_%s (id int PRIMARY KEY, v text)', i);
       EXECUTE format('INSERT INTO t_%s SELECT g, md5(g::text || %s) FROM generate_series(1, 10) g', i, i);
     END LOOP; END $$`,
  );
  await query(prod, 'CREATE TABLE mid AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g');
  await query(
    prod,
    'CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 3) AS pad FROM generate_series(1, 60000) g',
  );
  backup = path.join(base, 'b1');
  await baseBackup(prod, backup);
  await query(prod, 'INSERT INTO big SELECT g, repeat(md5(g::text), 2) FROM generate_series(60001, 61000) g');
  await query(prod, 'UPDATE t_7 SET v = v || v');
  expected = {
    small: (await query<{ d: string }>(prod, digests.small))[0]?.d as string,
    big: (await query<{ d: string }>(prod, digests.big))[0]?.d as string,
  };
  await query(prod, "SELECT pg_create_restore_point('after-changes')");
  // After the target: never seen on the recovered server.
  await query(prod, 'DELETE FROM big WHERE id > 1000');
  await archiveNow(prod);
  s3 = await startS3();
  Object.assign(process.env, s3.env);
  await s3.bucket('pitr');
  await uploadAll(base, 'plain/');
  await uploadAll(archive, 'wal/');
}, 240_000);

afterAll(async () => {
  process.env = saved;
  await s3?.stop();
  await prod?.stop();
});

const fromS3 = (extra: Record<string, string>) =>
  parsePitrOptions(
    {
      'base-backups': 's3://pitr/plain',
      'wal-archive': 's3://pitr/wal',
      's3-endpoint': s3.endpoint,
      ...extra,
    },
    'input',
  );

describe('pitr-restore from S3, plain base backup with many files', () => {
  it('restores every object concurrently, passes pg_verifybackup, and recovers the data as it was', async () => {
    expect(filesUnder(backup).length).toBeGreaterThan(1000);
    const dir = path.join(serverDir('pitr-s3plain-sbs'), 'clone');
    const r = await runPitr(
      fromS3({ mode: 'side-by-side', 'data-directory': dir, 'target-name': 'after-changes' }),
      memoryLogger(),
    );
    try {
      expect(r.verdict, JSON.stringify(r.findings)).not.toBe('fail');
      expect(r.stages.find((s) => s.name === 'fetch')?.status).toBe('ok');
      expect(r.stages.find((s) => s.name === 'recover')?.status).toBe('ok');
      // The manifest was there and pg_verifybackup passed it.
      expect(r.findings.map((f) => f.rule)).not.toContain('BASE_BACKUP_UNVERIFIED');
      const conn = parseDbUrl('database-url', r.databaseUrl as string, () => {});
      const got = await withClient(conn, async (c) => ({
        small: (await c.query<{ d: string }>(digests.small)).rows[0]?.d,
        big: (await c.query<{ d: string }>(digests.big)).rows[0]?.d,
      }));
      expect(got).toEqual(expected);
      expect(expected.big).toMatch(/:61000$/);
    } finally {
      await run(path.join(prod.bin.dir, 'pg_ctl'), ['-D', dir, '-m', 'immediate', '-w', 'stop'], {
        user: prod.osUser,
      });
    }
    // Objects overlapped: more than one was being fetched at a time.
    const gets = s3.requests.filter((q) => q.method === 'GET' && q.url.startsWith('/pitr/plain/') && q.range);
    const widest = Math.max(
      ...gets.map(
        (q) => gets.filter((o) => o.started <= q.started && (o.finished ?? q.started) > q.started).length,
      ),
    );
    expect(widest).toBeGreaterThan(1);
  }, 240_000);

  it('still finds an object damaged in the store (same size, other bytes) with pg_verifybackup', async () => {
    const victim = filesUnder(backup).find(
      (f) => /^base\/\d+\/\d+$/.test(f) && fs.statSync(path.join(backup, f)).size >= 8192,
    ) as string;
    const bytes = fs.readFileSync(path.join(backup, victim));
    const damaged = Buffer.from(bytes);
    damaged[4000] = (damaged[4000] ?? 0) ^ 0xff;
    await s3.put('pitr', `plain/b1/${victim}`, damaged);
    try {
      const r = await runPitr(fromS3({ 'target-immediate': 'true' }), memoryLogger());
      expect(r.verdict).toBe('fail');
      const f = r.findings.find((x) => x.rule === 'BASE_BACKUP_CORRUPT');
      expect(f?.message).toMatch(/pg_verifybackup failed/);
      expect(f?.message).toContain(victim);
    } finally {
      await s3.put('pitr', `plain/b1/${victim}`, bytes);
    }
  }, 240_000);
});
