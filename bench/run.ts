/**
 * npm run bench: the numbers issues 2 (verify-backup), 3 (restore-drill) and 20 ask for, side by side.
 * The summary's rows are merged into bench/results.json, the source of the performance table in docs/performance.md.
 *
 *   1. Local: sha256sum against Restorable's one-pass read of the same ~1 GiB pg_dump -Fc file, both
 *      the core call (inspectStream) and the whole runVerify (schema-check off, checksum skip); and
 *      the committed bundle (dist/cli verify, as a runner runs it) against sha256sum (bench/dist.ts).
 *   2. S3: the same dump on a local s3rver, verified by runVerify in a child process: peak RSS, time,
 *      and the download's throughput on its own.
 *   3. Drill (bench/drill.ts): Restorable's whole drill against seed 003's monthly drill done by hand,
 *      and the drill's restore stage against a bare pg_restore into the same tuned cluster.
 *   4. A table of ratios against the targets. Misses are printed, never fatal: the bench reports.
 *
 *   5. pitr (bench/pitr.ts): WAL replay from S3 with prefetch against local cp; restore_command's cost.
 *   5b. pitr-base (bench/pitr-base.ts): the whole PITR drill with a plain base backup (one object
 *      per file) and its WAL from S3, against the same drill from local folders, side by side.
 *   6. barman (bench/barman.ts): seed 001's Barman drill by hand (recover, start, count, stop,
 *      remove) against Restorable's `backend: barman` drill, on one real Barman server.
 *
 *   7. baseline (bench/baseline.ts): runVerify of this tree against the commit before issue 17
 *      (BENCH_BASELINE names another), both in child processes, alternating (issue 17's 5%).
 *
 * Environment: BENCH_PARTS (comma list of verify, baseline, drill, compare, pitr, pitr-base, barman; default all: verify is 1 and 2),
 * BENCH_PITR_BASE_ROUNDS (default 3), BENCH_PITR_BASE_MB (table data in the base backup, default 300),
 * BENCH_PITR_BASE_TABLES (small tables beside it, a few files each: default 1500),
 * BENCH_BARMAN_ROUNDS (default 3), BENCH_BARMAN_SCALE (pgbench scale, default 8: about 120 MiB),
 * BENCH_PITR_MB (WAL to replay, default 1100), BENCH_PITR_ROUNDS (default 3),
 * the dump-bound parts (verify, drill) run at two sizes, 200 MiB and 1 GiB (BENCH_BIG=1: 1 GiB and
 * 10 GiB; BENCH_SIZE_MB: that one size), each summary row naming its dump's size; BENCH_ROUNDS (local rounds, default 5, at least 3),
 * BENCH_S3_ROUNDS (default 3), BENCH_BREAKDOWN=0 to skip the breakdown of the one pass,
 * BENCH_DRILL_ROUNDS (default 3; 1 or 2 for a quick look, flagged as fewer than the issue asks),
 * BENCH_DRILL_JOBS (the drill's --jobs and the bare pg_restore's, default the number of cores).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { isalAddon } from '../src/archive/lanes.js';
import { type S3Harness, startS3 } from '../test/harness/s3.js';
import { barmanSummaryRows, benchBarman } from './barman.js';
import { benchBaseline } from './baseline.js';
import { benchCompare, compareSummaryRows, printCompare } from './compare.js';
import { benchDump } from './dataset.js';
import { benchDist, distSummaryRow } from './dist.js';
import { benchDrill, drillSummaryRows, MIN_ROUNDS, printDrill } from './drill.js';
import { benchLocal, breakdown, type LocalResult, printLocal } from './local.js';
import { benchPitr, pitrSummaryRows } from './pitr.js';
import { benchPitrBase, pitrBaseSummaryRows } from './pitr-base.js';
import { recordResults } from './results.js';
import { type ChildCommand, type ChildRun, childCommand, peakRss, runChild, uploadMultipart } from './s3.js';
import { fmtMiB, fmtS, fmtX, median, rate, table, timed, verdict } from './stats.js';

const RATIO_TARGET = 1.3;
const RSS_TARGET_MIB = 160;
/** Issue 20: verify from S3 (loopback) against verify of the same file from local disk. */
const S3_TARGET = 1.3;

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${name} must be a whole number >= ${min}, not "${raw}"`);
  return n;
}

const say = (m: string) => process.stdout.write(`${m}\n`);
const heading = (m: string) => say(`\n== ${m} ==`);

// The AWS SDK warns, once per process, that it will want Node 22 from 2027: keep the output readable.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (!w.message.includes('NodeVersionSupportWarning')) process.stderr.write(`${w.name}: ${w.message}\n`);
});

interface S3Result {
  how: string;
  uploadSeconds: number;
  verify: ChildRun[];
  download: ChildRun[];
}

async function benchS3(file: string, rounds: number): Promise<S3Result> {
  const s3 = await startS3();
  try {
    const bucket = 'bench';
    const prefix = 'nightly/';
    const name = path.basename(file);
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.env.AWS_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    let uploadSeconds: number;
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      uploadSeconds = (await timed(() => uploadMultipart(client, bucket, prefix + name, file))).seconds;
    } finally {
      client.destroy();
    }
    say(
      `uploaded ${name} to s3://${bucket}/${prefix} at ${s3.endpoint} in ${fmtS(uploadSeconds)} (multipart, 64 MiB parts)`,
    );
    say('bundling the child process with ncc...');
    const cmd = childCommand(say);
    say(
      `child: ${cmd.how}; peak RSS from ${fs.existsSync('/usr/bin/time') ? '/usr/bin/time -v' : 'getrusage in the child'}`,
    );
    const result: S3Result = { how: cmd.how, uploadSeconds, verify: [], download: [] };
    try {
      await s3Rounds(cmd, s3, { bucket, prefix, name }, rounds, result);
    } finally {
      cmd.cleanup();
    }
    return result;
  } finally {
    await s3.stop();
  }
}

