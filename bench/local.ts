import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type ArchiveHeader,
  dataRanges,
  decodeStream,
  readHeader,
  readToc,
  walkCustomData,
} from '../src/archive/custom.js';
import { inspectStream } from '../src/archive/inspect.js';
import { fileChunks, isalAddon, LaneWorkers } from '../src/archive/lanes.js';
import { ByteReader } from '../src/archive/reader.js';
import { parseVerifyOptions } from '../src/backup/options.js';
import { silentLogger } from '../src/core/log.js';
import { pick } from '../src/postgres/binaries.js';
import { runVerify } from '../src/verify/run.js';
import { fmtS, fmtX, median, rate, table, timed } from './stats.js';

/** Run a program to its end; its wall time (spawn to exit) and standard output. */
function runTimed(cmd: string, args: string[]): Promise<{ seconds: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`));
      else resolve({ seconds: (performance.now() - started) / 1000, stdout });
    });
  });
}

async function sha256sum(file: string): Promise<{ seconds: number; sha256: string }> {
  const r = await runTimed('sha256sum', [file]);
  return { seconds: r.seconds, sha256: r.stdout.split(/\s/)[0] ?? '' };
}

/**
 * The core call as verify-backup makes it for a local file: hash, parse and walk every block in one
 * pass over the file, the tables' data decompressing side by side in lanes that re-read their ranges.
 */
async function onePass(file: string): Promise<{ seconds: number; sha256: string; dataBytes: number }> {
  const { seconds, value } = await timed(() => inspectStream(fileChunks(file), { file }));
  if (value.problems.length > 0) {
    throw new Error(`inspectStream found problems: ${value.problems.map((p) => p.message).join('; ')}`);
  }
  return { seconds, sha256: value.sha256 ?? '', dataBytes: value.dataBytes };
}

/** The whole verify-backup pipeline on the local file, minus the schema replay and the checksum. */
async function verify(file: string, workDir: string): Promise<{ seconds: number; sha256: string }> {
  const opts = parseVerifyOptions(
    {
      source: file,
      'schema-check': 'false',
      checksum: 'skip',
      'max-age': '1000d',
      'work-dir': workDir,
    },
    'input',
  );
  const { seconds, value } = await timed(() => runVerify(opts, silentLogger));
  if (value.verdict !== 'pass') {
    throw new Error(`runVerify said ${value.verdict}: ${value.findings.map((f) => f.message).join('; ')}`);
  }
  return { seconds, sha256: value.backup?.sha256 ?? '' };
}

export interface LocalResult {
  bytes: number;
  dataBytes: number;
  rounds: number;
  sha: number[];
  core: number[];
  verify: number[];
  /** Per round: ours / sha256sum of the same round. */
  coreRatios: number[];
  verifyRatios: number[];
}

/**
 * sha256sum against our one-pass read, alternating: one warm-up of each (which also puts the file in
 * the page cache), then `rounds` rounds of sha256sum, inspectStream, runVerify.
 */
export async function benchLocal(
  file: string,
  rounds: number,
  say: (m: string) => void,
): Promise<LocalResult> {
  const bytes = fs.statSync(file).size;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-bench-'));
  try {
    say('warm-up (also loads the file into the page cache)...');
    const warmSha = await sha256sum(file);
    const warmCore = await onePass(file);
    await verify(file, workDir);
    if (warmSha.sha256 !== warmCore.sha256) {
      throw new Error(`SHA-256 differs: sha256sum ${warmSha.sha256}, inspectStream ${warmCore.sha256}`);
    }
    const r: LocalResult = {
      bytes,
      dataBytes: warmCore.dataBytes,
      rounds,
      sha: [],
      core: [],
      verify: [],
      coreRatios: [],
      verifyRatios: [],
    };
    for (let i = 1; i <= rounds; i++) {
      const s = (await sha256sum(file)).seconds;
      const c = (await onePass(file)).seconds;
      const v = (await verify(file, workDir)).seconds;
      r.sha.push(s);
      r.core.push(c);
      r.verify.push(v);
      r.coreRatios.push(c / s);
      r.verifyRatios.push(v / s);
      say(
        `round ${i}/${rounds}: sha256sum ${fmtS(s)}, inspectStream ${fmtS(c)} (${fmtX(c / s)}), runVerify ${fmtS(v)} (${fmtX(v / s)})`,
      );
    }
    return r;
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

export function printLocal(r: LocalResult, say: (m: string) => void): void {
  const row = (name: string, xs: number[]) => {
    const m = median(xs);
    return [name, fmtS(m), rate(r.bytes, m), `min ${fmtS(Math.min(...xs))}`, `max ${fmtS(Math.max(...xs))}`];
  };
  say(
    table([
      ['', 'median', 'throughput', '', ''],
      row('sha256sum', r.sha),
      row('inspectStream (core one pass)', r.core),
      row('runVerify (schema off, checksum skip)', r.verify),
    ]),
  );
  say(
    `ratios (median of per-round ratios): inspectStream/sha256sum ${fmtX(median(r.coreRatios))}, runVerify/sha256sum ${fmtX(median(r.verifyRatios))}; ratio of medians: ${fmtX(median(r.core) / median(r.sha))}, ${fmtX(median(r.verify) / median(r.sha))}`,
  );
  say(
    `the dump inflates to ${(r.dataBytes / r.bytes).toFixed(2)}x its size (${(r.dataBytes / 1024 ** 3).toFixed(2)} GiB of COPY data); inflate output at the median one pass: ${rate(r.dataBytes, median(r.core))}`,
  );
}

/** Drain the file through fileChunks, doing `each` on every chunk. */
async function drain(file: string, each: (b: Buffer) => void): Promise<void> {
  for await (const b of fileChunks(file)) each(b);
}

/**
 * Where the one pass spends its time: each part alone, `runs` times, medians. Reading alone, SHA-256
 * alone (Node's OpenSSL), parsing and decompressing alone (the archive walker without the hash), and
 * pg_restore writing the whole archive to /dev/null (native zlib, single thread) for reference.
 */
export async function breakdown(file: string, runs: number, say: (m: string) => void): Promise<void> {
  const bytes = fs.statSync(file).size;
  const pgRestore = await pick('pg_restore', 0);
  const largest = await largestTable(file);
  say(
    `the largest table's data is ${(100 * ((largest.end - largest.start) / bytes)).toFixed(0)} % of the file (one compressed stream: no lane can split it)`,
  );
  const parts: [string, () => Promise<unknown>][] = [
    ['read only (fileChunks, 1 MiB chunks)', () => drain(file, () => {})],
    [
      'SHA-256 only (node:crypto)',
      async () => {
        const h = createHash('sha256');
        await drain(file, (b) => h.update(b));
        return h.digest('hex');
      },
    ],
    [
      'parse + inflate only (walker, no hash)',
      async () => {
        const r = ByteReader.from(fileChunks(file));
        const h = await readHeader(r);
        return walkCustomData(r, h, await readToc(r, h));
      },
    ],
    [
      "the largest table's stream alone, in this thread",
      () => decodeStream(fileChunks(file, largest.start, largest.end), largest.header, 'the largest table'),
    ],
    [
      "the largest table's stream alone, in a worker thread: the floor with lanes",
      async () => {
        const workers = new LaneWorkers();
        try {
          const { start, end, header } = largest;
          const isal = isalAddon();
          const job = {
            file,
            start,
            end,
            intSize: header.intSize,
            codec: 'gzip' as const,
            what: 'the largest table',
          };
          return await workers.decode('path' in isal ? { ...job, isal: isal.path } : job);
        } finally {
          await workers.close();
        }
      },
    ],
    ['full one pass, one table at a time (no lanes)', () => inspectStream(fileChunks(file))],
    ['full one pass, tables in lanes (as verify runs it)', () => inspectStream(fileChunks(file), { file })],
    ...(pgRestore
      ? ([
          [
            `pg_restore ${pgRestore.major} -f /dev/null (native, reference)`,
            () => runTimed(pgRestore.path, ['-f', '/dev/null', file]),
          ],
        ] as [string, () => Promise<unknown>][])
      : []),
  ];
  const times = new Map<string, number[]>(parts.map(([name]) => [name, []]));
  const cpu = new Map<string, number[]>(parts.map(([name]) => [name, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, fn] of parts) {
      const before = process.cpuUsage();
      times.get(name)?.push((await timed(fn)).seconds);
      const used = process.cpuUsage(before);
      cpu.get(name)?.push((used.user + used.system) / 1e6);
    }
  }
  say(
    table([
      ['part', 'median', 'of the file', 'CPU of this process (all threads)'],
      ...parts.map(([name]) => {
        const m = median(times.get(name) ?? []);
        const c = median(cpu.get(name) ?? []);
        const cpuText = name.startsWith('pg_restore')
          ? '(a child process)'
          : `${fmtS(c)} = ${(c / m).toFixed(2)} cores`;
        return [name, fmtS(m), rate(bytes, m), cpuText];
      }),
    ]),
  );
}

interface Range {
  start: number;
  end: number;
  header: ArchiveHeader;
}

/** The byte range of the largest table's data, from the data offsets in the TOC. */
async function largestTable(file: string): Promise<Range> {
  const size = fs.statSync(file).size;
  const r = ByteReader.from(fileChunks(file, 0, Math.min(size, 16 * 1024 * 1024)));
  const header = await readHeader(r);
  const ranges = dataRanges(await readToc(r, header), header, size);
  const { start, end } = ranges.reduce((a, b) => (b.end - b.start > a.end - a.start ? b : a));
  return { start, end, header };
}
