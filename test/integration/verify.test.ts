import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dataRanges,
  type Lanes,
  readHeader,
  readToc,
  type TocEntry,
  type WalkResult,
  walkCustomData,
} from '../../src/archive/custom.js';
import { SharedFront } from '../../src/archive/front.js';
import { inspectStream } from '../../src/archive/inspect.js';
import { fileChunks, isalAddon } from '../../src/archive/lanes.js';
import { ArchiveProblem } from '../../src/archive/problem.js';
import { ByteReader } from '../../src/archive/reader.js';
import type { VerifyResult } from '../../src/backup/context.js';
import { parseVerifyOptions } from '../../src/backup/options.js';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { libpqEnv, withClient } from '../../src/postgres/client.js';
import type { ScratchCluster } from '../../src/postgres/cluster.js';
import { countRows } from '../../src/postgres/tables.js';
import { GrowingFile } from '../../src/sources/growing.js';
import { runVerify } from '../../src/verify/run.js';
import {
  appendJunk,
  compressFile,
  flipBytes,
  gzipFile,
  injectBadStatement,
  injectSql,
  md5,
  setPgDumpVersion,
  sha256,
  truncate,
  WRAPPERS,
  writeSidecar,
} from '../harness/breakers.js';
import { loadChinook, sql, startCluster, tempDir } from '../harness/pg.js';
import { FRAME_MAGIC, recompressCustom } from '../harness/recompress.js';
import {
  setDataOffset,
  setDataState,
  setEntrySql,
  setHeaderUncompressed,
  swapDataOffsets,
  tocEntry,
  tocLayout,
} from '../harness/toc.js';

let cluster: ScratchCluster;
let dir: string;
/** count(*) of every chinook table, by schema.table. */
let chinookRows: Record<string, number>;
const f: Record<string, string> = {};

