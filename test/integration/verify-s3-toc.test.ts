/**
 * Crafted TOC data offsets on the S3 download's lanes: the tables long enough for a worker start at
 * once from the offsets the TOC claims, each worker following the download's complete front
 * (LanePool.followFromToc, waitForFront). Whatever the offsets say, a verify ends with one clear
 * finding, soon, with no worker left running; the healthy dump passes with its rows counted.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LaneWorkers } from '../../src/archive/lanes.js';
import type { VerifyResult } from '../../src/backup/context.js';
import { parseVerifyOptions } from '../../src/backup/options.js';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { runVerify } from '../../src/verify/run.js';
import { sql, startCluster, tempDir } from '../harness/pg.js';
import { type S3Harness, startS3 } from '../harness/s3.js';
import { setDataOffset, setDataOffsetBytes, swapDataOffsets, tocLayout } from '../harness/toc.js';

let s3: S3Harness;
let dir: string;
let dump: string;
let size: number;
const savedEnv = { ...process.env };
const KiB = 1024;
const MiB = 1024 * KiB;
/** Every decoding worker started, to check none is left running once a verify has returned. */
let started: Worker[] = [];
/** The ranges handed to workers, from the TOC's offsets or the walk's. */
let jobs: { start: number; end: number; what: string }[] = [];

/** Where each table's block is, in the file's order, and where it ends (the next block, or the end). */
let blocks: { table: string; offset: number; end: number }[];

beforeAll(async () => {
  dir = tempDir('verify-s3-toc');
  const cluster = await startCluster();
  try {
    // Two tables of a few MiB of gzip each (workers follow the download into them), one small one.
    await sql(cluster, 'postgres', 'CREATE DATABASE lanes');
    await sql(
      cluster,
      'lanes',
      `CREATE TABLE alpha AS SELECT g, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 70000) g;
       CREATE TABLE beta AS SELECT g, md5((-g)::text) || md5((g * 3)::text) AS v FROM generate_series(1, 60000) g;
       CREATE TABLE gamma AS SELECT g, 'row ' || g AS v FROM generate_series(1, 500) g;`,
    );
    dump = await dumpDatabase(cluster, 'lanes', path.join(dir, 'lanes.dump'));
  } finally {
    await cluster.stop();
  }
  size = fs.statSync(dump).size;
  const layout = tocLayout(fs.readFileSync(dump));
  const data = layout.entries
    .filter((e) => e.desc === 'TABLE DATA')
    .map((e) => ({ table: `${e.namespace}.${e.tag}`, offset: e.offset }))
    .sort((a, b) => a.offset - b.offset);
  blocks = data.map((b, i) => ({ ...b, end: data[i + 1]?.offset ?? size }));
  s3 = await startS3();
  Object.assign(process.env, s3.env);
  await s3.bucket('crafted');
}, 180_000);

