/**
 * pitr-base (issue 20): the whole PITR drill from S3 with a plain base backup (pg_basebackup -Fp,
 * one object per file) and its WAL, against the same drill from local folders, side by side in one
 * run. The S3 server is s3rver on loopback in a child process, as the pitr part runs it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parsePitrOptions } from '../src/pitr/options.js';
import type { PitrResult } from '../src/pitr/result.js';
import { runPitr } from '../src/pitr/run.js';
import { withClient } from '../src/postgres/client.js';
import { archiveNow, baseBackup, serverDir, startArchiving } from '../test/harness/pitr.js';
import { cpuSecondsOf, s3rverChild } from './pitr.js';
import { fmtMiB, fmtS, fmtX, median, verdict } from './stats.js';

export const PITR_BASE_TARGET = 1.2;

export interface PitrBaseBench {
  files: number;
  bytes: number;
  s3: number[];
  local: number[];
  ratios: number[];
  /** The machine's 1-minute load average, at each round's end (other work shares the cores). */
  loads: number[];
}

const silent = { info() {}, warn() {}, debug() {}, secret() {} };

/** Every file under `root`, as paths relative to it. */
function filesUnder(root: string): string[] {
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => path.relative(root, path.join(f.parentPath, f.name)));
}

/**
 * A plain base backup of `mib` MiB of table data plus `tables` small tables (a file or three each:
 * many objects), then WAL after it up to a restore point.
 */
export async function makeBackup(mib: number, tables: number, say: (m: string) => void) {
  const archive = serverDir('bench-base-wal');
  const base = serverDir('bench-base-plain');
  const src = await startArchiving('bench-pitr-base', archive, { max_wal_size: '4GB' });
  try {
    await withClient(src.conn(), async (c) => {
      const rows = Math.ceil((mib * 1024 * 1024) / 130);
      await c.query(
        `CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 3) AS pad FROM generate_series(1, ${rows}) g`,
      );
      for (let t = 0; t < tables; t++)
        await c.query(
          `CREATE TABLE small_${t} (id int PRIMARY KEY, v text); INSERT INTO small_${t} SELECT g, md5(g::text) FROM generate_series(1, 20) g`,
        );
    });
    await baseBackup(src, path.join(base, 'b1'));
    await withClient(src.conn(), async (c) => {
      await c.query('INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 200000) g');
      await c.query("SELECT pg_create_restore_point('bench-base-end')");
    });
    await archiveNow(src);
  } finally {
    await src.stop();
  }
  const files = filesUnder(path.join(base, 'b1'));
  const bytes = files.reduce((a, f) => a + fs.statSync(path.join(base, 'b1', f)).size, 0);
  say(`plain base backup: ${files.length} files, ${fmtMiB(bytes)}; WAL after it up to a restore point`);
  return { archive, base, files, bytes };
}

/** Every file of `dir` as an object under `prefix`, 16 puts at a time. */
export async function upload(client: S3Client, bucket: string, prefix: string, dir: string): Promise<void> {
  const queue = filesUnder(dir);
  const worker = async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift())
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${prefix}${f}`,
          Body: fs.readFileSync(path.join(dir, f)),
        }),
      );
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** One drill: its seconds, its result, and the CPU seconds this process and `serverPid` spent. */
async function drill(inputs: Record<string, string>, serverPid: number) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const server0 = cpuSecondsOf(serverPid);
  const r = await runPitr(parsePitrOptions({ ...inputs, 'target-name': 'bench-base-end' }, 'input'), silent);
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  const cpu = `CPU: restorable ${fmtS((used.user + used.system) / 1e6)}, s3rver ${fmtS(cpuSecondsOf(serverPid) - server0)}`;
  if (r.verdict === 'fail' || r.stages.find((s) => s.name === 'recover')?.status !== 'ok')
    throw new Error(`the drill failed: ${JSON.stringify(r.findings)}`);
  return { seconds, r, cpu };
}

const stageTimes = (r: PitrResult) =>
  r.stages
    .filter((s) => s.status !== 'skipped')
    .map((s) => `${s.name} ${fmtS(s.seconds)}`)
    .join(', ');

export async function benchPitrBase(
  rounds: number,
  mib: number,
  tables: number,
  say: (m: string) => void,
): Promise<PitrBaseBench> {
  const b = await makeBackup(mib, tables, say);
  const s3 = await s3rverChild();
  Object.assign(process.env, s3.env);
  const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: s3.env.AWS_REGION });
  const result: PitrBaseBench = {
    files: b.files.length,
    bytes: b.bytes,
    s3: [],
    local: [],
    ratios: [],
    loads: [],
  };
  try {
    await client.send(new CreateBucketCommand({ Bucket: 'bench-base' }));
    const t0 = performance.now();
    await upload(client, 'bench-base', 'base/', b.base);
    await upload(client, 'bench-base', 'wal/', b.archive);
    say(`uploaded to s3rver (a child process) in ${fmtS((performance.now() - t0) / 1000)}`);
    const s3Inputs = {
      'base-backups': 's3://bench-base/base',
      'wal-archive': 's3://bench-base/wal',
      's3-endpoint': s3.endpoint,
    };
    for (let i = 0; i < rounds; i++) {
      const local = await drill({ 'base-backups': b.base, 'wal-archive': b.archive }, s3.pid);
      const remote = await drill(s3Inputs, s3.pid);
      result.loads.push(os.loadavg()[0] ?? 0);
      result.local.push(local.seconds);
      result.s3.push(remote.seconds);
      result.ratios.push(remote.seconds / local.seconds);
      say(
        `round ${i + 1}: S3 ${fmtS(remote.seconds)} (${stageTimes(remote.r)}; ${remote.cpu}); local ${fmtS(local.seconds)} (${stageTimes(local.r)}; ${local.cpu}); ratio ${fmtX(remote.seconds / local.seconds)}; load average ${result.loads.at(-1)?.toFixed(1)} on ${os.availableParallelism()} cores`,
      );
    }
    return result;
  } finally {
    client.destroy();
    s3.stop();
    fs.rmSync(b.archive, { recursive: true, force: true });
    fs.rmSync(b.base, { recursive: true, force: true });
  }
}

export function pitrBaseSummaryRows(b: PitrBaseBench): string[][] {
  const s3 = median(b.s3);
  const local = median(b.local);
  return [
    [
      'pitr drill, plain base backup + WAL: S3 / local folders',
      `${fmtS(s3)} / ${fmtS(local)} = ${fmtX(s3 / local)} (per-round ratios ${b.ratios.map(fmtX).join(', ')}; ${b.files} files, ${fmtMiB(b.bytes)}; load average ${Math.min(...b.loads).toFixed(1)}-${Math.max(...b.loads).toFixed(1)} on ${os.availableParallelism()} cores)`,
      `<= ${fmtX(PITR_BASE_TARGET)}`,
      verdict(s3 / local <= PITR_BASE_TARGET),
    ],
  ];
}