beforeAll(async () => {
  dir = tempDir('verify');
  cluster = await startCluster();
  await loadChinook(cluster);
  chinookRows = Object.fromEntries(
    (await countRows(cluster.conn('chinook'), 2)).map((c) => [c.table, c.rows]),
  );
  const healthy = path.join(dir, 'healthy');
  f.custom = await dumpDatabase(cluster, 'chinook', path.join(healthy, 'chinook_20261120_031500.dump'));
  f.custom0 = await dumpDatabase(cluster, 'chinook', path.join(healthy, 'raw', 'chinook.dump'), {
    compress: 0,
  });
  f.directory = await dumpDatabase(cluster, 'chinook', path.join(healthy, 'dir', 'chinook.dir'), {
    format: 'd',
  });
  f.plain = await dumpDatabase(cluster, 'chinook', path.join(healthy, 'plain', 'chinook.sql'), {
    format: 'p',
  });
  f.plainGz = gzipFile(f.plain, path.join(healthy, 'plaingz', 'chinook.sql.gz'));
  f.customGz = gzipFile(f.custom, path.join(healthy, 'customgz', 'catalog_daily_20240418_000000.backup.gz'));
  f.tar = await dumpDatabase(cluster, 'chinook', path.join(healthy, 'tar', 'chinook.tar'), {
    format: 't',
  });
  f.tarGz = gzipFile(f.tar, path.join(healthy, 'targz', 'chinook.tar.gz'));
  f.tarZst = compressFile('zstd', f.tar, path.join(healthy, 'tarzst', 'chinook.tar.zst'));
  // pg_dump 15 cannot compress with zstd or lz4 itself: teams pipe plain and -Z0 custom dumps through them.
  for (const [tool, suffix] of Object.entries(WRAPPERS) as [keyof typeof WRAPPERS, string][]) {
    f[`plain-${tool}`] = compressFile(
      tool,
      f.plain,
      path.join(healthy, `plain-${tool}`, `chinook.sql${suffix}`),
    );
    f[`custom-${tool}`] = compressFile(
      tool,
      f.custom0,
      path.join(healthy, `custom-${tool}`, `chinook.dump${suffix}`),
    );
  }
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A folder holding just this one backup (and whatever sidecars are asked for). */
function alone(file: string, name = path.basename(file)): string {
  const d = fs.mkdtempSync(path.join(dir, 'case-'));
  const dest = path.join(d, name);
  if (fs.statSync(file).isDirectory()) fs.cpSync(file, dest, { recursive: true });
  else fs.copyFileSync(file, dest);
  return dest;
}

async function verify(source: string, extra: Record<string, string> = {}, now?: Date): Promise<VerifyResult> {
  const opts = parseVerifyOptions({ source, 'max-age': '1000d', ...extra }, 'input');
  return runVerify({ ...opts, ...(now ? { now } : {}) }, memoryLogger());
}

const rules = (r: VerifyResult) => r.findings.map((x) => x.rule).sort();

describe('healthy backups pass, silently', () => {
  it.each([
    ['custom (gzip blocks)', 'custom'],
    ['custom, uncompressed', 'custom0'],
    ['custom wrapped in gzip', 'customGz'],
    ['directory', 'directory'],
    ['plain SQL', 'plain'],
    ['plain SQL in gzip', 'plainGz'],
    ['tar (pg_dump -Ft)', 'tar'],
    ['tar in gzip (pg_dump -Ft | gzip)', 'tarGz'],
    ['tar in zstd (pg_dump -Ft | zstd)', 'tarZst'],
    ...Object.keys(WRAPPERS).flatMap((tool) => [
      [`plain SQL in ${tool}`, `plain-${tool}`],
      [`custom -Z0 in ${tool}`, `custom-${tool}`],
    ]),
  ])('%s', async (_label, key) => {
    const file = alone(f[key] as string);
    if (!fs.statSync(file).isDirectory()) writeSidecar(file, 'sha256');
    const r = await verify(path.dirname(file));
    const expected = key === 'directory' ? ['CHECKSUM_UNVERIFIED'] : [];
    expect(rules(r)).toEqual(expected);
    expect(r.verdict).toBe('pass');
    expect(r.backup?.tables).toBe(11);
    // The dump is its own reference: the walk counted every table's rows, as count(*) has them.
    expect(r.backup?.tableRows).toEqual(chinookRows);
    expect(r.backup?.serverVersion).toMatch(/^\d+\.\d+/);
    expect(r.schema?.errors).toEqual([]);
    expect(r.stages.find((s) => s.name === 'schema')?.status).toBe('ok');
  });

  it('reports what it read: format, versions, sha256, data walked', async () => {
    const file = alone(f.custom as string);
    const r = await verify(file);
    expect(r.backup).toMatchObject({
      format: 'custom',
      compression: 'gzip',
      archiveVersion: expect.stringMatching(/^1\.1\d\.0$/),
      database: 'chinook',
      sha256: sha256(file),
      dataBlocks: 11,
      tocEntries: expect.objectContaining({ TABLE: 11, 'TABLE DATA': 11, 'FK CONSTRAINT': 11 }),
    });
    expect(r.backup?.dataBytes).toBeGreaterThan(300_000);
  });
});

describe('the one-pass walker', () => {
  it('reads the same whatever sizes the bytes arrive in (1 to 13 bytes at a time)', async () => {
    const whole = await inspectStream(fileChunks(f.custom as string));
    const bytes = fs.readFileSync(f.custom as string);
    async function* dribble(): AsyncGenerator<Buffer> {
      for (let i = 0, n = 1; i < bytes.length; i += n, n = (n % 13) + 1) yield bytes.subarray(i, i + n);
    }
    const small = await inspectStream(dribble());
    expect(small.problems).toEqual([]);
    expect({ ...small, header: undefined }).toEqual({ ...whole, header: undefined });
    expect(small.dataBlocks).toBe(11);
  });
});

describe('tables decoded side by side (lanes) when the file can be read again', () => {
  /** The walk alone, with or without lanes (and a TOC to tamper with): its result, or its problem. */
  async function walk(
    file: string,
    lanes?: Lanes,
    tamper: (toc: TocEntry[]) => void = () => {},
    src: AsyncIterable<Buffer> = fileChunks(file),
  ): Promise<WalkResult | ArchiveProblem> {
    const r = ByteReader.from(src);
    const h = await readHeader(r);
    const toc = await readToc(r, h);
    tamper(toc);
    try {
      return await walkCustomData(r, h, toc, lanes);
    } catch (e) {
      if (e instanceof ArchiveProblem) return e;
      throw e;
    }
  }
  async function tocOf(file: string) {
    const r = ByteReader.from(fileChunks(file));
    const h = await readHeader(r);
    const toc = await readToc(r, h);
    return { toc, ranges: dataRanges(toc, h, fs.statSync(file).size) };
  }
  const largestOf = (ranges: { start: number; end: number }[]) =>
    ranges.reduce((a, b) => (b.end - b.start > a.end - a.start ? b : a));
  /** A local file: every table starts at once from the TOC's offsets, in a worker however short. */
  const inWorkers = (file: string, isal = true): Lanes => ({
    file,
    count: 3,
    complete: true,
    workerMin: 0,
    isal,
  });
  /** A download's file: each table's range decodes once the walk has read past it. */
  const growing = (file: string): Lanes => ({ file, count: 3 });

  it('finds what one stream at a time finds, with several tables decoding at once', async () => {
    const file = f.custom as string;
    const single = await walk(file);
    expect((single as WalkResult).dataBytes).toBeGreaterThan(300_000);
    const rows = (single as WalkResult).tableRows.map((t) => [`${t.schema}.${t.table}`, t.rows]);
    expect(Object.fromEntries(rows)).toEqual(chinookRows);
    const isal = await walk(file, inWorkers(file));
    expect(isal).toEqual({ ...single, lanes: { mostAtOnce: 3, inWorkers: 11, early: 11, inflate: 'isa-l' } });
    const zlib = await walk(file, inWorkers(file, false));
    expect(zlib).toEqual({ ...single, lanes: { mostAtOnce: 3, inWorkers: 11, early: 11, inflate: 'zlib' } });
    const followed = await walk(file, growing(file));
    expect(followed).toEqual({
      ...single,
      lanes: { mostAtOnce: expect.any(Number), inWorkers: 0, early: 0, inflate: 'isa-l' },
    });
    expect((followed as WalkResult).lanes?.mostAtOnce).toBeGreaterThanOrEqual(2);
    // A download's ranges decode in ISA-L workers too, once the walk has read past them.
    const downloaded = await walk(file, { ...growing(file), workerMin: 0 });
    expect(downloaded).toEqual({
      ...single,
      lanes: { mostAtOnce: expect.any(Number), inWorkers: 11, early: 0, inflate: 'isa-l' },
    });
    // As verify runs it: short tables decode in this thread, started from the TOC's offsets.
    const inspected = await inspectStream(fileChunks(file), { file });
    expect(inspected.problems).toEqual([]);
    expect(inspected.inflatedBy).toBe(
      `ISA-L (${path.resolve('native/prebuilt/linux-x64/isal_inflate.node')})`,
    );
    expect({ ...inspected, header: undefined, inflatedBy: undefined }).toEqual({
      ...(await inspectStream(fileChunks(file))),
      header: undefined,
    });
  });

  /**
   * A copy of `file` written in 64 KiB steps, each a macrotask apart, as a download writes: the
   * GrowingFile that follows it, and the writing (which fails at `failAt` bytes when given).
   */
  function arriving(file: string, name: string, failAt?: number) {
    const bytes = fs.readFileSync(file);
    const copy = path.join(dir, name);
    const growing = new GrowingFile(copy, bytes.length);
    const writing = (async () => {
      const fd = fs.openSync(copy, 'w');
      try {
        for (let at = 0; at < bytes.length; at += 64 * 1024) {
          if (failAt !== undefined && at >= failAt) return growing.fail(new Error('the connection reset'));
          const end = Math.min(bytes.length, at + 64 * 1024);
          fs.writeSync(fd, bytes, at, end - at, at);
          growing.advance(end);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        growing.finish();
      } finally {
        fs.closeSync(fd);
      }
    })();
    return { copy, growing, writing };
  }

  it("a download's tables decode as it arrives: workers start from the TOC and follow its front", async () => {
    const file = f.custom as string;
    const single = await walk(file);
    const { copy, growing, writing } = arriving(file, 'arriving.dump');
    const lanes: Lanes = { file: copy, count: 3, front: growing.front, workerMin: 0 };
    const followed = await walk(copy, lanes, undefined, growing.chunks());
    await writing;
    // Every table started before the walk reached it (early), and decoded to what one stream gives.
    expect(followed).toEqual({
      ...single,
      lanes: { mostAtOnce: expect.any(Number), inWorkers: 11, early: 11, inflate: 'isa-l' },
    });
  });

  it('a download that fails part-way: the walk gets its error, and no worker waits on for bytes that never come', async () => {
    const file = f.custom as string;
    const { copy, growing, writing } = arriving(file, 'cut.dump', Math.floor(fs.statSync(file).size / 2));
    const lanes: Lanes = { file: copy, count: 3, front: growing.front, workerMin: 0 };
    const started = Date.now();
    await expect(walk(copy, lanes, undefined, growing.chunks())).rejects.toThrow('the connection reset');
    await writing;
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('the ISA-L inflate addon loads and passes its self-test: the prebuilt one, shipped in dist/', () => {
    const addon = isalAddon();
    if ('unavailable' in addon) {
      throw new Error(
        `${addon.unavailable}. Run bash scripts/build-native.sh (it needs nasm, bash scripts/install-deps.sh).`,
      );
    }
    // The prebuilt, statically linked addon comes before a development build.
    expect(addon.path).toBe(path.resolve('native/prebuilt/linux-x64/isal_inflate.node'));
    // RESTORABLE_ISAL names it elsewhere (a runner's own build), relative to the working folder;
    // a wrong name is said, not fatal.
    const elsewhere = path.join(dir, 'elsewhere', 'isal_inflate.node');
    fs.mkdirSync(path.dirname(elsewhere), { recursive: true });
    fs.copyFileSync(addon.path, elsewhere);
    expect(isalAddon({ RESTORABLE_ISAL: path.relative(process.cwd(), elsewhere) })).toEqual({
      path: elsewhere,
    });
    const missing = path.join(dir, 'nowhere', 'isal_inflate.node');
    expect(isalAddon({ RESTORABLE_ISAL: missing })).toEqual({ unavailable: `${missing} does not exist` });
    const notAnAddon = path.join(dir, 'not-an-addon.node');
    fs.writeFileSync(notAnAddon, 'text');
    expect(isalAddon({ RESTORABLE_ISAL: notAnAddon })).toEqual({
      unavailable: expect.stringContaining(`${notAnAddon} does not load: `),
    });
  });

  it('an addon is used only when it inflates the self-test vector right and refuses it damaged', () => {
    // Stand-ins with the addon's interface, written in JavaScript over zlib: one right, two wrong.
    const fake = (name: string, rows: string, swallows = false) => {
      const file = path.join(dir, `${name}.cjs`);
      fs.writeFileSync(
        file,
        `const zlib = require('node:zlib');
module.exports = {
  create: () => ({ parts: [] }),
  push(s, b) {
    s.parts.push(Buffer.from(b));
    try { s.out = zlib.inflateSync(Buffer.concat(s.parts)); } catch (e) { if (${swallows} || /unexpected end/.test(e.message)) return 0; throw e; }
    return s.out.length;
  },
  finish: (s) => s.out !== undefined,
  rows: (s) => ${rows},
  tail: (s) => s.out.subarray(-8),
};`,
      );
      return isalAddon({ RESTORABLE_ISAL: file });
    };
    const newlines = 's.out.toString().split("\\n").length - 1';
    expect(fake('right', newlines)).toEqual({ path: path.join(dir, 'right.cjs') });
    expect(fake('miscounts', `${newlines} + 1`)).toEqual({
      unavailable: `${path.join(dir, 'miscounts.cjs')} failed its self-test: 5001 lines counted in 5000`,
    });
    expect(fake('nochecks', newlines, true)).toEqual({
      unavailable: `${path.join(dir, 'nochecks.cjs')} failed its self-test: a stream with a wrong Adler-32 was accepted`,
    });
  });

  it('a table whose data decodes but whose checksum is wrong is COMPRESSION_CORRUPT, with ISA-L as with zlib', async () => {
    const file = f.custom as string;
    // The largest table's stream ends with its Adler-32, then the zero length (5 bytes) that ends the data.
    const largest = largestOf((await tocOf(file)).ranges);
    const bad = flipBytes(file, path.join(dir, 'adler.dump'), largest.end - 5 - 2, 1);
    const single = await inspectStream(fileChunks(bad));
    expect(single.problems.map((p) => p.message)).toEqual([expect.stringMatching(/: incorrect data check$/)]);
    for (const lanes of [inWorkers(bad), inWorkers(bad, false), growing(bad)]) {
      const laned = await walk(bad, lanes);
      expect((laned as ArchiveProblem).message).toBe(single.problems[0]?.message);
    }
    expect((await walk(file, inWorkers(file))) as WalkResult).toMatchObject({ lanes: { inflate: 'isa-l' } });
  });

  it('a later, larger table that fails first does not hide an earlier damaged one', async () => {
    const file = f.custom as string;
    const { ranges } = await tocOf(file);
    const largest = largestOf(ranges);
    // The smallest of those before it (with room for the flip): the last to get the one lane.
    const before = ranges.filter((r) => r.start < largest.start && r.end - r.start > 200);
    expect(before.length).toBeGreaterThan(1);
    const earlier = before.reduce((a, b) => (b.end - b.start < a.end - a.start ? b : a));
    // Inside each stream's first chunk: past its chunk length (a sign byte and 4 bytes).
    const into = (start: number) => start + 1 + 4 + 20;
    const both = flipBytes(
      flipBytes(file, path.join(dir, 'flip-l.dump'), into(largest.start)),
      path.join(dir, 'flip-el.dump'),
      into(earlier.start),
    );
    const single = await inspectStream(fileChunks(both));
    expect(single.problems.map((p) => p.rule)).toEqual(['COMPRESSION_CORRUPT']);
    // One lane: the largest table decodes first and fails first; the earlier one must still run.
    for (const isal of [true, false]) {
      const laned = await walk(both, { ...inWorkers(both, isal), count: 1 });
      expect((laned as ArchiveProblem).message.split(':')[0]).toBe(single.problems[0]?.message.split(':')[0]);
    }
  });

  it('an archive with large objects: every table still starts from the TOC and is confirmed', async () => {
    await sql(cluster, 'postgres', 'CREATE DATABASE blobs');
    await sql(
      cluster,
      'blobs',
      `CREATE TABLE note AS SELECT g AS id, md5(g::text) AS body FROM generate_series(1, 50000) g;
       CREATE TABLE tag AS SELECT g AS id, 'tag ' || g AS name FROM generate_series(1, 20000) g;
       SELECT lo_from_bytea(0, convert_to(repeat(md5('x'), 20000), 'UTF8'));`,
    );
    const file = await dumpDatabase(cluster, 'blobs', path.join(dir, 'blobs', 'blobs.dump'));
    const { toc } = await tocOf(file);
    expect(toc.some((e) => e.desc === 'BLOBS')).toBe(true);
    const single = await walk(file);
    const laned = await walk(file, inWorkers(file));
    expect(laned).toEqual({
      ...single,
      lanes: { mostAtOnce: expect.any(Number), inWorkers: 2, early: 2, inflate: 'isa-l' },
    });
  });

  it('a TOC whose data offsets are wrong is ARCHIVE_CORRUPT with lanes as without (the decodes guessed from them are dropped)', async () => {
    const file = f.custom as string;
    const tamper = (toc: TocEntry[]) => {
      const data = toc.filter((e) => e.dataOffset !== undefined);
      expect(data.length).toBe(11);
      // One table's block said to start 7 bytes late, another's moved onto a third's.
      (data[2] as TocEntry).dataOffset = ((data[2] as TocEntry).dataOffset as number) + 7;
      (data[5] as TocEntry).dataOffset = (data[8] as TocEntry).dataOffset as number;
    };
    const single = await walk(file, undefined, tamper);
    expect(single).toBeInstanceOf(ArchiveProblem);
    expect((single as ArchiveProblem).message).toMatch(
      /^the TOC places the data of TABLE DATA public\.\w+ at offset/,
    );
    for (const lanes of [inWorkers(file), inWorkers(file, false), growing(file)]) {
      expect(((await walk(file, lanes, tamper)) as ArchiveProblem).message).toBe(
        (single as ArchiveProblem).message,
      );
    }
  });

  it('reports the earliest damaged table, as one stream at a time would, when a later one is damaged too', async () => {
    const size = fs.statSync(f.custom as string).size;
    const early = flipBytes(f.custom as string, path.join(dir, 'flip-early.dump'), Math.floor(size * 0.45));
    const both = flipBytes(early, path.join(dir, 'flip-both.dump'), Math.floor(size * 0.85));
    const late = flipBytes(f.custom as string, path.join(dir, 'flip-late.dump'), Math.floor(size * 0.85));
    const single = await inspectStream(fileChunks(early));
    expect(single.problems.map((p) => p.rule)).toEqual(['COMPRESSION_CORRUPT']);
    // The two flips damage two different tables.
    const lateOnly = await inspectStream(fileChunks(late));
    expect(lateOnly.problems[0]?.message).not.toBe(single.problems[0]?.message);
    const table = (m: string | undefined) => m?.split(':')[0];
    for (const [how, lanes] of [
      ['ISA-L', inWorkers(both)],
      ['zlib in workers', inWorkers(both, false)],
      ['zlib here', growing(both)],
    ] as const) {
      const laned = await walk(both, lanes);
      expect(laned, how).toBeInstanceOf(ArchiveProblem);
      expect((laned as ArchiveProblem).rule, how).toBe('COMPRESSION_CORRUPT');
      // ISA-L words its errors its own way; zlib's are the same wherever it runs.
      if (how === 'ISA-L')
        expect(table((laned as ArchiveProblem).message)).toBe(table(single.problems[0]?.message));
      else expect((laned as ArchiveProblem).message, how).toBe(single.problems[0]?.message);
    }
    const inspected = await inspectStream(fileChunks(both), { file: both });
    expect(inspected.problems.map((p) => p.message)).toEqual([single.problems[0]?.message]);
    expect(inspected.sha256).toBe(sha256(both));
  });

  it('a truncated archive is ARCHIVE_TRUNCATED with lanes too', async () => {
    const cut = truncate(
      f.custom as string,
      path.join(dir, 'cut-laned.dump'),
      Math.floor(fs.statSync(f.custom as string).size * 0.6),
    );
    const single = await walk(cut);
    expect((single as ArchiveProblem).rule).toBe('ARCHIVE_TRUNCATED');
    for (const laned of [
      await walk(cut, inWorkers(cut)),
      await walk(cut, inWorkers(cut, false)),
      await walk(cut, growing(cut)),
    ]) {
      expect((laned as ArchiveProblem).message).toBe((single as ArchiveProblem).message);
    }
    const inspected = await inspectStream(fileChunks(cut), { file: cut });
    expect(inspected.problems.map((p) => p.rule)).toEqual(['ARCHIVE_TRUNCATED']);
  });
});

describe('lz4 and zstd blocks (pg_dump 16+ -Z lz4 / -Z zstd)', () => {
  it.each(['lz4', 'zstd'] as const)(
    '%s: every block walked; the schema check needs pg_restore 16+',
    async (algo) => {
      const file = await recompressCustom(f.custom0 as string, path.join(dir, `chinook.${algo}.dump`), algo);
      const walked = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
      expect(rules(walked)).toEqual([]);
      expect(walked.backup).toMatchObject({ compression: algo, archiveVersion: '1.15.0', dataBlocks: 11 });
      const raw = await verify(f.custom0 as string, { checksum: 'skip', 'schema-check': 'false' });
      expect(walked.backup?.dataBytes).toBe(raw.backup?.dataBytes);
      expect(walked.backup?.tableRows).toEqual(chinookRows);
      const replay = await verify(file, { checksum: 'skip' });
      expect(rules(replay)).toEqual(['VERSION_UNSUPPORTED']);
      expect(replay.findings[0]?.message).toContain('pg_restore 16 or newer');
    },
  );
  it.each(['lz4', 'zstd'] as const)(
    '%s: a damaged frame in one table is COMPRESSION_CORRUPT',
    async (algo) => {
      const file = await recompressCustom(
        f.custom0 as string,
        path.join(dir, `chinook.${algo}.bad.dump`),
        algo,
      );
      const bytes = fs.readFileSync(file);
      const frames: number[] = [];
      for (
        let at = bytes.indexOf(FRAME_MAGIC[algo]);
        at !== -1;
        at = bytes.indexOf(FRAME_MAGIC[algo], at + 1)
      )
        frames.push(at);
      expect(frames.length).toBe(11);
      flipBytes(file, file, frames[5] as number, 2);
      const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
      expect(rules(r)).toEqual(['COMPRESSION_CORRUPT']);
    },
  );
});

describe('BACKUP_MISSING', () => {
  it('fires on a folder with no dump', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'empty-'));
    fs.writeFileSync(path.join(d, 'notes.txt'), 'nothing here');
    const r = await verify(d);
    expect(rules(r)).toEqual(['BACKUP_MISSING']);
    expect(r.verdict).toBe('fail');
    expect(r.stages.filter((s) => s.status === 'skipped').map((s) => s.name)).toContain('schema');
  });
  it('fires when the pattern matches nothing, and when select names an absent backup', async () => {
    const file = alone(f.custom as string);
    expect(rules(await verify(path.dirname(file), { pattern: 'daily/*.dump*' }))).toEqual(['BACKUP_MISSING']);
    expect(rules(await verify(path.dirname(file), { select: 'nope.dump' }))).toEqual(['BACKUP_MISSING']);
  });
  it('stays silent when the pattern and select find the backup', async () => {
    const file = alone(f.custom as string);
    writeSidecar(file, 'sha256');
    const r = await verify(path.dirname(file), { pattern: '*.dump', select: path.basename(file) });
    expect(rules(r)).toEqual([]);
  });
});

describe('selection: latest by the timestamp in the name, else modification time', () => {
  it('picks the newest name among the seed layouts', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'sel-'));
    for (const n of [
      '2026-11-01T03-15-00Z/full.dump',
      '2026-11-02T03-15-00Z/full.dump',
      '2026-10-30T03-15-00Z/full.dump',
    ]) {
      fs.mkdirSync(path.dirname(path.join(d, n)), { recursive: true });
      fs.copyFileSync(f.custom as string, path.join(d, n));
    }
    // The oldest by name is the newest on disk: the name wins.
    fs.utimesSync(path.join(d, '2026-10-30T03-15-00Z/full.dump'), new Date(), new Date());
    const r = await verify(d, { pattern: '*/full.dump', checksum: 'skip' });
    expect(r.backup?.name).toBe('2026-11-02T03-15-00Z/full.dump');
    expect(r.backup?.timeFrom).toBe('name');
  });

  it('picks the newest across forms: a newer .sql.zst over an older .dump, and the other way round', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'forms-'));
    const old = path.join(d, 'app.dump');
    const newer = path.join(d, 'app.sql.zst');
    fs.copyFileSync(f.custom as string, old);
    fs.copyFileSync(f['plain-zstd'] as string, newer);
    const day = 86_400_000;
    fs.utimesSync(old, new Date(Date.now() - 3 * day), new Date(Date.now() - 3 * day));
    let r = await verify(d, { checksum: 'skip', 'schema-check': 'false', 'max-age': '7d' });
    expect(r.backup).toMatchObject({ name: 'app.sql.zst', format: 'plain', wrapper: 'zstd' });
    expect(rules(r)).toEqual([]);
    fs.utimesSync(newer, new Date(Date.now() - 9 * day), new Date(Date.now() - 9 * day));
    r = await verify(d, { checksum: 'skip', 'schema-check': 'false', 'max-age': '7d' });
    expect(r.backup).toMatchObject({ name: 'app.dump', format: 'custom' });
  });
});

