import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerifyResult } from '../../src/backup/context.js';
import { parseVerifyOptions } from '../../src/backup/options.js';
import { formatBytes } from '../../src/core/duration.js';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { freePort } from '../../src/postgres/cluster.js';
import { stageProgress } from '../../src/report/progress.js';
import type { StageListener } from '../../src/report/stages.js';
import { runVerify } from '../../src/verify/run.js';
import { compressFile, md5, sha256, truncate } from '../harness/breakers.js';
import { loadChinook, sql, startCluster, tempDir } from '../harness/pg.js';
import { type S3Harness, startS3 } from '../harness/s3.js';
import { setDataOffset, setDataState, tocEntry, tocLayout } from '../harness/toc.js';

let s3: S3Harness;
let dir: string;
let dump: string;
let dumpBytes: Buffer;
let plain: string;
let tar: string;
let big: string;
const savedEnv = { ...process.env };
const MiB = 1024 * 1024;

beforeAll(async () => {
  dir = tempDir('verify-s3');
  const cluster = await startCluster();
  try {
    await loadChinook(cluster);
    dump = await dumpDatabase(cluster, 'chinook', path.join(dir, 'app_prod_20260429_1430.dump'));
    plain = await dumpDatabase(cluster, 'chinook', path.join(dir, 'plain.sql'), { format: 'p' });
    tar = await dumpDatabase(cluster, 'chinook', path.join(dir, 'chinook.tar'), { format: 't' });
    // A dump of three 4 MiB download parts (uncompressed md5 text), for the download's progress.
    await sql(cluster, 'postgres', 'CREATE DATABASE big');
    await sql(
      cluster,
      'big',
      `CREATE TABLE t AS SELECT g, md5(g::text) || md5((-g)::text) AS v FROM generate_series(1, 150000) g`,
    );
    big = await dumpDatabase(cluster, 'big', path.join(dir, 'big.dump'), { compress: 0 });
  } finally {
    await cluster.stop();
  }
  dumpBytes = fs.readFileSync(dump);
  s3 = await startS3();
  Object.assign(process.env, s3.env);
  await s3.bucket('backups');
  // Seed 004's layout: dumps under database/, the checksum in object metadata.
  await s3.put('backups', 'database/app_prod_20260428_1430.dump', dumpBytes, { md5: md5(dump) });
  await s3.put('backups', 'database/app_prod_20260429_1430.dump', dumpBytes, { sha256: sha256(dump) });
  await s3.put('backups', 'wrongsum/app_prod_20260429_1430.dump', dumpBytes, { sha256: 'f'.repeat(64) });
  await s3.put('backups', 'md5/app_prod_20260428_1430.dump', dumpBytes, { md5: md5(dump) });
  await s3.put('backups', 'sidecar/full.dump', dumpBytes);
  await s3.put('backups', 'sidecar/full.dump.sha256', `${sha256(dump)}  full.dump\n`);
  const cut = truncate(dump, path.join(dir, 'cut.dump'), Math.floor(dumpBytes.length * 0.6));
  await s3.put('backups', 'cut/app_prod_20260429_1430.dump', fs.readFileSync(cut), { sha256: sha256(dump) });
  await s3.put('backups', 'empty/app_prod_20260429_1430.dump', Buffer.alloc(0));
  // One table's TOC entry flipped to "no data", and one table's data offset one byte late.
  const noData = setDataState(dump, path.join(dir, 'nodata.dump'), 'public.playlist_track', 3);
  await s3.put('backups', 'nodata/app_prod_20260429_1430.dump', fs.readFileSync(noData));
  const late = tocEntry(tocLayout(dumpBytes), 'public.track').offset + 1;
  const moved = setDataOffset(dump, path.join(dir, 'moved.dump'), 'public.track', late);
  await s3.put('backups', 'moved/app_prod_20260429_1430.dump', fs.readFileSync(moved));
  // Forms side by side: an older custom dump, a newer plain one piped through zstd, a tar.
  const zst = compressFile('zstd', plain, path.join(dir, 'plain.sql.zst'));
  await s3.put('backups', 'forms/app_20260427_0300.dump', dumpBytes);
  await s3.put('backups', 'forms/app_20260429_0300.sql.zst', fs.readFileSync(zst));
  await s3.put('backups', 'tar/app_20260429_0300.tar', fs.readFileSync(tar));
  const zstCut = truncate(zst, path.join(dir, 'cut.sql.zst'), Math.floor(fs.statSync(zst).size / 2));
  await s3.put('backups', 'zstcut/app_20260429_0300.sql.zst', fs.readFileSync(zstCut));
  await s3.put('backups', 'big/app_20260429_0300.dump', fs.readFileSync(big));
}, 180_000);