afterAll(async () => {
  await s3?.stop();
  process.env = savedEnv;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

const block = (table: string) => blocks.find((b) => b.table === table) as (typeof blocks)[number];

let uploads = 0;
/** Upload `file` alone under a prefix of its own and verify it from S3, in 256 KiB download parts. */
async function verifyFromS3(file: string): Promise<{ r: VerifyResult; seconds: number }> {
  const prefix = `case${++uploads}`;
  await s3.put('crafted', `${prefix}/app_20261202_0300.dump`, fs.readFileSync(file));
  const parsed = parseVerifyOptions(
    {
      source: `s3://crafted/${prefix}/`,
      's3-endpoint': s3.endpoint,
      'max-age': '1000d',
      checksum: 'skip',
      'schema-check': 'false',
      'work-dir': fs.mkdtempSync(path.join(dir, 'work-')),
    },
    'input',
  );
  const t0 = Date.now();
  const r = await runVerify({ ...parsed, s3: { ...parsed.s3, partSize: 256 * KiB } }, memoryLogger());
  return { r, seconds: (Date.now() - t0) / 1000 };
}

/** Record every decoding worker LaneWorkers starts. */
function watchWorkers(): void {
  started = [];
  jobs = [];
  const proto = LaneWorkers.prototype as unknown as { start: () => Worker };
  const start = proto.start;
  const decode = LaneWorkers.prototype.decode;
  vi.spyOn(LaneWorkers.prototype, 'decode').mockImplementation(function (this: LaneWorkers, job) {
    jobs.push({ start: job.start, end: job.end, what: job.what });
    return decode.call(this, job);
  });
  vi.spyOn(proto, 'start').mockImplementation(function (this: LaneWorkers) {
    const w = start.call(this);
    started.push(w);
    return w;
  });
}

/** Every worker started has exited (a terminated worker's threadId is -1). */
async function noWorkerLeft(): Promise<void> {
  const deadline = Date.now() + 5000;
  while (started.some((w) => w.threadId !== -1) && Date.now() < deadline)
    await new Promise((res) => setTimeout(res, 50));
  expect(started.map((w) => w.threadId)).toEqual(started.map(() => -1));
}

describe('crafted TOC data offsets on the S3 download lanes', () => {
  it('the healthy dump passes, with tables decoded in workers that followed the download', async () => {
    const big = blocks.filter((b) => b.end - b.offset >= MiB).map((b) => b.table);
    expect(big.sort()).toEqual(['public.alpha', 'public.beta']);
    watchWorkers();
    const { r } = await verifyFromS3(dump);
    expect(r.findings).toEqual([]);
    expect(r.verdict).toBe('pass');
    expect(r.backup?.tableRows).toEqual({ 'public.alpha': 70000, 'public.beta': 60000, 'public.gamma': 500 });
    expect(started.length).toBeGreaterThan(0);
    await noWorkerLeft();
  });

  /** Each crafted dump: how it is made, and the offset (as the file holds it) its finding names. */
  const cases: [string, (src: string, dest: string) => string, () => bigint][] = [
    [
      'past the end of the file',
      (s, d) => setDataOffset(s, d, 'public.beta', size + 4096),
      () => BigInt(size + 4096),
    ],
    [
      'just past the end, the range before it reaching past the end',
      (s, d) => setDataOffset(s, d, last(), size + 1),
      () => BigInt(size + 1),
    ],
    [
      'into the middle of another table’s block',
      (s, d) => setDataOffset(s, d, 'public.alpha', mid('public.beta')),
      () => BigInt(mid('public.beta')),
    ],
    [
      'into the middle of its own block',
      (s, d) => setDataOffset(s, d, 'public.beta', mid('public.beta')),
      () => BigInt(mid('public.beta')),
    ],
    [
      'overlapping another’s (5 bytes into it)',
      (s, d) => setDataOffset(s, d, 'public.beta', at('public.alpha') + 5),
      () => BigInt(at('public.alpha') + 5),
    ],
    [
      'the same as another table’s',
      (s, d) => setDataOffset(s, d, 'public.beta', at('public.alpha')),
      () => BigInt(at('public.alpha')),
    ],
    [
      'at another table’s block (two swapped)',
      (s, d) => swapDataOffsets(s, d, 'public.alpha', 'public.beta'),
      () => BigInt(at('public.beta')),
    ],
    ['2^40, far past the end', (s, d) => setDataOffset(s, d, 'public.alpha', 2 ** 40), () => 2n ** 40n],
    [
      '2^53 + 1, past what a number holds',
      (s, d) => setDataOffsetBytes(s, d, 'public.alpha', 2n ** 53n + 1n),
      () => 2n ** 53n + 1n,
    ],
    [
      '2^60 and 2^61 (a range far past the end)',
      (s, d) =>
        setDataOffsetBytes(setDataOffsetBytes(s, d, 'public.alpha', 2n ** 60n), d, 'public.beta', 2n ** 61n),
      () => 2n ** 60n,
    ],
    [
      '2^64 - 1 (-1 read as signed)',
      (s, d) => setDataOffsetBytes(s, d, 'public.beta', 2n ** 64n - 1n),
      () => 2n ** 64n - 1n,
    ],
    ['0, the file’s start', (s, d) => setDataOffset(s, d, 'public.alpha', 0), () => 0n],
  ];
  const at = (table: string) => block(table).offset;
  /** The last block's table: a crafted offset past the end makes the range before it reach past the end. */
  const last = () => (blocks[blocks.length - 1] as (typeof blocks)[number]).table;
  const mid = (table: string) => Math.floor((block(table).offset + block(table).end) / 2);

  it.each(cases)(
    'an offset %s: ARCHIVE_CORRUPT, soon, no worker left running',
    async (label, craft, offset) => {
      const bad = craft(dump, path.join(dir, `${label.replace(/\W+/g, '-')}.dump`));
      expect(fs.readFileSync(bad).equals(fs.readFileSync(dump))).toBe(false);
      watchWorkers();
      const { r, seconds } = await verifyFromS3(bad);
      expect(r.verdict).toBe('fail');
      expect(r.findings.map((f) => f.rule)).toEqual(['ARCHIVE_CORRUPT']);
      const message = r.findings[0]?.message ?? '';
      // The offset as the file holds it, not as a double rounds it (2^64 - 1 is not 18446744073709552000).
      expect(message).toMatch(
        new RegExp(`^the TOC places the data of TABLE DATA public\\.\\w+ at offset ${offset()}, `),
      );
      expect(message).not.toMatch(/\n|\bat .*\.ts:\d+/);
      expect(seconds).toBeLessThan(30);
      await noWorkerLeft();
    },
  );

  it('a worker whose range reaches past the end waits for the held download, and ends once it finishes', async () => {
    // gamma's block said to start a byte past the end: beta's range, before it, reaches past the end.
    const bad = setDataOffset(dump, path.join(dir, 'held.dump'), last(), size + 1);
    watchWorkers();
    // Every part from 3 MiB on (inside beta's block) is held unanswered until released.
    const release = s3.holdRangedGets(3 * MiB);
    let ended = false;
    let r: VerifyResult;
    try {
      const running = verifyFromS3(bad).then((v) => {
        ended = true;
        return v;
      });
      const early = () => jobs.some((j) => j.what === 'TABLE DATA public.beta' && j.end === size + 1);
      const deadline = Date.now() + 20_000;
      while (!early() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      expect(early(), JSON.stringify(jobs)).toBe(true);
      await new Promise((res) => setTimeout(res, 1500));
      // Still held: the worker on beta's range waits for the front, the verify has not ended.
      expect(ended).toBe(false);
      expect(started.some((w) => w.threadId !== -1)).toBe(true);
      const t0 = Date.now();
      release();
      r = (await running).r;
      expect(Date.now() - t0).toBeLessThan(15_000);
    } finally {
      release();
    }
    expect(r.findings.map((f) => `${f.rule}: ${f.message}`)).toEqual([
      `ARCHIVE_CORRUPT: the TOC places the data of TABLE DATA public.gamma at offset ${size + 1}, but its block is at offset ${at('public.gamma')}: pg_restore would read the wrong bytes`,
    ]);
    await noWorkerLeft();
  });
});