describe('BACKUP_TOO_OLD', () => {
  it('fires when the newest backup is older than max-age', async () => {
    const file = alone(f.custom as string, 'backup-20260522-120000.dump');
    writeSidecar(file, 'sha256');
    const r = await verify(file, { 'max-age': '26h' }, new Date('2026-05-23T15:00:00Z'));
    expect(rules(r)).toEqual(['BACKUP_TOO_OLD']);
    expect(r.backup?.ageHours).toBe(27);
    expect(r.verdict).toBe('fail');
  });
  it('stays silent within max-age', async () => {
    const file = alone(f.custom as string, 'backup-20260522-120000.dump');
    writeSidecar(file, 'sha256');
    const r = await verify(file, { 'max-age': '26h' }, new Date('2026-05-23T13:00:00Z'));
    expect(rules(r)).toEqual([]);
  });
});

describe('RETENTION_SHORT', () => {
  function tiers(hourly: number, daily: number): string {
    const d = fs.mkdtempSync(path.join(dir, 'tiers-'));
    const put = (tier: string, i: number) => {
      const n = path.join(
        d,
        tier,
        `catalog_${tier}_202604${String(10 + i).padStart(2, '0')}_000000.backup.gz`,
      );
      fs.mkdirSync(path.dirname(n), { recursive: true });
      fs.copyFileSync(f.customGz as string, n);
    };
    for (let i = 0; i < hourly; i++) put('hourly', i);
    for (let i = 0; i < daily; i++) put('daily', i);
    return d;
  }
  it('fires for a tier with fewer backups than expected', async () => {
    const r = await verify(tiers(24, 5), {
      expect: 'hourly=24,daily=7',
      checksum: 'skip',
      'schema-check': 'false',
    });
    expect(rules(r)).toEqual(['RETENTION_SHORT']);
    expect(r.findings[0]?.evidence).toMatchObject({ tier: 'daily', found: 5, expected: 7 });
  });
  it('stays silent when every tier is full', async () => {
    const r = await verify(tiers(24, 7), {
      expect: 'hourly=24,daily=7',
      checksum: 'skip',
      'schema-check': 'false',
    });
    expect(rules(r)).toEqual([]);
  });
});

