import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as verifyBackupAction } from '../../src/actions/verify-backup.js';
import type { BackupFacts, VerifyResult } from '../../src/backup/context.js';
import { parseVerifyOptions } from '../../src/backup/options.js';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { parseDrillOptions } from '../../src/drill/options.js';
import { type DrillResult, runDrill } from '../../src/drill/run.js';
import { findLeftovers } from '../../src/postgres/cluster.js';
import { DOWNLOAD_PART_SIZE } from '../../src/sources/s3.js';
import { runVerify } from '../../src/verify/run.js';
import { sha256 } from '../harness/breakers.js';
import { loadChinook, sql, startCluster, tempDir } from '../harness/pg.js';
import { type S3Harness, startS3 } from '../harness/s3.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TSX = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

let s3: S3Harness;
let dir: string;
let dump: string;
/** Gzip-wrapped custom dumps: a drill with jobs unpacks them into the work folder first. */
let chinookGz: string;
let bigGz: string;
const savedEnv = { ...process.env };
/** Three download parts (DOWNLOAD_PART_SIZE each, the last shorter): a download held after its first. */
const BIG = 2 * DOWNLOAD_PART_SIZE + 1024 * 1024;

beforeAll(async () => {
  dir = tempDir('workdir');
  const cluster = await startCluster();
  try {
    await loadChinook(cluster);
    dump = await dumpDatabase(cluster, 'chinook', path.join(dir, 'app_prod_20260429_1430.dump'));
    chinookGz = path.join(dir, 'chinook.dump.gz');
    fs.writeFileSync(chinookGz, zlib.gzipSync(fs.readFileSync(dump)));
    // Rows enough that the restore takes seconds: time to cancel it while the unpacked copy is used.
    await sql(cluster, 'postgres', 'CREATE DATABASE big');
    await sql(
      cluster,
      'big',
      'CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g',
    );
    const big = await dumpDatabase(cluster, 'big', path.join(dir, 'big.dump'));
    bigGz = path.join(dir, 'big.dump.gz');
    fs.writeFileSync(bigGz, zlib.gzipSync(fs.readFileSync(big), { level: 1 }));
  } finally {
    await cluster.stop();
  }
  s3 = await startS3();
  Object.assign(process.env, s3.env);
  await s3.bucket('backups');
  await s3.put('backups', 'database/app_prod_20260429_1430.dump', fs.readFileSync(dump), {
    sha256: sha256(dump),
  });
  await s3.put('backups', 'big/app_prod_20260429_1430.dump', crypto.randomBytes(BIG));
}, 180_000);

