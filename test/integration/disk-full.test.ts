import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerifyResult } from '../../src/backup/context.js';
import { parseVerifyOptions } from '../../src/backup/options.js';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { parseDrillOptions } from '../../src/drill/options.js';
import { runDrill } from '../../src/drill/run.js';
import { DOWNLOAD_PART_SIZE } from '../../src/sources/s3.js';
import { runVerify } from '../../src/verify/run.js';
import { sha256 } from '../harness/breakers.js';
import { loadChinook, sql, startCluster, tempDir } from '../harness/pg.js';
import { type S3Harness, startS3 } from '../harness/s3.js';
import { fill, type SmallDisk, smallDisk } from '../harness/tmpfs.js';

/** What is left in a temp folder: the private parents of scratch clusters and labels may stay, empty. */
const leftovers = (d: string) =>
  fs
    .readdirSync(d)
    .flatMap((n) =>
      /^restorable-(\d+|labels-\d+)$/.test(n) ? fs.readdirSync(path.join(d, n)).map((x) => `${n}/${x}`) : [n],
    );

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TSX = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const MiB = 1024 * 1024;
const TWO_PARTS = DOWNLOAD_PART_SIZE + 4 * MiB;

let s3: S3Harness;
let dir: string;
let chinook: string;
/** A dump whose restore needs some 100 MiB: more than a small disk holds beside a cluster. */
let big: string;
/** The same wrapped in gzip: a drill with jobs unpacks it into the work folder first. */
let bigGz: string;
/** The same as plain SQL: psql's rows are written to WAL too, which PANICs the server when it fills. */
let bigSql: string;
const disks: SmallDisk[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  dir = tempDir('disk-full');
  const cluster = await startCluster();
  try {
    await loadChinook(cluster);
    chinook = await dumpDatabase(cluster, 'chinook', path.join(dir, 'app_prod_20260429_1430.dump'));
    await sql(cluster, 'postgres', 'CREATE DATABASE big');
    await sql(
      cluster,
      'big',
      'CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g',
    );
    big = await dumpDatabase(cluster, 'big', path.join(dir, 'big.dump'));
    bigSql = await dumpDatabase(cluster, 'big', path.join(dir, 'big.sql'), { format: 'p' });
    bigGz = path.join(dir, 'big.dump.gz');
    fs.writeFileSync(bigGz, zlib.gzipSync(fs.readFileSync(big), { level: 1 }));
  } finally {
    await cluster.stop();
  }
  s3 = await startS3();
  Object.assign(process.env, s3.env);
  await s3.bucket('backups');
  await s3.put('backups', 'fits/app_prod_20260429_1430.dump', fs.readFileSync(chinook), {
    sha256: sha256(chinook),
  });
  await s3.put('backups', 'nine/app_prod_20260429_1430.dump', crypto.randomBytes(9 * MiB));
  // Two download parts: the first whole, the second held until the disk is full.
  await s3.put('backups', 'two-parts/app_prod_20260429_1430.dump', crypto.randomBytes(TWO_PARTS));
}, 180_000);