describe('checksums', () => {
  it('CHECKSUM_MISMATCH fires on a wrong .sha256 sidecar and a wrong literal', async () => {
    const file = alone(f.custom as string);
    writeSidecar(file, 'sha256', '0'.repeat(64));
    expect(rules(await verify(file))).toEqual(['CHECKSUM_MISMATCH']);
    const other = alone(f.custom as string);
    expect(rules(await verify(other, { checksum: 'a'.repeat(64) }))).toEqual(['CHECKSUM_MISMATCH']);
  });
  it('a matching .md5 sidecar and a matching literal are silent; a wrong .md5 fires', async () => {
    const file = alone(f.custom as string);
    writeSidecar(file, 'md5');
    const ok = await verify(file);
    expect(rules(ok)).toEqual([]);
    expect(ok.backup?.checksum).toMatchObject({ algorithm: 'md5', matched: true });
    expect(rules(await verify(file, { checksum: sha256(file) }))).toEqual([]);
    writeSidecar(file, 'md5', md5(f.plain as string));
    expect(rules(await verify(file))).toEqual(['CHECKSUM_MISMATCH']);
  });
  it('CHECKSUM_UNVERIFIED is low under auto (still a pass) and fails under required', async () => {
    const file = alone(f.custom as string);
    const auto = await verify(file);
    expect(rules(auto)).toEqual(['CHECKSUM_UNVERIFIED']);
    expect(auto.findings[0]?.severity).toBe('low');
    expect(auto.verdict).toBe('pass');
    // The stage says there was none, rather than a bare "ok" beside the finding.
    expect(auto.stages.find((s) => s.name === 'checksum')).toMatchObject({
      status: 'ok',
      reason: 'none found',
    });
    const required = await verify(file, { checksum: 'required' });
    expect(required.verdict).toBe('fail');
    writeSidecar(file, 'sha256');
    expect(rules(await verify(file, { checksum: 'required' }))).toEqual([]);
  });
});