async function s3Rounds(
  cmd: ChildCommand,
  s3: S3Harness,
  where: { bucket: string; prefix: string; name: string },
  rounds: number,
  result: S3Result,
): Promise<void> {
  for (let i = 1; i <= rounds; i++) {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-bench-s3-'));
    try {
      const base = { endpoint: s3.endpoint, ...where, workDir };
      const d = await runChild(cmd, { ...base, mode: 'download' }, s3.env);
      const v = await runChild(cmd, { ...base, mode: 'verify' }, s3.env);
      if (v.verdict !== 'pass') throw new Error(`S3 runVerify said ${v.verdict}: ${v.findings?.join('; ')}`);
      result.download.push(d);
      result.verify.push(v);
      const cpu = (r: ChildRun) => `CPU ${fmtS(r.cpuSeconds)} + s3rver ${fmtS(r.serverCpuSeconds)}`;
      say(
        `round ${i}/${rounds}: download only ${fmtS(d.seconds)} (${rate(d.bytes, d.seconds)}, peak RSS ${peakRss(d).toFixed(0)} MiB, ${cpu(d)}); ` +
          `runVerify ${fmtS(v.seconds)} (read stage ${fmtS(v.readSeconds ?? 0)}, peak RSS ${peakRss(v).toFixed(0)} MiB, ${cpu(v)}; ` +
          `RSS at start ${v.baselineRssMb.toFixed(0)} MiB)`,
      );
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  }
}

const PARTS = ['verify', 'baseline', 'drill', 'compare', 'pitr', 'pitr-base', 'barman'] as const;
type Part = (typeof PARTS)[number];

function partsEnv(): Set<Part> {
  const raw = process.env.BENCH_PARTS?.trim();
  if (!raw) return new Set(PARTS);
  const parts = raw.split(',').map((p) => p.trim().toLowerCase());
  for (const p of parts) {
    if (!(PARTS as readonly string[]).includes(p))
      throw new Error(`BENCH_PARTS: "${p}" is not one of ${PARTS.join(', ')}`);
  }
  return new Set(parts as Part[]);
}

function verifyRows(local: LocalResult, s3: S3Result | undefined): string[][] {
  const core = median(local.coreRatios);
  const ver = median(local.verifyRatios);
  const rows: string[][] = [
    [
      'local inspectStream / sha256sum',
      `median ${fmtX(core)}`,
      `<= ${fmtX(RATIO_TARGET)}`,
      verdict(core <= RATIO_TARGET),
    ],
    [
      'local runVerify / sha256sum',
      `median ${fmtX(ver)}`,
      `<= ${fmtX(RATIO_TARGET)}`,
      verdict(ver <= RATIO_TARGET),
    ],
  ];
  if (s3) {
    const peak = Math.max(...s3.verify.map(peakRss));
    const vMed = median(s3.verify.map((r) => r.seconds));
    const dMed = median(s3.download.map((r) => r.seconds));
    const bytes = s3.verify[0]?.bytes ?? local.bytes;
    rows.push(
      [
        'S3 verify peak RSS (max of runs)',
        `${peak.toFixed(1)} MiB`,
        `<= ${RSS_TARGET_MIB} MiB`,
        verdict(peak <= RSS_TARGET_MIB),
      ],
      ['S3 verify time', `median ${fmtS(vMed)}`, '', ''],
      [
        'S3 verify / local runVerify',
        `${fmtS(vMed)} / ${fmtS(median(local.verify))} = ${fmtX(vMed / median(local.verify))}`,
        `<= ${fmtX(S3_TARGET)}`,
        verdict(vMed / median(local.verify) <= S3_TARGET),
      ],
      ['S3 verify / sha256sum', `median ${fmtX(vMed / median(local.sha))}`, '(no target)', ''],
      ['S3 download only', `median ${rate(bytes, dMed)}`, '(no target)', ''],
      ['S3 verify, end to end', `median ${rate(bytes, vMed)}`, '(no target)', ''],
    );
  }
  return rows;
}

interface Settings {
  parts: Set<Part>;
  rounds: number;
  s3Rounds: number;
  drillRounds: number;
  drillJobs: number;
  runBreakdown: boolean;
}

/** The sizes the dump-bound parts run at: two by default (a stage's time per GB at each), or one. */
function sizesEnv(): number[] {
  if (process.env.BENCH_SIZE_MB) return [intEnv('BENCH_SIZE_MB', 1024, 1)];
  return process.env.BENCH_BIG === '1' ? [1024, 10240] : [200, 1024];
}

/** The verify and drill parts on one dump: their summary rows, each metric naming the dump's size. */
async function benchSize(sizeMb: number, set: Settings): Promise<string[][]> {
  heading(`dump (target ${sizeMb} MiB)`);
  const dump = await benchDump(sizeMb, say);
  say(
    `${dump.file}: ${fmtMiB(dump.bytes)} (${dump.bytes} bytes), ${dump.generated ? `generated in ${fmtS(dump.seconds)}` : 'cached'}`,
  );
  const rows: string[][] = [];
  if (set.parts.has('verify')) rows.push(...(await benchVerify(dump.file, set)));
  if (set.parts.has('baseline')) {
    heading(
      `baseline: runVerify of this tree against the commit before issue 17, alternating, ${set.rounds} rounds`,
    );
    rows.push(benchBaseline(dump.file, set.rounds, say));
  }
  if (set.parts.has('drill')) {
    heading(
      `drill: restorable drill vs seed 003 by hand vs bare pg_restore, ${set.drillRounds} round(s), alternating`,
    );
    if (set.drillRounds < MIN_ROUNDS)
      say(`NOTE: ${set.drillRounds} round(s) only (BENCH_DRILL_ROUNDS); medians want at least ${MIN_ROUNDS}`);
    say(
      `our drill: runDrill, checksum auto (reads ${path.basename(dump.file)}.sha256), --jobs ${set.drillJobs}, tuned scratch cluster; ` +
        'by hand: default-config cluster (initdb defaults, as postgres), pg_restore --jobs=4 --create, psql counts; ' +
        `bare: pg_restore --jobs ${set.drillJobs} into ScratchCluster (BULK_LOAD_SETTINGS), pg_restore alone timed`,
    );
    const drill = await benchDrill(dump.file, set.drillRounds, set.drillJobs, say);
    printDrill(drill, say);
    rows.push(...drillSummaryRows(drill));
  }
  const size = fmtMiB(dump.bytes);
  return rows.map(([metric = '', ...rest]) => [
    metric.includes(' MiB dump') ? metric : `${metric} [${size}]`,
    ...rest,
  ]);
}

async function benchVerify(file: string, set: Settings): Promise<string[][]> {
  heading(
    `dist: verify through the committed bundle (dist/cli) vs sha256sum, alternating, ${set.rounds} rounds`,
  );
  const dist = await benchDist(file, set.rounds, say);
  heading(`local: sha256sum vs one pass, alternating, 1 warm-up + ${set.rounds} rounds`);
  say('page cache: not dropped; the file stays cached in RAM, so both sides read from memory, not disk');
  const isal = isalAddon();
  say(
    'path' in isal
      ? `tables inflate in worker threads with ISA-L (${isal.path})`
      : `tables inflate in worker threads with zlib: ${isal.unavailable}`,
  );
  const local = await benchLocal(file, set.rounds, say);
  printLocal(local, say);
  if (set.runBreakdown) {
    heading('where the one pass spends its time (each part alone, 3 runs, medians)');
    await breakdown(file, 3, say);
  }
  let s3: S3Result | undefined;
  if (set.s3Rounds > 0) {
    heading(`S3: runVerify from a local s3rver in a child process, ${set.s3Rounds} rounds`);
    say('s3rver runs in this (parent) process and competes with the child for the 2 cores');
    s3 = await benchS3(file, set.s3Rounds);
  }
  return [distSummaryRow(dist), ...verifyRows(local, s3)];
}

async function main(): Promise<void> {
  const began = performance.now();
  const set: Settings = {
    parts: partsEnv(),
    rounds: intEnv('BENCH_ROUNDS', 5, 3),
    s3Rounds: intEnv('BENCH_S3_ROUNDS', 3, 0),
    drillRounds: intEnv('BENCH_DRILL_ROUNDS', MIN_ROUNDS, 1),
    drillJobs: intEnv('BENCH_DRILL_JOBS', os.availableParallelism(), 1),
    runBreakdown: process.env.BENCH_BREAKDOWN !== '0',
  };
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  say(
    `Restorable bench: node ${process.version}, ${os.availableParallelism()} cores (${cpu}), ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM; parts: ${[...set.parts].join(', ')}`,
  );
  const rows: string[][] = [['metric', 'measured', 'target', '']];
  if (set.parts.has('verify') || set.parts.has('baseline') || set.parts.has('drill')) {
    for (const sizeMb of sizesEnv()) rows.push(...(await benchSize(sizeMb, set)));
  }
  if (set.parts.has('compare')) {
    heading('compare-counts: exact counts against a sequential psql loop; estimate mode round trips');
    const compare = await benchCompare(Math.max(3, set.drillRounds));
    printCompare(compare, say);
    rows.push(...compareSummaryRows(compare));
  }
  if (set.parts.has('pitr')) {
    const pitrRounds = intEnv('BENCH_PITR_ROUNDS', 3, 1);
    const pitrMb = intEnv('BENCH_PITR_MB', 1100, 16);
    heading(`pitr: replay of ${pitrMb} MiB of WAL, S3 + prefetch vs local cp, ${pitrRounds} rounds`);
    rows.push(...pitrSummaryRows(await benchPitr(pitrRounds, pitrMb, say)));
  }
  if (set.parts.has('pitr-base')) {
    const rounds = intEnv('BENCH_PITR_BASE_ROUNDS', 3, 1);
    const mib = intEnv('BENCH_PITR_BASE_MB', 300, 1);
    const tables = intEnv('BENCH_PITR_BASE_TABLES', 1500, 0);
    heading(
      `pitr-base: PITR drill, plain base backup + WAL, S3 vs local folders, ${rounds} rounds, alternating`,
    );
    rows.push(...pitrBaseSummaryRows(await benchPitrBase(rounds, mib, tables, say)));
  }
  if (set.parts.has('barman')) {
    const rounds = intEnv('BENCH_BARMAN_ROUNDS', 3, 1);
    const scale = intEnv('BENCH_BARMAN_SCALE', 8, 1);
    heading(`barman: seed 001's drill by hand vs Restorable's, pgbench scale ${scale}, ${rounds} rounds`);
    rows.push(...barmanSummaryRows(await benchBarman(rounds, scale, say)));
  }
  heading('summary');
  say(table(rows));
  say(
    `(the rows are merged into ${recordResults(rows.slice(1))}; npm run docs puts them in docs/performance.md)`,
  );
  say(`\nbench took ${fmtS((performance.now() - began) / 1000)}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