afterAll(async () => {
  await s3?.stop();
  process.env = savedEnv;
  for (const d of disks) d.unmount();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function disk(size: string): SmallDisk {
  const d = smallDisk('disk-full', size);
  disks.push(d);
  return d;
}

function verify(source: string, work: string): Promise<VerifyResult> {
  const opts = parseVerifyOptions(
    { source, 's3-endpoint': s3.endpoint, 'max-age': '1000d', 'schema-check': 'false', 'work-dir': work },
    'input',
  );
  return runVerify(opts, memoryLogger());
}

const rules = (r: { findings: { rule: string; severity: string }[] }) =>
  r.findings.filter((f) => f.severity !== 'info').map((f) => f.rule);

describe('a full disk in the work-dir', () => {
  it('a backup larger than the free space is DISK_FULL before any byte is fetched; one that fits passes', async () => {
    const { dir: work } = disk('8m');
    fs.writeFileSync(path.join(work, 'keep-me.txt'), 'mine\n');
    const before = s3.requests.length;
    const r = await verify('s3://backups/nine/', work);
    expect(rules(r)).toEqual(['DISK_FULL']);
    expect(r.verdict).toBe('could-not-verify');
    const f = r.findings[0];
    expect(f?.stage).toBe('read');
    expect(f?.message).toMatch(
      new RegExp(
        `^no space left in ${work} for the download of app_prod_20260429_1430\\.dump; 9\\.0 MiB needed, [\\d.]+ MiB free`,
      ),
    );
    expect(f?.fix).toMatch(/work-dir/);
    expect(f?.evidence).toMatchObject({ folder: work, neededBytes: 9 * MiB });
    expect(s3.requests.slice(before).filter((q) => q.method === 'GET' && q.range)).toEqual([]);
    expect(fs.readdirSync(work)).toEqual(['keep-me.txt']);
    const ok = await verify('s3://backups/fits/', work);
    expect(rules(ok)).toEqual([]);
    expect(ok.verdict).toBe('pass');
  });

  it('a disk that fills during the download is DISK_FULL, not FETCH_FAILED, and the .part is removed', async () => {
    // Room for the whole object when it starts, so the download begins; filled after its first part.
    const { dir: work } = disk(`${TWO_PARTS / MiB + 4}m`);
    const release = s3.holdRangedGets(DOWNLOAD_PART_SIZE);
    let r: VerifyResult;
    let filler: string;
    try {
      const running = verify('s3://backups/two-parts/', work);
      const part = () =>
        (fs.readdirSync(work, { recursive: true }) as string[])
          .map((f) => path.join(work, f))
          .find((f) => f.endsWith('.part') && fs.statSync(f).size >= DOWNLOAD_PART_SIZE);
      const held = () =>
        s3.requests.some((q) => q.range?.startsWith(`bytes=${DOWNLOAD_PART_SIZE}-`) && !q.finished);
      const deadline = Date.now() + 60_000;
      while (!(part() && held()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(part()).toBeDefined();
      expect(held()).toBe(true);
      filler = fill(work);
      release();
      r = await running;
    } finally {
      release();
    }
    expect(rules(r)).toEqual(['DISK_FULL']);
    expect(r.verdict).toBe('could-not-verify');
    expect(r.findings[0]?.message).toMatch(
      new RegExp(`; ${TWO_PARTS / MiB}\\.0 MiB needed, [\\d.]+ MiB free\\. This is this machine's disk`),
    );
    expect(fs.readdirSync(work)).toEqual([path.basename(filler)]);
  });

  it("a drill's unpacked copy that fills the work-dir is DISK_FULL, and the copy is removed", async () => {
    const { dir: work } = disk('8m');
    const opts = parseDrillOptions(
      { source: bigGz, 'max-age': '1000d', checksum: 'skip', jobs: '2', 'work-dir': work },
      'input',
    );
    const r = await runDrill(opts, memoryLogger());
    expect(rules(r)).toEqual(['DISK_FULL']);
    expect(r.verdict).toBe('could-not-verify');
    const f = r.findings.find((x) => x.rule === 'DISK_FULL');
    expect(f?.stage).toBe('restore');
    expect(f?.message).toMatch(
      new RegExp(`^no space left in ${work} for the unpacked copy of big\\.dump\\.gz`),
    );
    // Stopped at half the free space, before the disk is full.
    expect(f?.message).toMatch(
      /\(it unpacks to more than \S+ \S+, half of the \S+ \S+ free when it began: stopped there/,
    );
    expect(fs.readdirSync(work)).toEqual([]);
    expect(r.stages.find((s) => s.name === 'teardown')?.status).toBe('ok');
  }, 120_000);
});

/** The CLI's `command` of `source` with TMPDIR (where scratch clusters live) on `tmp`. */
async function cli(
  command: 'drill' | 'verify',
  source: string,
  tmp: string,
): Promise<{ code: number | null; out: string; err: string }> {
  const work = fs.mkdtempSync(path.join(dir, 'work-'));
  const child = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      path.join(root, 'src/cli/index.ts'),
      command,
      '--source',
      source,
      '--max-age',
      '1000d',
      '--checksum',
      'skip',
      '--work-dir',
      work,
      '--json',
    ],
    // tsx keeps its cache in TMPDIR too: off, so the small disk is the cluster's alone.
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: dir,
      env: { ...process.env, TMPDIR: tmp, TSX_DISABLE_CACHE: '1' },
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, out, err };
}

interface DrillJson {
  result: {
    verdict: string;
    findings: { rule: string; severity: string; stage: string; message: string }[];
    stages: unknown[];
  };
}

describe('a full disk under the scratch cluster', () => {
  it('the restore fills TMPDIR: DISK_FULL (could-not-verify), not a failed backup; the cluster is removed', async () => {
    const { dir: tmp } = disk('64m');
    const r = await cli('drill', big, tmp);
    expect(r.code, `${r.err}\n${r.out.slice(0, 4000)}`).toBe(3);
    const { result } = JSON.parse(r.out) as DrillJson;
    expect(result.verdict).toBe('could-not-verify');
    expect(rules(result)).toEqual(['DISK_FULL']);
    const f = result.findings.find((x) => x.rule === 'DISK_FULL');
    expect(f?.stage).toBe('restore');
    expect(f?.message).toMatch(
      new RegExp(
        `^no space left in ${tmp} for the scratch cluster restoring big\\.dump \\(a [\\d.]+ MiB dump\\).*could not extend file`,
      ),
    );
    expect(leftovers(tmp)).toEqual([]);
  }, 180_000);

  it('a plain dump whose restore fills TMPDIR (the server stops): DISK_FULL, no stack trace, the cluster is removed', async () => {
    const { dir: tmp } = disk('64m');
    const r = await cli('drill', bigSql, tmp);
    expect(r.code, `${r.err}\n${r.out.slice(0, 4000)}`).toBe(3);
    expect(r.err).not.toMatch(/\n\s+at /);
    const { result } = JSON.parse(r.out) as DrillJson;
    expect(rules(result), JSON.stringify(result.stages)).toEqual(['DISK_FULL']);
    const f = result.findings.find((x) => x.rule === 'DISK_FULL');
    expect(f?.stage).toBe('restore');
    expect(f?.message).toMatch(
      new RegExp(
        `^no space left in ${tmp} for the scratch cluster restoring big\\.sql \\(a [\\d.]+ MiB dump\\)`,
      ),
    );
    expect(leftovers(tmp)).toEqual([]);
  }, 180_000);

  it('initdb on a full TMPDIR: DISK_FULL at the target stage, could-not-verify', async () => {
    const { dir: tmp } = disk('8m');
    const r = await cli('drill', chinook, tmp);
    expect(r.code, `${r.err}\n${r.out.slice(0, 4000)}`).toBe(3);
    const { result } = JSON.parse(r.out) as DrillJson;
    expect(rules(result)).toEqual(['DISK_FULL']);
    const f = result.findings.find((x) => x.rule === 'DISK_FULL');
    expect(f?.stage).toBe('target');
    expect(f?.message).toMatch(
      new RegExp(`^no space left in ${tmp} for a scratch cluster.*No space left on device`),
    );
    expect(leftovers(tmp)).toEqual([]);
  }, 180_000);

  it("verify's schema replay on a full TMPDIR: DISK_FULL at the schema stage, could-not-verify", async () => {
    const { dir: tmp } = disk('8m');
    const r = await cli('verify', chinook, tmp);
    expect(r.code, `${r.err}\n${r.out.slice(0, 4000)}`).toBe(3);
    const { result } = JSON.parse(r.out) as DrillJson;
    expect(rules(result)).toEqual(['DISK_FULL']);
    expect(result.findings[0]?.stage).toBe('schema');
    expect(leftovers(tmp)).toEqual([]);
  }, 180_000);
});