describe('broken archives', () => {
  it('ARCHIVE_UNREADABLE: an empty file, and random bytes', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'unreadable-'));
    fs.writeFileSync(path.join(d, 'empty.dump'), '');
    let r = await verify(path.join(d, 'empty.dump'), { checksum: 'skip' });
    expect(rules(r)).toEqual(['ARCHIVE_UNREADABLE']);
    expect(r.verdict).toBe('fail');
    fs.writeFileSync(
      path.join(d, 'junk.dump'),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) % 251)),
    );
    r = await verify(path.join(d, 'junk.dump'), { checksum: 'skip' });
    expect(rules(r)).toEqual(['ARCHIVE_UNREADABLE']);
  });

  it('FORMAT_UNSUPPORTED: a SQL script not from pg_dump is could-not-verify, and its archive stage did not run', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'script-'));
    const file = path.join(d, 'notes.sql');
    fs.writeFileSync(file, 'CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n');
    const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
    expect(rules(r)).toEqual(['FORMAT_UNSUPPORTED']);
    expect(r.verdict).toBe('could-not-verify');
    expect(r.stages.find((s) => s.name === 'archive')).toMatchObject({
      status: 'not-run',
      reason: expect.stringMatching(/^a SQL script not written by pg_dump/),
    });
  });

  it('ARCHIVE_TRUNCATED: a custom dump cut inside its data, and the checksum catches it too', async () => {
    const good = alone(f.custom as string);
    writeSidecar(good, 'sha256');
    const cut = truncate(good, `${good}.tmp`, Math.floor(fs.statSync(good).size * 0.6));
    fs.renameSync(cut, good);
    const r = await verify(good);
    expect(rules(r)).toEqual(['ARCHIVE_TRUNCATED', 'CHECKSUM_MISMATCH']);
    expect(r.findings.find((x) => x.rule === 'ARCHIVE_TRUNCATED')?.message).toMatch(/TABLE DATA public\.\w+/);
  });

  it('ARCHIVE_TRUNCATED: an uncompressed custom dump cut between blocks (pg_restore --list misses it)', async () => {
    const good = alone(f.custom0 as string);
    const size = fs.statSync(good).size;
    const cutAt = size - 40_000;
    truncate(good, good, cutAt);
    const list = await run(path.join(cluster.bin.dir, 'pg_restore'), ['--list', good]);
    expect(list.code).toBe(0);
    const r = await verify(good, { checksum: 'skip' });
    expect(rules(r)).toEqual(['ARCHIVE_TRUNCATED']);
  });

  it('ARCHIVE_TRUNCATED: a plain dump without its closing line, and a gzip wrapper cut short', async () => {
    const plain = alone(f.plain as string);
    truncate(plain, plain, Math.floor(fs.statSync(plain).size / 2));
    expect(rules(await verify(plain, { checksum: 'skip' }))).toEqual(['ARCHIVE_TRUNCATED']);
    const gz = alone(f.customGz as string);
    truncate(gz, gz, Math.floor(fs.statSync(gz).size / 2));
    expect(rules(await verify(gz, { checksum: 'skip', 'schema-check': 'false' }))).toEqual([
      'ARCHIVE_TRUNCATED',
    ]);
  });

  it('ARCHIVE_TRUNCATED: a directory dump with a data file missing', async () => {
    const d = alone(f.directory as string);
    const dataFile = fs.readdirSync(d).find((n) => n.endsWith('.dat.gz')) as string;
    fs.rmSync(path.join(d, dataFile));
    const r = await verify(d, { checksum: 'skip', 'schema-check': 'false' });
    expect(rules(r)).toEqual(['ARCHIVE_TRUNCATED']);
    expect(r.findings[0]?.message).toContain(dataFile);
  });

  it('COMPRESSION_CORRUPT: flipped bytes inside a compressed data block', async () => {
    const file = alone(f.custom as string);
    flipBytes(file, file, Math.floor(fs.statSync(file).size * 0.7));
    const r = await verify(file, { checksum: 'skip' });
    expect(rules(r)).toEqual(['COMPRESSION_CORRUPT']);
    expect(r.verdict).toBe('fail');
  });

  it('COMPRESSION_CORRUPT: flipped bytes inside a gzip wrapper', async () => {
    const file = alone(f.plainGz as string);
    flipBytes(file, file, Math.floor(fs.statSync(file).size / 2));
    const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
    expect(rules(r)).toEqual(['COMPRESSION_CORRUPT']);
  });

  it('ARCHIVE_CORRUPT: bytes after the last block', async () => {
    const file = alone(f.custom as string);
    appendJunk(file, file, Buffer.from('this is not a data block'));
    const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
    expect(rules(r)).toEqual(['ARCHIVE_CORRUPT']);
  });
});

