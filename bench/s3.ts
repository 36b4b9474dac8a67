import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { ChildArgs, ChildResult } from './s3-child.js';
import { MiB } from './stats.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const PART = 64 * MiB;

/** Upload a file in 64 MiB parts, each streamed from disk: the bench process never holds the file. */
export async function uploadMultipart(client: S3Client, bucket: string, key: string, file: string) {
  const size = fs.statSync(file).size;
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts: { PartNumber: number; ETag: string }[] = [];
  for (let n = 1, start = 0; start < size; n++, start += PART) {
    const end = Math.min(size, start + PART);
    const { ETag } = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        PartNumber: n,
        ContentLength: end - start,
        Body: fs.createReadStream(file, { start, end: end - 1 }),
      }),
    );
    parts.push({ PartNumber: n, ETag: ETag ?? '' });
  }
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
}

export interface ChildCommand {
  /** How the child runs: the ncc bundle (as the action ships) or tsx. */
  how: string;
  argv: string[];
  /** Remove the bundle. */
  cleanup(): void;
}

/**
 * The child as the product ships: bundled with ncc (the build's tool) into a temp folder, so its RSS
 * has no TypeScript loader in it. Falls back to `node --import tsx` when bundling fails.
 */
export function childCommand(say: (m: string) => void): ChildCommand {
  const ncc = path.join(ROOT, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js');
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-bench-child-'));
  const cleanup = () => fs.rmSync(outDir, { recursive: true, force: true });
  try {
    const bundle = (entry: string, dest: string) =>
      execFileSync(
        process.execPath,
        [ncc, 'build', path.join(ROOT, entry), '-o', dest, '--quiet', '--target', 'es2022'],
        {
          cwd: ROOT,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
    bundle('bench/s3-child.ts', outDir);
    // As npm run build lays out a bundle that inflates: its lane worker and the ISA-L addon beside it.
    bundle('src/archive/lane-worker.ts', path.join(outDir, 'worker'));
    fs.renameSync(path.join(outDir, 'worker', 'index.js'), path.join(outDir, 'lane-worker.js'));
    fs.copyFileSync(
      path.join(ROOT, 'native', 'prebuilt', 'linux-x64', 'isal_inflate.node'),
      path.join(outDir, 'isal_inflate-linux-x64.node'),
    );
    return {
      how: 'ncc bundle, plain node',
      argv: [process.execPath, path.join(outDir, 'index.js')],
      cleanup,
    };
  } catch (e) {
    cleanup();
    say(`bundling the child with ncc failed (${(e as Error).message.split('\n')[0]}); using tsx`);
    return {
      how: 'node --import tsx',
      argv: [process.execPath, '--import', 'tsx', path.join(ROOT, 'bench', 's3-child.ts')],
      cleanup: () => {},
    };
  }
}

const GNU_TIME = '/usr/bin/time';

export interface ChildRun extends ChildResult {
  /** Peak RSS as GNU time saw it (MiB), when /usr/bin/time is there. */
  timeRssMb?: number;
  wallSeconds: number;
  /** CPU seconds this (parent) process spent meanwhile: s3rver serving the child. */
  serverCpuSeconds: number;
}

/** Run one child measurement; its peak RSS from `/usr/bin/time -v` when present. */
export async function runChild(
  cmd: ChildCommand,
  args: ChildArgs,
  env: Record<string, string>,
): Promise<ChildRun> {
  const haveTime = fs.existsSync(GNU_TIME);
  const timeOut = path.join(os.tmpdir(), `restorable-bench-time-${process.pid}-${Date.now()}.txt`);
  const [exe, ...rest] = haveTime ? [GNU_TIME, '-v', '-o', timeOut, ...cmd.argv] : cmd.argv;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(exe as string, [...rest, JSON.stringify(args)], {
      cwd: ROOT,
      // NODE_NO_WARNINGS: the AWS SDK warns on every start that it will want Node 22 from 2027.
      env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`the S3 child exited ${code}`)),
    );
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpuSeconds = (cpu.user + cpu.system) / 1e6;
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`the S3 child printed no result: ${stdout.slice(-500)}`);
  const result = JSON.parse(line.slice('RESULT '.length)) as ChildResult;
  let timeRssMb: number | undefined;
  if (haveTime) {
    const text = fs.readFileSync(timeOut, 'utf8');
    fs.rmSync(timeOut, { force: true });
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
    if (m) timeRssMb = Number(m[1]) / 1024;
  }
  return { ...result, wallSeconds, serverCpuSeconds, ...(timeRssMb !== undefined ? { timeRssMb } : {}) };
}

/** The peak RSS of a run: GNU time's when it measured, else the child's own. */
export const peakRss = (r: ChildRun) => r.timeRssMb ?? r.maxRssMb;