afterAll(async () => {
  await s3?.stop();
  process.env = savedEnv;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A work-dir that already holds a file of someone else's: it must be left as it is. */
function workDir(): string {
  const work = fs.mkdtempSync(path.join(dir, 'work-'));
  fs.writeFileSync(path.join(work, 'keep-me.txt'), 'not restorable’s\n');
  return work;
}

function verify(source: string, work: string, partSize?: number): Promise<VerifyResult> {
  const opts = parseVerifyOptions(
    { source, 's3-endpoint': s3.endpoint, 'max-age': '1000d', 'schema-check': 'false', 'work-dir': work },
    'input',
  );
  return runVerify({ ...opts, s3: { ...opts.s3, ...(partSize ? { partSize } : {}) } }, memoryLogger());
}

const rules = (r: VerifyResult | DrillResult) =>
  r.findings.filter((x) => x.severity !== 'info').map((x) => x.rule);

function drill(source: string, work: string): Promise<DrillResult> {
  const opts = parseDrillOptions(
    { source, 'max-age': '1000d', checksum: 'skip', jobs: '2', 'work-dir': work },
    'input',
  );
  return runDrill(opts, memoryLogger());
}

/** Every file under `work` whose name ends in `suffix`, at least `min` bytes long. */
function filesEnding(work: string, suffix: string, min = 0): string[] {
  return (fs.readdirSync(work, { recursive: true }) as string[])
    .map((f) => path.join(work, f))
    .filter((f) => f.endsWith(suffix) && fs.statSync(f).size >= min);
}

async function until<T>(what: () => T | undefined, ms: number, alive: () => boolean): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  let got = what();
  while (got === undefined && Date.now() < deadline && alive()) {
    await new Promise((r) => setTimeout(r, 50));
    got = what();
  }
  return got;
}

describe('a work-dir shared by runs', () => {
  it('two verifies of one healthy S3 backup into one work-dir at once both pass, each in its own run folder', async () => {
    const work = workDir();
    const before = s3.requests.length;
    // Small parts, and the second started once the first is downloading: the two overlap.
    const first = verify('s3://backups/database/', work, 16 * 1024);
    while (!s3.requests.slice(before).some((q) => q.range && q.finished)) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const second = verify('s3://backups/database/', work, 16 * 1024);
    const [a, b] = await Promise.all([first, second]);
    for (const r of [a, b]) {
      expect(rules(r)).toEqual([]);
      expect(r.verdict).toBe('pass');
      expect(sha256(r.backup?.localPath as string)).toBe(sha256(dump));
    }
    const folders = [a, b].map((r) => path.dirname(r.backup?.localPath as string));
    expect(new Set(folders).size).toBe(2);
    for (const f of folders) {
      expect(path.dirname(f)).toBe(work);
      expect(path.basename(f)).toMatch(/^run-\w{6}$/);
      expect(fs.statSync(f).mode & 0o777).toBe(0o700);
      expect(fs.readdirSync(f)).toEqual(['app_prod_20260429_1430.dump']);
    }
    expect(fs.readFileSync(path.join(work, 'keep-me.txt'), 'utf8')).toBe('not restorable’s\n');
  });

  it('a download that fails leaves no .part and no run folder, and nothing else is touched', async () => {
    const work = workDir();
    s3.failRangedGets(1000);
    let r: VerifyResult;
    try {
      r = await verify('s3://backups/database/', work);
    } finally {
      s3.failRangedGets(0);
    }
    expect(rules(r)).toEqual(['FETCH_FAILED']);
    expect(fs.readdirSync(work)).toEqual(['keep-me.txt']);
  });

  it('SIGINT mid-download: the CLI exits 130 and leaves no .part behind', async () => {
    const work = workDir();
    const release = s3.holdRangedGets(DOWNLOAD_PART_SIZE);
    try {
      const child = spawn(
        process.execPath,
        [
          '--import',
          TSX,
          path.join(root, 'src/cli/index.ts'),
          'verify',
          '--source',
          's3://backups/big/',
          '--s3-endpoint',
          s3.endpoint,
          '--max-age',
          '1000d',
          '--work-dir',
          work,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, env: { ...process.env, ...s3.env } },
      );
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      // Wait until the first part is on disk and the rest are held.
      const part = await until(
        () => filesEnding(work, '.part', DOWNLOAD_PART_SIZE)[0],
        60_000,
        () => child.exitCode === null,
      );
      expect(part, err).toBeDefined();
      const held = s3.requests.filter((q) => q.range?.startsWith(`bytes=${DOWNLOAD_PART_SIZE}-`));
      expect(
        held.map((q) => q.finished),
        'the second part is held',
      ).toEqual([undefined]);
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(fs.existsSync(part as string)).toBe(false);
      expect(fs.readdirSync(work)).toEqual(['keep-me.txt']);
    } finally {
      release();
    }
  }, 90_000);
});

describe('a work-dir shared by drills', () => {
  it('two drills of one gzip-wrapped dump into one work-dir at once both pass, each unpacking into its own folder', async () => {
    const work = workDir();
    // The second starts while the first unpacks or restores from its copy; every copy seen is noted.
    const seen = new Set<string>();
    let done = 0;
    const watch = setInterval(() => {
      for (const f of filesEnding(work, '.unpacked')) seen.add(f);
    }, 20);
    try {
      const first = drill(bigGz, work).finally(() => done++);
      await until(
        () => filesEnding(work, '.unpacked')[0],
        60_000,
        () => done === 0,
      );
      const [a, b] = await Promise.all([first, drill(bigGz, work)]);
      for (const r of [a, b]) {
        expect(rules(r)).toEqual([]);
        expect(r.verdict).toBe('pass');
        expect(r.restore?.jobs).toBe(2);
      }
    } finally {
      clearInterval(watch);
    }
    expect(seen.size).toBe(2);
    for (const f of seen) expect(path.relative(work, f)).toMatch(/^run-\w{6}\/big\.dump\.unpacked$/);
    expect(fs.readdirSync(work)).toEqual(['keep-me.txt']);
  }, 120_000);

  it('SIGINT while pg_restore reads the unpacked copy: exit 130, the copy and the cluster are gone', async () => {
    const work = workDir();
    const child = spawn(
      process.execPath,
      [
        '--import',
        TSX,
        path.join(root, 'src/cli/index.ts'),
        'drill',
        '--source',
        bigGz,
        '--max-age',
        '1000d',
        '--jobs',
        '2',
        '--work-dir',
        work,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
    );
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const alive = () => child.exitCode === null;
    const cluster = await until(
      () => findLeftovers().find((c) => c.label.pid === child.pid)?.root,
      60_000,
      alive,
    );
    // The copy is written once the target exists, then pg_restore reads it: cancel while it is there.
    const unpacked = await until(() => filesEnding(work, '.unpacked')[0], 60_000, alive);
    expect(cluster, err).toBeDefined();
    expect(unpacked, err).toBeDefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(), `the drill ended before it could be cancelled: ${err}`).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(fs.existsSync(unpacked as string)).toBe(false);
    expect(fs.existsSync(cluster as string)).toBe(false);
    expect(fs.readdirSync(work)).toEqual(['keep-me.txt']);
  }, 120_000);
});

/**
 * The CLI as a person runs it: the committed bundle, or (RESTORABLE_TEST_CLI=source) its sources
 * through tsx, for a branch whose bundle is not rebuilt yet. Outside a runner (no RUNNER_TEMP): the
 * work-dir is .restorable/ in `cwd` unless --work-dir says otherwise.
 */
function startCli(args: string[], cwd: string) {
  const argv =
    process.env.RESTORABLE_TEST_CLI === 'source'
      ? ['--import', TSX, path.join(root, 'src/cli/index.ts')]
      : [path.join(root, 'dist/cli/index.js')];
  const { RUNNER_TEMP: _runner, ...env } = process.env;
  const child = spawn(process.execPath, [...argv, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd, env });
  const got = { out: '', err: '' };
  child.stdout.on('data', (b: Buffer) => {
    got.out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    got.err += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { child, got, exited };
}

async function cli(args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  const c = startCli(args, cwd);
  const code = await c.exited;
  return { code, ...c.got };
}

const fromS3 = (prefix: string) => ['--source', `s3://backups/${prefix}`, '--s3-endpoint', s3.endpoint];

interface CliJson {
  outputs: Record<string, string>;
  result: { verdict: string; backup?: BackupFacts; findings: { rule: string; severity: string }[] };
}

/** What a CLI run's --json printed, with the exit status and stderr in the message when it is not JSON. */
function json(r: { code: number | null; out: string; err: string }): CliJson {
  try {
    return JSON.parse(r.out) as CliJson;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.out}\n${r.err}`);
  }
}

describe('a download from the command line', () => {
  it('verify: in .restorable/ by default, removed when the run ends; the report and the log say so', async () => {
    const cwd = fs.mkdtempSync(path.join(dir, 'terminal-'));
    const args = ['verify', ...fromS3('database/'), '--max-age', '1000d', '--schema-check', 'false'];
    const text = await cli(args, cwd);
    expect(text.code, text.err).toBe(0);
    // Nothing left: the work-dir (the user's) stays, empty; no run folder, no file.
    const where = path.join(cwd, '.restorable');
    expect(fs.readdirSync(where, { recursive: true })).toEqual([]);
    const named = new RegExp(
      `\\n {2}download {9}${where}/run-\\w{6}/app_prod_20260429_1430\\.dump: removed at the end of the run\\n`,
    );
    expect(text.out).toMatch(named);
    expect(text.out).not.toMatch(/local path/);
    const file = `${where}/run-\\w{6}/app_prod_20260429_1430\\.dump`;
    expect(text.err).toMatch(
      new RegExp(
        `\\ndownloaded \\S+ to ${file} \\(removed when the run ends; --keep-download keeps it\\)\\n`,
      ),
    );
    expect(text.err).toMatch(new RegExp(`\\nremoved the download ${file}\\n`));
    const r = json(await cli([...args, '--json'], cwd));
    expect(r.result.verdict).toBe('pass');
    expect(r.outputs['local-path']).toBe('');
    expect(r.result.backup?.localPath).toBeUndefined();
    expect(r.result.backup?.download).toEqual({
      path: expect.stringMatching(new RegExp(`^${where}/run-\\w{6}/app_prod_20260429_1430\\.dump$`)),
      kept: false,
    });
    expect(fs.readdirSync(where)).toEqual([]);
  }, 90_000);

  it('verify with a finding (the checksum differs): the download is removed all the same', async () => {
    const work = workDir();
    const r = await cli(
      [
        'verify',
        ...fromS3('database/'),
        '--max-age',
        '1000d',
        '--checksum',
        'f'.repeat(64),
        '--work-dir',
        work,
        '--json',
      ],
      dir,
    );
    expect(r.code, r.err).toBe(1);
    expect(fs.readdirSync(work, { recursive: true })).toEqual(['keep-me.txt']);
    const { result } = json(r);
    expect(result.findings.map((x) => x.rule)).toContain('CHECKSUM_MISMATCH');
    expect(result.backup?.download?.kept).toBe(false);
    expect(fs.readdirSync(work)).toEqual(['keep-me.txt']);
  }, 90_000);

  it('SIGINT after the download, while the schema replays: exit 130, the download and the cluster gone', async () => {
    const work = workDir();
    const c = startCli(['verify', ...fromS3('database/'), '--max-age', '1000d', '--work-dir', work], dir);
    const alive = () => c.child.exitCode === null;
    const whole = await until(() => filesEnding(work, '/app_prod_20260429_1430.dump')[0], 60_000, alive);
    const cluster = await until(
      () => findLeftovers().find((x) => x.label.pid === c.child.pid)?.root,
      60_000,
      alive,
    );
    expect(whole, c.got.err).toBeDefined();
    expect(cluster, c.got.err).toBeDefined();
    expect(alive(), `the verify ended before it could be cancelled: ${c.got.err}`).toBe(true);
    c.child.kill('SIGINT');
    expect(await c.exited).toBe(130);
    expect(fs.existsSync(whole as string)).toBe(false);
    expect(fs.existsSync(cluster as string)).toBe(false);
    expect(fs.readdirSync(work)).toEqual(['keep-me.txt']);
  }, 90_000);

  it('--keep-download: the file stays in its run folder, and the report names it', async () => {
    const work = workDir();
    const args = ['verify', ...fromS3('database/'), '--max-age', '1000d', '--schema-check', 'false'];
    const r = await cli([...args, '--work-dir', work, '--keep-download'], dir);
    expect(r.code, r.err).toBe(0);
    const kept = new RegExp(
      `\\n {2}local path {7}(${work}/run-\\w{6}/app_prod_20260429_1430\\.dump) \\(the download, kept\\)\\n`,
    ).exec(r.out)?.[1];
    expect(kept, r.out).toBeDefined();
    expect(sha256(kept as string)).toBe(sha256(dump));
    expect(r.out).not.toMatch(/removed/);
    const again = json(await cli([...args, '--work-dir', work, '--keep-download', '--json'], dir));
    const second = again.outputs['local-path'] as string;
    expect(again.result.backup?.download).toEqual({ path: second, kept: true });
    expect(sha256(second)).toBe(sha256(dump));
    expect(fs.readdirSync(work).sort()).toEqual(
      [
        'keep-me.txt',
        path.basename(path.dirname(kept as string)),
        path.basename(path.dirname(second)),
      ].sort(),
    );
  }, 90_000);

  it('a local backup given as a path is never touched, and has no run folder', async () => {
    const work = workDir();
    const r = json(
      await cli(
        [
          'verify',
          '--source',
          dump,
          '--max-age',
          '1000d',
          '--schema-check',
          'false',
          '--work-dir',
          work,
          '--json',
        ],
        dir,
      ),
    );
    expect(r.result.verdict).toBe('pass');
    expect(r.outputs['local-path']).toBe(dump);
    expect(r.result.backup?.download).toBeUndefined();
    expect(fs.existsSync(dump)).toBe(true);
    expect(fs.readdirSync(work)).toEqual(['keep-me.txt']);
  }, 60_000);

  it('drill from S3: restored from the download, then nothing left', async () => {
    const work = workDir();
    const r = await cli(
      [
        'drill',
        ...fromS3('database/'),
        '--max-age',
        '1000d',
        '--checksum',
        'skip',
        '--work-dir',
        work,
        '--json',
      ],
      dir,
    );
    expect(r.code, r.err).toBe(0);
    const { result, outputs } = json(r) as CliJson & {
      result: { stages: { name: string; status: string }[]; restore?: unknown };
    };
    expect(result.verdict).toBe('pass');
    expect(result.stages.find((s) => s.name === 'restore')?.status).toBe('ok');
    expect(outputs.rows).toBe('15607');
    expect(outputs['local-path']).toBe('');
    expect(result.backup?.download?.kept).toBe(false);
    expect(fs.readdirSync(work)).toEqual(['keep-me.txt']);
  }, 120_000);
});

describe('a download in the actions', () => {
  /** The verify-backup action's step, in this process (the S3 server is here too): its outputs. */
  async function action(inputs: Record<string, string>): Promise<Record<string, string>> {
    const step = fs.mkdtempSync(path.join(dir, 'step-'));
    for (const k of ['GITHUB_OUTPUT', 'GITHUB_STEP_SUMMARY', 'GITHUB_STATE']) {
      fs.writeFileSync(path.join(step, k), '');
      vi.stubEnv(k, path.join(step, k));
    }
    try {
      await verifyBackupAction({
        's3-endpoint': s3.endpoint,
        'max-age': '1000d',
        'schema-check': 'false',
        ...inputs,
      });
    } finally {
      vi.unstubAllEnvs();
      process.exitCode = undefined;
    }
    const text = fs.readFileSync(path.join(step, 'GITHUB_OUTPUT'), 'utf8');
    return Object.fromEntries(
      [...text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)].map((m) => [m[1] as string, m[3] as string]),
    );
  }

  it('verify-backup keeps the download by default: local-path is the file, for the next step', async () => {
    const work = workDir();
    const out = await action({ source: 's3://backups/database/', 'work-dir': work });
    expect(out.verdict).toBe('pass');
    const local = out['local-path'] as string;
    expect(path.relative(work, local)).toMatch(/^run-\w{6}\/app_prod_20260429_1430\.dump$/);
    expect(sha256(local)).toBe(sha256(dump));
  });

  it('keep-download: false lets an action drop it too: no local-path, nothing left', async () => {
    const work = workDir();
    const out = await action({
      source: 's3://backups/database/',
      'work-dir': work,
      'keep-download': 'false',
    });
    expect(out.verdict).toBe('pass');
    expect(out['local-path']).toBe('');
    // The action's own report stays (its report output names it); no run folder, no download.
    expect(out.report).toBe(path.join(work, 'verify-report.json'));
    expect(fs.readdirSync(work).sort()).toEqual(['keep-me.txt', 'verify-report.json']);
  });
});