describe('DATA_NOT_DUMPED: tables the dump creates without their rows', () => {
  /** pg_dump of `db` with extra flags, in each of the custom, plain and tar forms. */
  async function dumps(db: string, label: string, flags: string[]): Promise<string[]> {
    const d = fs.mkdtempSync(path.join(dir, `${label}-`));
    return Promise.all(
      (['c', 'p', 't'] as const).map(async (format) => {
        const file = path.join(d, `${label}.${format === 'c' ? 'dump' : format === 'p' ? 'sql' : 'tar'}`);
        const r = await run(
          path.join(cluster.bin.dir, 'pg_dump'),
          [`-F${format}`, ...flags, '-f', file, db],
          {
            env: libpqEnv(cluster.conn(db)),
          },
        );
        expect(r.code, r.stderr).toBe(0);
        return file;
      }),
    );
  }

  it('a schema-only dump of a populated database, in every form', async () => {
    for (const file of await dumps('chinook', 'schema-only', ['--schema-only'])) {
      const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
      expect(rules(r), file).toEqual(['DATA_NOT_DUMPED']);
      expect(r.findings[0]?.message).toBe(
        'a schema-only dump (pg_dump -s): none of its 11 tables has its rows in it',
      );
      expect(r.verdict).toBe('fail');
    }
  });

  it('--exclude-table-data names the tables left out, in every form', async () => {
    const flags = ['--exclude-table-data=public.track', '--exclude-table-data=public.genre'];
    for (const file of await dumps('chinook', 'excluded', flags)) {
      const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
      expect(rules(r), file).toEqual(['DATA_NOT_DUMPED']);
      expect(r.findings[0]?.message).toBe(
        'the data of 2 tables was not dumped (--exclude-table-data?): public.genre, public.track',
      );
    }
  });

  it('empty tables, partitioned tables (with and without --load-via-partition-root) and --inserts are not findings', async () => {
    await sql(cluster, 'postgres', 'CREATE DATABASE coverage');
    await sql(
      cluster,
      'coverage',
      `CREATE TABLE empty_one (id int);
       CREATE TABLE "Mixed Case" (id int); INSERT INTO "Mixed Case" VALUES (1);
       CREATE TABLE m (id int, at date) PARTITION BY RANGE (at);
       CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY HASH (id);
       CREATE TABLE m_2025_a PARTITION OF m_2025 FOR VALUES WITH (MODULUS 1, REMAINDER 0);
       INSERT INTO m VALUES (1, '2025-03-01');`,
    );
    const files = [
      ...(await dumps('coverage', 'coverage', [])),
      ...(await dumps('coverage', 'via-root', ['--load-via-partition-root'])),
      ...(await dumps('coverage', 'inserts', ['--inserts'])),
    ];
    for (const file of files) {
      const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
      expect(rules(r), file).toEqual([]);
    }
  });
});

describe('tar dumps (pg_dump -Ft), damaged', () => {
  /** Where each member of the tar starts, by name (its 512-byte header), and its size. */
  function members(file: string): Map<string, { at: number; size: number }> {
    const buf = fs.readFileSync(file);
    const out = new Map<string, { at: number; size: number }>();
    for (let at = 0; at + 512 <= buf.length && buf[at] !== 0; ) {
      const size = Number.parseInt(buf.subarray(at + 124, at + 136).toString('latin1'), 8);
      out.set(
        buf
          .subarray(at, at + 100)
          .toString('latin1')
          .replace(/\0.*$/s, ''),
        { at, size },
      );
      at += 512 + Math.ceil(size / 512) * 512;
    }
    return out;
  }
  const largest = (file: string) =>
    [...members(file).entries()]
      .filter(([n]) => /^\d+\.dat$/.test(n))
      .sort((a, b) => b[1].size - a[1].size)[0]?.[1] as {
      at: number;
      size: number;
    };

  it("cut inside a table's data, and cut before its end blocks: ARCHIVE_TRUNCATED", async () => {
    const file = alone(f.tar as string);
    const big = largest(file);
    truncate(file, file, big.at + 512 + Math.floor(big.size / 2));
    const r = await verify(file, { checksum: 'skip' });
    expect(rules(r)).toEqual(['ARCHIVE_TRUNCATED']);
    expect(r.findings[0]?.message).toMatch(/^the tar ends inside its member \d+\.dat/);
    const end = alone(f.tar as string);
    truncate(end, end, fs.statSync(end).size - 1024);
    expect(rules(await verify(end, { checksum: 'skip' }))).toEqual(['ARCHIVE_TRUNCATED']);
  });

  it("a table's data member gone (the tar rewritten without it): ARCHIVE_TRUNCATED naming it", async () => {
    const file = alone(f.tar as string);
    const big = largest(file);
    const buf = fs.readFileSync(file);
    const next = big.at + 512 + Math.ceil(big.size / 512) * 512;
    fs.writeFileSync(file, Buffer.concat([buf.subarray(0, big.at), buf.subarray(next)]));
    const r = await verify(file, { checksum: 'skip' });
    expect(rules(r)).toEqual(['ARCHIVE_TRUNCATED']);
    expect(r.findings[0]?.message).toMatch(/^the tar has no member \d+\.dat for TABLE DATA public\.\w+$/);
  });

  it('flipped bytes in a member header: ARCHIVE_CORRUPT; bytes after its end: ARCHIVE_CORRUPT', async () => {
    const file = alone(f.tar as string);
    flipBytes(file, file, largest(file).at + 10, 2);
    const r = await verify(file, { checksum: 'skip' });
    expect(rules(r)).toEqual(['ARCHIVE_CORRUPT']);
    expect(r.verdict).toBe('fail');
    const junk = alone(f.tar as string);
    appendJunk(junk, junk, Buffer.from('not a tar block'));
    expect(rules(await verify(junk, { checksum: 'skip', 'schema-check': 'false' }))).toEqual([
      'ARCHIVE_CORRUPT',
    ]);
  });

  it('flipped bytes inside the rows (a tar member has no checksum of its own): the sidecar catches them', async () => {
    const file = alone(f.tar as string);
    writeSidecar(file, 'sha256');
    const big = largest(file);
    flipBytes(file, file, big.at + 512 + Math.floor(big.size / 2), 2);
    const r = await verify(file, { 'schema-check': 'false' });
    expect(rules(r)).toEqual(['CHECKSUM_MISMATCH']);
  });
});

describe('whole-file compression (zstd, lz4, xz, bzip2), damaged', () => {
  const forms = Object.keys(WRAPPERS).flatMap((tool) => [`plain-${tool}`, `custom-${tool}`]);

  it.each(forms)('%s cut short: ARCHIVE_TRUNCATED', async (key) => {
    const file = alone(f[key] as string);
    truncate(file, file, Math.floor(fs.statSync(file).size / 2));
    const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
    expect(rules(r)).toEqual(['ARCHIVE_TRUNCATED']);
    expect(r.verdict).toBe('fail');
  });

  it.each(forms)('%s with flipped bytes: COMPRESSION_CORRUPT', async (key) => {
    const file = alone(f[key] as string);
    flipBytes(file, file, Math.floor(fs.statSync(file).size / 2), 4);
    const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
    expect(rules(r)).toEqual(['COMPRESSION_CORRUPT']);
    expect(r.findings[0]?.message).toContain(`the ${key.split('-')[1]} stream around the dump is damaged`);
  });

  it('known by its magic bytes, whatever it is called', async () => {
    const file = alone(f['plain-zstd'] as string, 'chinook_20261120.backup');
    const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
    expect(rules(r)).toEqual([]);
    expect(r.backup).toMatchObject({ format: 'plain', wrapper: 'zstd' });
  });
});

