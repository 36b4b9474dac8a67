import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { memoryLogger } from '../../src/core/log.js';
import { GrowingFile } from '../../src/sources/growing.js';
import { FetchError, parseS3Url, S3Source } from '../../src/sources/s3.js';
import { type S3Harness, startS3 } from '../harness/s3.js';

const MiB = 1024 * 1024;
const BUCKET = 'restorable-test';

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readAll(source: S3Source, name: string): Promise<{ data: Buffer; chunks: number }> {
  const parts: Buffer[] = [];
  for await (const chunk of source.read(name)) parts.push(chunk);
  return { data: Buffer.concat(parts), chunks: parts.length };
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Set the given environment variables; the function returned puts the old values back. */
function withEnv(env: Record<string, string>): () => void {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

describe('parseS3Url', () => {
  it('splits bucket and prefix and makes the prefix a folder', () => {
    expect(parseS3Url('source', 's3://my-backups/postgres/nightly')).toEqual({
      bucket: 'my-backups',
      prefix: 'postgres/nightly/',
    });
    expect(parseS3Url('source', 's3://my-backups/postgres/')).toEqual({
      bucket: 'my-backups',
      prefix: 'postgres/',
    });
    expect(parseS3Url('source', 's3://my-backups')).toEqual({ bucket: 'my-backups', prefix: '' });
    expect(parseS3Url('source', 's3://my-backups/')).toEqual({ bucket: 'my-backups', prefix: '' });
  });

  it.each([
    ['s3://', 'names no bucket'],
    ['s3:///prefix', 'names no bucket'],
    ['https://bucket/x', 'is not an s3:// URL'],
    ['s3://a/x', 'is not a valid bucket name'],
    ['s3://bad bucket/x', 'is not a valid bucket name'],
    ['s3://localhost:9000/bucket', 'is not a valid bucket name'],
  ])('rejects %s as a UserError naming the input and the fix', (url, problem) => {
    let caught: unknown;
    try {
      parseS3Url('--source', url);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UserError);
    const err = caught as UserError;
    expect(err.input).toBe('--source');
    expect(err.message.startsWith('--source: ')).toBe(true);
    expect(err.message).toContain(problem);
    expect(err.message).toContain('s3://bucket/prefix');
  });
});

describe('S3Source against s3rver', () => {
  let s3: S3Harness;
  let restoreEnv: () => void;
  const big = randomBytes(20 * MiB);
  const odd = randomBytes(3 * MiB + 12_345);

  beforeAll(async () => {
    s3 = await startS3();
    restoreEnv = withEnv(s3.env);
    await s3.bucket(BUCKET);
    await s3.put(BUCKET, 'backups/db-2024-01-01.dump', 'one', { sha256: 'abc123' });
    await s3.put(BUCKET, 'backups/nested/db-2024-01-02.dump', 'second file');
    await s3.put(BUCKET, 'backups/folder/', '');
    await s3.put(BUCKET, 'backups/db.dump.sha256', 'deadbeef  db.dump\n');
    await s3.put(BUCKET, 'backups-old/not-mine.dump', 'sibling prefix');
    await s3.put(BUCKET, 'big/twenty.bin', big);
    await s3.put(BUCKET, 'big/odd.bin', odd);
    await s3.put(BUCKET, 'big/empty.bin', Buffer.alloc(0));
    const keys = Array.from({ length: 1005 }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => s3.put(BUCKET, k, k)));
    }
  });

  afterAll(async () => {
    restoreEnv?.();
    await s3?.stop();
  });

  function source(prefix: string, options: ConstructorParameters<typeof S3Source>[1] = {}): S3Source {
    return new S3Source({ bucket: BUCKET, prefix }, { endpoint: s3.endpoint, ...options });
  }

  it('describes itself as an s3:// URL', () => {
    expect(source('backups/').description).toBe(`s3://${BUCKET}/backups`);
    expect(source('').description).toBe(`s3://${BUCKET}`);
    expect(S3Source.fromUrl('source', `s3://${BUCKET}/a/b`).description).toBe(`s3://${BUCKET}/a/b`);
  });

  it('lists names relative to the prefix with sizes and dates, skipping folder markers', async () => {
    const before = Date.now();
    const objects = await source('backups/').list();
    const names = objects.map((o) => o.name).sort();
    expect(names).toEqual(['db-2024-01-01.dump', 'db.dump.sha256', 'nested/db-2024-01-02.dump']);
    const nested = objects.find((o) => o.name === 'nested/db-2024-01-02.dump');
    expect(nested?.size).toBe('second file'.length);
    expect(nested?.kind).toBe('file');
    expect(nested?.modified).toBeInstanceOf(Date);
    // Uploaded moments ago (s3rver stores second precision; allow for a slow machine).
    expect(Math.abs((nested?.modified.getTime() ?? 0) - before)).toBeLessThan(10 * 60_000);
    expect(source('backups/').localPath('db-2024-01-01.dump')).toBeUndefined();
  });

  it('lists every page of more than 1000 keys at the server default page size', async () => {
    const before = s3.requests.length;
    const objects = await source('many/').list();
    expect(objects).toHaveLength(1005);
    expect(new Set(objects.map((o) => o.name)).size).toBe(1005);
    expect(objects.map((o) => o.name)).toContain('k01004');
    const lists = s3.requests.slice(before).filter((r) => r.url.includes('list-type=2'));
    expect(lists).toHaveLength(2);
  });

  it('lists every page with a small page size', async () => {
    const before = s3.requests.length;
    const objects = await source('many/', { pageSize: 100 }).list();
    expect(objects).toHaveLength(1005);
    expect(objects.every((o) => o.size === `many/${o.name}`.length)).toBe(true);
    const lists = s3.requests.slice(before).filter((r) => r.url.includes('list-type=2'));
    expect(lists).toHaveLength(11);
  });

  it('lists the whole bucket with an empty prefix', async () => {
    const names = (await source('').list()).map((o) => o.name);
    expect(names).toContain('backups-old/not-mine.dump');
    expect(names).toContain('big/twenty.bin');
    expect(names).not.toContain('backups/folder/');
    expect(names).toHaveLength(1005 + 7);
  });

  it('reads a 20 MiB object in order with parallel ranged GETs', async () => {
    const before = s3.requests.length;
    const { data, chunks } = await readAll(source('big/', { partSize: MiB, concurrency: 4 }), 'twenty.bin');
    expect(data.length).toBe(big.length);
    expect(sha256(data)).toBe(sha256(big));
    expect(chunks).toBe(20);
    const gets = s3.requests.slice(before).filter((r) => r.method === 'GET' && r.range);
    expect(gets).toHaveLength(20);
    expect(new Set(gets.map((r) => r.range)).size).toBe(20);
    expect(gets.map((r) => r.range)).toContain(`bytes=${19 * MiB}-${20 * MiB - 1}`);
    // Never more than 4 ranged GETs open at once, and more than one at some point.
    let peak = 0;
    for (const r of gets) {
      const open = gets.filter((o) => o.started <= r.started && (o.finished ?? Infinity) > r.started).length;
      peak = Math.max(peak, open);
    }
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
  });

  it('reads an object whose size is not a multiple of the part size', async () => {
    const { data, chunks } = await readAll(source('big/', { partSize: MiB, concurrency: 3 }), 'odd.bin');
    expect(sha256(data)).toBe(sha256(odd));
    expect(chunks).toBe(4);
  });

  it('reads an object smaller than one part in one GET', async () => {
    const { data, chunks } = await readAll(source('backups/'), 'nested/db-2024-01-02.dump');
    expect(data.toString()).toBe('second file');
    expect(chunks).toBe(1);
  });

  it('yields nothing for a zero-byte object, without a GET', async () => {
    const before = s3.requests.length;
    const { data, chunks } = await readAll(source('big/'), 'empty.bin');
    expect(chunks).toBe(0);
    expect(data.length).toBe(0);
    expect(s3.requests.slice(before).map((r) => r.method)).toEqual(['HEAD']);
  });

  it('requests no more parts once the consumer stops', async () => {
    const before = s3.requests.length;
    const iterator = source('big/', { partSize: MiB, concurrency: 2 }).read('twenty.bin');
    for await (const chunk of iterator) {
      expect(chunk.equals(big.subarray(0, MiB))).toBe(true);
      break;
    }
    const count = () => s3.requests.slice(before).filter((r) => r.method === 'GET').length;
    const atStop = count();
    expect(atStop).toBeLessThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(count()).toBe(atStop);
  });

  it('retries a part that fails', async () => {
    // The SDK tries each GET twice (maxAttempts 2); 3 failures make our own part retry kick in.
    s3.failRangedGets(3);
    const log = memoryLogger();
    const src = new S3Source(
      { bucket: BUCKET, prefix: 'big/' },
      { endpoint: s3.endpoint, partSize: MiB, concurrency: 1 },
      log,
    );
    const { data } = await readAll(src, 'odd.bin');
    expect(sha256(data)).toBe(sha256(odd));
    expect(log.lines.some((l) => l.startsWith('debug: retrying part 0'))).toBe(true);
  });

  it('gives up on a part after three retries with a FetchError', async () => {
    s3.failRangedGets(1000);
    try {
      const err = await readAll(source('big/', { partSize: MiB, concurrency: 1 }), 'odd.bin').catch((e) => e);
      expect(err).toBeInstanceOf(FetchError);
      expect(err.message).toContain(`could not read bytes 0-${MiB - 1} of s3://${BUCKET}/big/odd.bin`);
      expect(err.message).toContain(s3.endpoint);
      expect(err.message).toContain('InternalError');
    } finally {
      s3.failRangedGets(0);
    }
  });

  it('downloadTo writes the parts into a file where they belong, in parallel, without a HEAD when the size is known', async () => {
    const file = path.join(os.tmpdir(), `restorable-test-download-${process.pid}`);
    try {
      const before = s3.requests.length;
      const size = await source('big/', { partSize: MiB, concurrency: 4 }).downloadTo(
        'twenty.bin',
        file,
        big.length,
      );
      expect(size).toBe(big.length);
      expect(sha256(fs.readFileSync(file))).toBe(sha256(big));
      const reqs = s3.requests.slice(before);
      expect(reqs.filter((r) => r.method === 'HEAD')).toHaveLength(0);
      expect(reqs.filter((r) => r.method === 'GET' && r.range)).toHaveLength(20);
      // Without the size: one HEAD first, and an object that is not a multiple of the part size.
      await source('big/', { partSize: MiB, concurrency: 3 }).downloadTo('odd.bin', file);
      expect(sha256(fs.readFileSync(file))).toBe(sha256(odd));
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('downloadTo takes a small object in one GET and one write, retried like a part, its size as listed', async () => {
    const file = path.join(os.tmpdir(), `restorable-test-download-small-${process.pid}`);
    const small = odd.subarray(0, 100_000);
    try {
      await s3.put(BUCKET, 'big/small.bin', small);
      const before = s3.requests.length;
      const marks: number[] = [];
      const size = await source('big/').downloadTo('small.bin', file, small.length, (n) => marks.push(n));
      expect(size).toBe(small.length);
      expect(sha256(fs.readFileSync(file))).toBe(sha256(small));
      expect(marks).toEqual([small.length]);
      const reqs = s3.requests.slice(before);
      expect(reqs.map((r) => `${r.method} ${r.range}`)).toEqual([`GET bytes=0-${small.length - 1}`]);
      s3.failRangedGets(2);
      await source('big/').downloadTo('small.bin', file, small.length);
      expect(sha256(fs.readFileSync(file))).toBe(sha256(small));
      // A listing that says more than the object holds: the short answer is refused, not written.
      fs.rmSync(file);
      const err = await source('big/')
        .downloadTo('small.bin', file, small.length + 10)
        .catch((e) => e);
      expect(err).toBeInstanceOf(FetchError);
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      s3.failRangedGets(0);
      fs.rmSync(file, { force: true });
    }
  });

  it('downloadTo retries a failing part (the file ends right), and gives up with a FetchError', async () => {
    const file = path.join(os.tmpdir(), `restorable-test-download-retry-${process.pid}`);
    try {
      s3.failRangedGets(3);
      await source('big/', { partSize: MiB, concurrency: 2 }).downloadTo('odd.bin', file);
      expect(sha256(fs.readFileSync(file))).toBe(sha256(odd));
      s3.failRangedGets(1000);
      const err = await source('big/', { partSize: MiB, concurrency: 2 })
        .downloadTo('odd.bin', file)
        .catch((e) => e);
      expect(err).toBeInstanceOf(FetchError);
      expect(err.message).toContain(`of s3://${BUCKET}/big/odd.bin`);
    } finally {
      s3.failRangedGets(0);
      fs.rmSync(file, { force: true });
    }
  });

  it('downloadTo reports the complete front of the file as it grows, and a GrowingFile follows it', async () => {
    const file = path.join(os.tmpdir(), `restorable-test-download-follow-${process.pid}`);
    try {
      const marks: number[] = [];
      const growing = new GrowingFile(file);
      const download = source('big/', { partSize: MiB, concurrency: 4 }).downloadTo(
        'twenty.bin',
        file,
        undefined,
        (bytes) => {
          // At each mark the file really holds the object's bytes up to it.
          const fd = fs.openSync(file, 'r');
          const got = Buffer.alloc(bytes);
          fs.readSync(fd, got, 0, bytes, 0);
          fs.closeSync(fd);
          if (!got.equals(big.subarray(0, bytes))) throw new Error(`bytes before ${bytes} are not complete`);
          marks.push(bytes);
          growing.advance(bytes);
        },
      );
      download.then(
        () => growing.finish(),
        (e) => growing.fail(e),
      );
      const hash = createHash('sha256');
      let chunks = 0;
      for await (const c of growing.chunks(256 * 1024)) {
        hash.update(c);
        chunks++;
      }
      await download;
      expect(hash.digest('hex')).toBe(sha256(big));
      expect(chunks).toBeGreaterThanOrEqual(80);
      expect(marks.at(-1)).toBe(big.length);
      expect(marks.every((m, i) => i === 0 || m > (marks[i - 1] as number))).toBe(true);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it("a GrowingFile reader gets the download's error after the bytes that were complete", async () => {
    const file = path.join(os.tmpdir(), `restorable-test-growing-${process.pid}`);
    try {
      fs.writeFileSync(file, odd);
      const growing = new GrowingFile(file);
      growing.advance(MiB);
      const got: Buffer[] = [];
      const reading = (async () => {
        for await (const c of growing.chunks(64 * 1024)) got.push(c);
      })();
      await new Promise((resolve) => setTimeout(resolve, 20));
      growing.fail(new FetchError('the part at 1 MiB failed'));
      await expect(reading).rejects.toThrow('the part at 1 MiB failed');
      expect(Buffer.concat(got).equals(odd.subarray(0, MiB))).toBe(true);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('rejects reading a missing object with a FetchError', async () => {
    const err = await readAll(source('big/'), 'missing.bin').catch((e) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect(err.message).toContain(`s3://${BUCKET}/big/missing.bin`);
    expect(err.httpStatus).toBe(404);
  });

  it('readText returns the text of a small object and undefined for a missing one', async () => {
    const src = source('backups/');
    expect(await src.readText('db.dump.sha256')).toBe('deadbeef  db.dump\n');
    expect(await src.readText('no-such.sha256')).toBeUndefined();
    await expect(src.readText('db.dump.sha256', 4)).rejects.toThrow(/more than the 4 bytes/);
  });

  it('readText throws when the bucket does not exist', async () => {
    const src = new S3Source({ bucket: 'no-such-bucket', prefix: '' }, { endpoint: s3.endpoint });
    const err = await src.readText('x').catch((e) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect(err.code).toBe('NoSuchBucket');
  });

  it('metadata returns user metadata with lower-case keys', async () => {
    expect(await source('backups/').metadata('db-2024-01-01.dump')).toEqual({ sha256: 'abc123' });
    expect(await source('backups/').metadata('db.dump.sha256')).toEqual({});
  });

  it('list of a missing bucket is a FetchError naming the source', async () => {
    const src = new S3Source({ bucket: 'no-such-bucket', prefix: 'x/' }, { endpoint: s3.endpoint });
    const err = await src.list().catch((e) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect(err.message).toContain('could not list s3://no-such-bucket/x');
    expect(err.message).toContain('NoSuchBucket');
  });

  it('list against an unreachable endpoint fails fast with a FetchError', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const src = new S3Source({ bucket: BUCKET, prefix: 'backups/' }, { endpoint });
    const started = Date.now();
    const err = await src.list().catch((e) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(FetchError);
    expect(err.message).toContain(`could not list s3://${BUCKET}/backups at ${endpoint}`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).not.toContain('S3RVER');
  });

  it('has no method that writes to the bucket', () => {
    const methods = Object.getOwnPropertyNames(S3Source.prototype);
    for (const m of methods) {
      expect(m).not.toMatch(/put|write|delete|remove|copy|tag|upload/i);
    }
    expect(methods).toEqual(expect.arrayContaining(['list', 'read', 'readText', 'metadata', 'localPath']));
  });
});