afterAll(async () => {
  await s3?.stop();
  process.env = savedEnv;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function verify(
  source: string,
  extra: Record<string, string> = {},
  onStage?: StageListener,
  partSize?: number,
): Promise<VerifyResult> {
  const parsed = parseVerifyOptions(
    {
      source,
      's3-endpoint': s3.endpoint,
      'max-age': '1000d',
      'work-dir': fs.mkdtempSync(path.join(dir, 'work-')),
      ...extra,
    },
    'input',
  );
  const opts = partSize ? { ...parsed, s3: { ...parsed.s3, partSize } } : parsed;
  return runVerify(opts, memoryLogger(), onStage);
}

const rules = (r: VerifyResult) => r.findings.map((x) => x.rule).sort();

describe('verify-backup from S3', () => {
  it('a download prints its progress: bytes downloaded and read, of the object’s size', async () => {
    const size = fs.statSync(big).size;
    expect(size).toBeGreaterThan(8 * MiB);
    const lines: string[] = [];
    const listener = stageProgress({ line: (l) => lines.push(l) }, (st) => `${st.name} ended`, 100);
    const line =
      /^▸ read +\d+s {2}downloaded (\S+ \S+) of (\S+ \S+) \((\d+)%\), read (\S+ \S+) of (\S+ \S+) \((\d+)%\)$/;
    // In 4 MiB parts: the first arrives; the others are held until a progress line has told of it.
    const release = s3.holdRangedGets(4 * MiB);
    let r: VerifyResult;
    try {
      const running = verify('s3://backups/big/', { checksum: 'skip' }, listener, 4 * MiB);
      const held = () => lines.some((l) => line.exec(l)?.[1] === '4.0 MiB');
      const deadline = Date.now() + 30_000;
      while (!held() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      release();
      r = await running;
    } finally {
      release();
    }
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    const seen = lines.map((l) => line.exec(l)).filter((m) => m !== null);
    expect(seen.length, lines.join('\n')).toBeGreaterThan(0);
    for (const m of seen) {
      expect([m[2], m[5]], lines.join('\n')).toEqual([formatBytes(size), formatBytes(size)]);
      // Read never runs ahead of the download.
      expect(Number(m[6])).toBeLessThanOrEqual(Number(m[3]));
    }
    // While the rest was held: the first part downloaded, a quarter to a half of the object.
    const part = seen.find((m) => m[1] === '4.0 MiB');
    expect(part, lines.join('\n')).toBeDefined();
    expect(Number(part?.[3])).toBe(Math.floor((100 * 4 * MiB) / size));
  });

  it('passes the newest backup with a sha256 in object metadata, and lands it on disk for the next step', async () => {
    const r = await verify('s3://backups/database/');
    expect(rules(r)).toEqual([]);
    expect(r.verdict).toBe('pass');
    expect(r.backup?.name).toBe('app_prod_20260429_1430.dump');
    expect(r.backup?.checksum).toEqual({
      algorithm: 'sha256',
      from: 'object metadata "sha256"',
      matched: true,
    });
    const local = r.backup?.localPath as string;
    expect(fs.existsSync(local)).toBe(true);
    expect(sha256(local)).toBe(sha256(dump));
    expect(r.stages.find((s) => s.name === 'schema')?.status).toBe('ok');
  });

  it('a TOC that contradicts the blocks is ARCHIVE_CORRUPT from a download too; a healthy one has its rows counted', async () => {
    for (const [prefix, message] of [
      [
        'nodata',
        /^the TOC marks TABLE DATA public\.playlist_track as having no data, but its data block is at offset \d+/,
      ],
      [
        'moved',
        /^the TOC places the data of TABLE DATA public\.track at offset \d+, but its block is at offset \d+/,
      ],
    ] as const) {
      const r = await verify(`s3://backups/${prefix}/`, { checksum: 'skip', 'schema-check': 'false' });
      expect(rules(r)).toEqual(['ARCHIVE_CORRUPT']);
      expect(r.findings[0]?.message).toMatch(message);
    }
    const healthy = await verify('s3://backups/database/', { 'schema-check': 'false' });
    expect(healthy.backup?.tableRows).toMatchObject({ 'public.track': 3503, 'public.playlist_track': 8715 });
  });

  it('the newest across forms (a .sql.zst over an older .dump), a tar, each read and replayed; a cut .sql.zst is ARCHIVE_TRUNCATED', async () => {
    const zst = await verify('s3://backups/forms/', { checksum: 'skip' });
    expect(rules(zst)).toEqual([]);
    expect(zst.backup).toMatchObject({ name: 'app_20260429_0300.sql.zst', format: 'plain', wrapper: 'zstd' });
    expect(zst.backup?.tableRows).toMatchObject({ 'public.track': 3503 });
    expect(zst.stages.find((s) => s.name === 'schema')?.status).toBe('ok');
    const t = await verify('s3://backups/tar/', { checksum: 'skip' });
    expect(rules(t)).toEqual([]);
    expect(t.backup).toMatchObject({
      format: 'tar',
      tableRows: expect.objectContaining({ 'public.track': 3503 }),
    });
    const cut = await verify('s3://backups/zstcut/', { checksum: 'skip', 'schema-check': 'false' });
    expect(rules(cut)).toEqual(['ARCHIVE_TRUNCATED']);
  });

  it('downloads with parallel ranged GETs', async () => {
    const before = s3.requests.length;
    // Small parts so even chinook's dump takes several ranges.
    const opts = parseVerifyOptions(
      {
        source: 's3://backups/database/',
        's3-endpoint': s3.endpoint,
        'max-age': '1000d',
        'schema-check': 'false',
      },
      'input',
    );
    const r = await runVerify(
      { ...opts, workDir: fs.mkdtempSync(path.join(dir, 'w-')), s3: { ...opts.s3, partSize: 16 * 1024 } },
      memoryLogger(),
    );
    expect(r.verdict).toBe('pass');
    const ranged = s3.requests.slice(before).filter((q) => q.method === 'GET' && q.range);
    expect(ranged.length).toBeGreaterThanOrEqual(Math.floor(dumpBytes.length / (16 * 1024)));
  });

  it('an md5 in metadata and a .sha256 sidecar object are used too', async () => {
    const m = await verify('s3://backups/md5/');
    expect(rules(m)).toEqual([]);
    expect(m.backup?.checksum?.algorithm).toBe('md5');
    const s = await verify('s3://backups/sidecar/', { pattern: 'full.dump' });
    expect(rules(s)).toEqual([]);
    expect(s.backup?.checksum?.from).toBe('full.dump.sha256');
  });

  it('CHECKSUM_MISMATCH fires on metadata that disagrees', async () => {
    const r = await verify('s3://backups/wrongsum/');
    expect(rules(r)).toEqual(['CHECKSUM_MISMATCH']);
    expect(r.verdict).toBe('fail');
  });

  it('a truncated upload is ARCHIVE_TRUNCATED and CHECKSUM_MISMATCH', async () => {
    const r = await verify('s3://backups/cut/', { 'schema-check': 'false' });
    expect(rules(r)).toEqual(['ARCHIVE_TRUNCATED', 'CHECKSUM_MISMATCH']);
  });

  it('an empty object is ARCHIVE_UNREADABLE, downloaded as an empty file', async () => {
    const r = await verify('s3://backups/empty/', { checksum: 'skip', 'schema-check': 'false' });
    expect(rules(r)).toEqual(['ARCHIVE_UNREADABLE']);
    expect(fs.statSync(r.backup?.localPath as string).size).toBe(0);
  });

  it('BACKUP_MISSING under an empty prefix', async () => {
    const r = await verify('s3://backups/nothing-here/');
    expect(rules(r)).toEqual(['BACKUP_MISSING']);
  });

  it('FETCH_FAILED: a download that fails part-way is could-not-verify, with no finding about the half it read', async () => {
    s3.failRangedGets(1000);
    try {
      const r = await verify('s3://backups/database/', { 'schema-check': 'false' });
      expect(rules(r)).toEqual(['FETCH_FAILED']);
      expect(r.verdict).toBe('could-not-verify');
      expect(r.findings[0]?.message).toContain('s3://backups/database/app_prod_20260429_1430.dump');
    } finally {
      s3.failRangedGets(0);
    }
  });

  it('FETCH_FAILED: an unreachable endpoint is could-not-verify, never pass, and leaks no secret', async () => {
    const port = await freePort();
    const opts = parseVerifyOptions(
      { source: 's3://backups/database/', 's3-endpoint': `http://127.0.0.1:${port}`, 'max-age': '1000d' },
      'input',
    );
    const r = await runVerify({ ...opts, workDir: dir }, memoryLogger());
    expect(rules(r)).toEqual(['FETCH_FAILED']);
    expect(r.verdict).toBe('could-not-verify');
    expect(JSON.stringify(r)).not.toContain(s3.env.AWS_SECRET_ACCESS_KEY as string);
    expect(r.stages.filter((s) => s.status === 'skipped').map((s) => s.name)).toEqual([
      'age',
      'retention',
      'read',
      'checksum',
      'archive',
      'schema',
    ]);
  });
});