describe('ARCHIVE_CORRUPT: a TOC or header that contradicts the blocks (what pg_restore trips on)', () => {
  /** A download's front that has reached the end of `file`. */
  function whole(file: string): SharedFront {
    const front = new SharedFront(fs.statSync(file).size);
    front.advance(fs.statSync(file).size);
    front.finish();
    return front;
  }
  /** The walk's problems on every path: in-process, lanes from the TOC's offsets, a growing download's lanes. */
  async function everyPath(file: string): Promise<string[][]> {
    const paths = [
      await inspectStream(fileChunks(file)),
      await inspectStream(fileChunks(file), { file }),
      await inspectStream(fileChunks(file), { file, front: whole(file) }),
    ];
    return paths.map((p) => p.problems.map((x) => `${x.rule}: ${x.message}`));
  }
  let restores = 0;
  /** pg_restore into a new database of the scratch cluster: its exit code, and the rows of `table`. */
  async function pgRestore(
    file: string,
    table = 'playlist_track',
  ): Promise<{ code: number | null; rows?: number }> {
    const db = `restored_${++restores}`;
    await sql(cluster, 'postgres', `CREATE DATABASE ${db}`);
    const res = await run(path.join(cluster.bin.dir, 'pg_restore'), ['--exit-on-error', '-d', db, file], {
      env: libpqEnv(cluster.conn(db)),
    });
    if (res.code !== 0) return { code: res.code };
    const counted = await withClient(cluster.conn(db), (c) =>
      c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`),
    );
    return { code: 0, rows: counted.rows[0]?.n as number };
  }

  it('a TABLE DATA entry flipped from "offset set" to "no data" (pg_restore restores the table empty)', async () => {
    const bad = setDataState(f.custom as string, path.join(dir, 'nodata.dump'), 'public.playlist_track', 3);
    for (const problems of await everyPath(bad)) {
      expect(problems).toEqual([
        expect.stringMatching(
          /^ARCHIVE_CORRUPT: the TOC marks TABLE DATA public\.playlist_track as having no data, but its data block is at offset \d+/,
        ),
      ]);
    }
    // pg_restore passes it, without the table's rows: only the walk can tell.
    expect(await pgRestore(bad)).toEqual({ code: 0, rows: 0 });
    expect(await pgRestore(f.custom as string)).toEqual({ code: 0, rows: 8715 });
    const r = await verify(alone(bad), { checksum: 'skip', 'schema-check': 'false' });
    expect(rules(r)).toEqual(['ARCHIVE_CORRUPT']);
    expect(r.verdict).toBe('fail');
  });

  it('an entry with a dumper marked "no data" and a second block of one table are caught too', async () => {
    const custom0 = f.custom0 as string;
    const layout = tocLayout(fs.readFileSync(custom0));
    const track = tocEntry(layout, 'public.track');
    // No compression: a block's bytes are the walk's to copy; a second copy of track's block at the end.
    const buf = fs.readFileSync(custom0);
    const next = layout.entries.filter((e) => e.offset > track.offset).sort((a, b) => a.offset - b.offset)[0];
    const twice = path.join(dir, 'twice.dump');
    fs.writeFileSync(twice, Buffer.concat([buf, buf.subarray(track.offset, next?.offset ?? buf.length)]));
    expect((await inspectStream(fileChunks(twice))).problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^a second data block of TABLE DATA public\.track at offset \d+/),
    ]);
  });

  it.each([
    ['offset 0', () => 0],
    ['a huge offset', () => 2 ** 40],
    ['an offset into the TOC', () => 200],
    ['the offset + 1', (at: number) => at + 1],
  ])('a data offset that is not where the walk finds the block: %s', async (label, to) => {
    const at = tocEntry(tocLayout(fs.readFileSync(f.custom as string)), 'public.track').offset;
    const bad = setDataOffset(
      f.custom as string,
      path.join(dir, `offset-${label}.dump`),
      'public.track',
      to(at),
    );
    for (const problems of await everyPath(bad)) {
      expect(problems).toEqual([
        `ARCHIVE_CORRUPT: the TOC places the data of TABLE DATA public.track at offset ${to(at)}, but its block is at offset ${at}: pg_restore would read the wrong bytes`,
      ]);
    }
    expect((await pgRestore(bad)).code).not.toBe(0);
  });

  it('two tables whose data offsets are swapped', async () => {
    const bad = swapDataOffsets(
      f.custom as string,
      path.join(dir, 'swapped.dump'),
      'public.track',
      'public.album',
    );
    for (const problems of await everyPath(bad)) {
      expect(problems).toEqual([
        expect.stringMatching(
          /^ARCHIVE_CORRUPT: the TOC places the data of TABLE DATA public\.(album|track) at offset \d+/,
        ),
      ]);
    }
    expect((await pgRestore(bad)).code).not.toBe(0);
  });

  it('a header that says "no compression" over gzip blocks', async () => {
    const bad = setHeaderUncompressed(f.custom as string, path.join(dir, 'nocompression.dump'));
    for (const problems of await everyPath(bad)) {
      expect(problems).toEqual([
        expect.stringMatching(
          /^ARCHIVE_CORRUPT: the header says the data is not compressed, but the data of TABLE DATA public\.\w+ is not COPY text .*it starts like a zlib stream/,
        ),
      ]);
    }
    expect((await pgRestore(bad)).code).not.toBe(0);
  });

  it('healthy archives, compressed and not, gzip-wrapped and directory, stay silent on every path', async () => {
    for (const key of ['custom', 'custom0']) {
      for (const problems of await everyPath(f[key] as string)) expect(problems).toEqual([]);
    }
    expect((await inspectStream(fileChunks(f.customGz as string))).problems).toEqual([]);
  });
});

describe('DUMP_SERVER_ACCESS: SQL that runs a program or touches server files when restored', () => {
  const access = (r: VerifyResult) => r.findings.filter((x) => x.rule === 'DUMP_SERVER_ACCESS');

  it('a TOC entry whose SQL was given a COPY ... TO PROGRAM: flagged, and the schema is not replayed', async () => {
    const bad = setEntrySql(
      f.custom as string,
      path.join(dir, 'program.dump'),
      'public.genre',
      'TABLE',
      (old) => `${old}\nCOPY public.genre TO PROGRAM 'cat > /dev/null';\n`,
    );
    // pg_restore reads the crafted archive, and would run the statement with the table's.
    const script = await run(path.join(cluster.bin.dir, 'pg_restore'), ['--schema-only', '-f', '-', bad]);
    expect(script.code).toBe(0);
    expect(script.stdout).toContain("COPY public.genre TO PROGRAM 'cat > /dev/null';");
    const r = await verify(alone(bad), { checksum: 'skip' });
    expect(rules(r)).toEqual(['DUMP_SERVER_ACCESS']);
    expect(access(r)[0]?.message).toBe(
      "TOC entry TABLE public.genre: COPY ... PROGRAM runs a program on the server when the dump is restored (pg_dump never writes this): COPY public.genre TO PROGRAM '…'",
    );
    expect(access(r)[0]?.severity).toBe('high');
    expect(r.stages.find((s) => s.name === 'schema')?.reason).toMatch(/^NOT RUN: the dump runs programs/);
    expect(r.verdict).toBe('fail');
  });

  it('a TOC entry whose SQL calls lo_import() on a server path is flagged too', async () => {
    const bad = setEntrySql(
      f.custom as string,
      path.join(dir, 'lo-import.dump'),
      'public.genre',
      'TABLE',
      (old) => `${old}\nSELECT pg_catalog.lo_import('/etc/passwd');\n`,
    );
    expect(
      access(await verify(alone(bad), { checksum: 'skip', 'schema-check': 'false' })).map((x) => x.message),
    ).toEqual([
      expect.stringMatching(
        /^TOC entry TABLE public\.genre: lo_import\(\) reads or writes a server file when/,
      ),
    ]);
  });

  it.each([
    [
      'COPY ... TO PROGRAM',
      "COPY public.genre TO PROGRAM 'cat > /dev/null';",
      'COPY ... PROGRAM runs a program',
    ],
    ['COPY ... FROM a server file', "COPY public.genre FROM '/etc/passwd';", 'COPY ... to or from a file'],
    [
      'a DO block that reads a file',
      "DO $x$ BEGIN PERFORM pg_read_file('/etc/passwd'); END $x$;",
      'pg_read_file()',
    ],
    [
      'a grant of pg_execute_server_program',
      'GRANT pg_execute_server_program TO PUBLIC;',
      'a grant of pg_execute',
    ],
  ])('a plain dump with %s is flagged', async (_label, statement, what) => {
    const file = injectSql(
      f.plain as string,
      path.join(fs.mkdtempSync(path.join(dir, 'access-')), 'c.sql'),
      statement,
    );
    const r = await verify(file, { checksum: 'skip' });
    expect(rules(r)).toEqual(['DUMP_SERVER_ACCESS']);
    expect(access(r)[0]?.message).toContain(`a statement: ${what}`);
    expect(r.stages.find((s) => s.name === 'schema')?.status).toBe('skipped');
  });

  it('stays silent on functions whose bodies, and views whose queries, mention them (they are defined, not run)', async () => {
    await sql(cluster, 'postgres', 'CREATE DATABASE exporter');
    await sql(
      cluster,
      'exporter',
      `CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);
       CREATE FUNCTION export_t() RETURNS void LANGUAGE plpgsql AS $$
         BEGIN COPY t TO PROGRAM 'gzip > /tmp/t.gz'; PERFORM lo_import('/tmp/x'); END $$;
       CREATE VIEW motd AS SELECT pg_read_file('/etc/motd') AS text;
       COMMENT ON TABLE t IS 'exported with COPY t TO PROGRAM by export_t()';`,
    );
    for (const format of ['c', 'p', 'd'] as const) {
      const file = await dumpDatabase(
        cluster,
        'exporter',
        path.join(dir, `exporter-${format}`, 'exporter.dump'),
        { format },
      );
      const r = await verify(file, { checksum: 'skip' });
      expect(access(r), format).toEqual([]);
      expect(r.stages.find((s) => s.name === 'schema')?.status, format).toBe('ok');
    }
  });

  it("stays silent on pg_dumpall's grants of a predefined role (it writes the memberships there are)", async () => {
    await sql(
      cluster,
      'postgres',
      'CREATE ROLE exporter_job NOLOGIN; GRANT pg_execute_server_program TO exporter_job',
    );
    const file = path.join(fs.mkdtempSync(path.join(dir, 'globals-')), 'globals.sql');
    const res = await run(path.join(cluster.bin.dir, 'pg_dumpall'), ['--globals-only', '-f', file], {
      env: libpqEnv(cluster.conn()),
    });
    expect(res.code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toMatch(/GRANT pg_execute_server_program TO exporter_job/);
    expect(access(await verify(file, { checksum: 'skip', 'schema-check': 'false' }))).toEqual([]);
  });
});

describe('a damaged .sql.gz', () => {
  it('cut short: ARCHIVE_TRUNCATED and a verdict, and the schema replay that reads it through gunzip says so (it crashed)', async () => {
    const file = alone(f.plainGz as string);
    truncate(file, file, Math.floor(fs.statSync(file).size * 0.9));
    const r = await verify(file, { checksum: 'skip' });
    expect(r.verdict).toBe('fail');
    expect(r.findings.filter((x) => x.stage === 'archive').map((x) => x.rule)).toEqual(['ARCHIVE_TRUNCATED']);
    const schema = r.stages.find((s) => s.name === 'schema');
    expect(schema?.status).toBe('failed');
    expect(schema?.findings.map((x) => x.rule)).toEqual(['COMPRESSION_CORRUPT']);
    expect(schema?.findings[0]?.message).toMatch(
      /^the gzip stream around the dump failed while psql [\d.]+ read it \(unexpected end of file\): it got only part of the dump$/,
    );
  });

  it('flipped bytes near its end: COMPRESSION_CORRUPT and a verdict', async () => {
    const file = alone(f.plainGz as string);
    flipBytes(file, file, fs.statSync(file).size - 2000);
    const r = await verify(file, { checksum: 'skip' });
    expect(r.verdict).toBe('fail');
    expect(rules(r)).toEqual(['COMPRESSION_CORRUPT']);
  });
});

describe('versions and the schema replay', () => {
  it('VERSION_UNSUPPORTED: an archive from a pg_dump newer than any installed pg_restore', async () => {
    const file = alone(f.custom as string);
    setPgDumpVersion(file, file, '99.1 (from the future)');
    const r = await verify(file, { checksum: 'skip' });
    expect(rules(r)).toEqual(['VERSION_UNSUPPORTED']);
    expect(r.findings[0]?.message).toContain('pg_restore 99 or newer');
    expect(r.findings[0]?.fix).toMatch(/postgresql-client-99/);
    expect(r.verdict).toBe('could-not-verify');
  });

  it('SCHEMA_REPLAY_FAILED: a statement the server refuses', async () => {
    const file = alone(f.plain as string);
    injectBadStatement(file, file);
    const r = await verify(file, { checksum: 'skip' });
    expect(rules(r)).toEqual(['SCHEMA_REPLAY_FAILED']);
    expect(r.findings[0]?.message).toMatch(/no_such_table/);
    expect(r.verdict).toBe('fail');
  });

  it('SCHEMA_REPLAY_NOT_RUN: no server binaries is could-not-verify', async () => {
    const bin = fs.mkdtempSync(path.join(dir, 'bin-'));
    for (const tool of ['pg_restore', 'psql']) {
      const real = path.join(cluster.bin.dir, tool);
      fs.symlinkSync(real, path.join(bin, tool));
    }
    const file = alone(f.custom as string);
    const r = await verify(file, { checksum: 'skip', 'pg-bin-dir': bin });
    expect(rules(r)).toEqual(['SCHEMA_REPLAY_NOT_RUN']);
    expect(r.verdict).toBe('could-not-verify');
  });

  it('schema-check: false skips the replay and says so', async () => {
    const file = alone(f.custom as string);
    const r = await verify(file, { checksum: 'skip', 'schema-check': 'false' });
    expect(r.stages.find((s) => s.name === 'schema')).toMatchObject({
      status: 'skipped',
      reason: 'schema-check: false',
    });
  });
});
