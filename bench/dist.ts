/**
 * What ships is what is measured: verify of the local dump through the committed CLI bundle
 * (dist/cli/index.js, as a runner runs the action's bundle) against `sha256sum` of the same file,
 * alternating, after a warm-up of each. The CLI's debug line names what inflated the tables, so the
 * line says whether the bundle found its ISA-L addon.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fmtS, fmtX, median } from './stats.js';

export const DIST_TARGET = 1.05;

export interface DistBench {
  sha: number[];
  dist: number[];
  ratios: number[];
  /** The same bundle with its addon kept away (RESTORABLE_ISAL names no file): zlib, as before. */
  zlib: number[];
  inflatedBy: string;
}

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** A program to its end: its wall time and its standard error. */
function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0)
        reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${stderr.slice(-2000)}`));
      else resolve({ seconds: (performance.now() - started) / 1000, stderr });
    });
  });
}

export async function benchDist(file: string, rounds: number, say: (m: string) => void): Promise<DistBench> {
  const cli = path.join(root, 'dist', 'cli', 'index.js');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-bench-dist-'));
  const args = [cli, 'verify', '--source', file, '--max-age', '100000d', '--checksum', 'skip'];
  const env = { ...process.env, RESTORABLE_DEBUG: '1' };
  const verify = (e = env) =>
    run(process.execPath, [...args, '--schema-check', 'false', '--work-dir', work], e);
  const zlibEnv = { ...env, RESTORABLE_ISAL: path.join(work, 'no-addon.node') };
  const sha = () => run('sha256sum', [file], process.env);
  try {
    const warm = await verify();
    await sha();
    const inflatedBy = /tables inflated with (.*)/.exec(warm.stderr)?.[1] ?? 'nothing reported';
    say(`dist/cli: tables inflated with ${inflatedBy}`);
    const out: DistBench = { sha: [], dist: [], ratios: [], zlib: [], inflatedBy };
    for (let i = 1; i <= rounds; i++) {
      const s = (await sha()).seconds;
      const d = (await verify()).seconds;
      const z = (await verify(zlibEnv)).seconds;
      out.sha.push(s);
      out.dist.push(d);
      out.zlib.push(z);
      out.ratios.push(d / s);
      say(
        `round ${i}/${rounds}: sha256sum ${fmtS(s)}, dist/cli verify ${fmtS(d)}: ${fmtX(d / s)}; with zlib ${fmtS(z)}: ${fmtX(z / s)}`,
      );
    }
    return out;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The summary's row: both sides' medians, the median of the rounds' ratios, the target. */
export function distSummaryRow(d: DistBench): string[] {
  const r = median(d.ratios);
  return [
    'verify via dist/cli / sha256sum (local)',
    `${fmtS(median(d.dist))} / ${fmtS(median(d.sha))} = median ${fmtX(r)} (${d.inflatedBy.startsWith('ISA-L') ? 'ISA-L' : 'zlib'}); the bundle with zlib ${fmtX(median(d.zlib.map((z, i) => z / (d.sha[i] as number))))}`,
    `<= ${fmtX(DIST_TARGET)}`,
    r <= DIST_TARGET ? 'PASS' : 'MISS  <<<',
  ];
}
