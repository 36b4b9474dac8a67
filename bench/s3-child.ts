/**
 * One S3 measurement in a process of its own, so its peak RSS is the product's alone. The parent runs
 * it (bundled like the shipped action, or through tsx) with the S3 credentials in the environment and
 * one JSON argument; the last stdout line is `RESULT {json}`.
 *
 *   verify:   runVerify on s3://bucket/prefix/ (schema-check off, checksum skip), downloading into
 *             `workDir`, as verify-backup does.
 *   download: S3Source.downloadTo() into `workDir`: the download alone, for its throughput.
 */
import path from 'node:path';
import { parseVerifyOptions } from '../src/backup/options.js';
import { silentLogger } from '../src/core/log.js';
import { S3Source } from '../src/sources/s3.js';
import { runVerify } from '../src/verify/run.js';

export interface ChildArgs {
  mode: 'verify' | 'download';
  endpoint: string;
  bucket: string;
  prefix: string;
  /** The object's name under the prefix (download mode). */
  name: string;
  workDir: string;
}

export interface ChildResult {
  mode: ChildArgs['mode'];
  seconds: number;
  bytes: number;
  /** RSS once the modules are loaded, before any work (MiB). */
  baselineRssMb: number;
  /** The process's own peak RSS, from getrusage (MiB). */
  maxRssMb: number;
  /** CPU seconds of the work (user + system, all threads). */
  cpuSeconds: number;
  verdict?: string;
  readSeconds?: number;
  sha256?: string;
  dataBlocks?: number;
  findings?: string[];
}

const mb = (bytes: number) => bytes / (1024 * 1024);

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
  const baselineRssMb = mb(process.memoryUsage().rss);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let result: Omit<ChildResult, 'seconds' | 'maxRssMb' | 'baselineRssMb' | 'cpuSeconds'>;
  if (args.mode === 'download') {
    const source = S3Source.fromUrl('source', `s3://${args.bucket}/${args.prefix}`, {
      endpoint: args.endpoint,
    });
    const bytes = await source.downloadTo(args.name, path.join(args.workDir, args.name));
    result = { mode: 'download', bytes };
  } else {
    const opts = parseVerifyOptions(
      {
        source: `s3://${args.bucket}/${args.prefix}`,
        's3-endpoint': args.endpoint,
        'schema-check': 'false',
        checksum: 'skip',
        'max-age': '1000d',
        'work-dir': args.workDir,
      },
      'input',
    );
    const r = await runVerify(opts, silentLogger);
    result = {
      mode: 'verify',
      bytes: r.backup?.sizeBytes ?? 0,
      verdict: r.verdict,
      readSeconds: r.stages.find((s) => s.name === 'read')?.seconds ?? 0,
      ...(r.backup?.sha256 ? { sha256: r.backup.sha256 } : {}),
      dataBlocks: r.backup?.dataBlocks ?? 0,
      findings: r.findings.map((f) => `${f.rule}: ${f.message}`),
    };
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // maxRSS is in KiB on Linux.
  const out: ChildResult = {
    ...result,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    baselineRssMb,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
