/**
 * Issue 17's speed bound: verify of the bench's custom dump within 5% of verify before issue 17's
 * changes (BENCH_BASELINE, default the commit before its first). That commit's src/ is unpacked
 * (git archive) under bench/out/, beside a node_modules link to this tree's, and both trees' runVerify
 * run in child processes, alternating, one warm-up each then `rounds` rounds; both inflate with the
 * same ISA-L addon (RESTORABLE_ISAL). The row is the median of the per-round ratios.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isalAddon } from '../src/archive/lanes.js';
import { OUT_DIR } from './dataset.js';
import { fmtS, fmtX, median, verdict } from './stats.js';

/** The commit before issue 17's first (1d76bb9, tar dumps and whole-file compression). */
export const BEFORE_ISSUE_17 = '8e28f01b8638ffb41b7d63d447fedd5c3c3007c8';
const TARGET = 1.05;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function unpack(commit: string): string {
  const sha = execFileSync('git', ['rev-parse', '--verify', `${commit}^{commit}`], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
  const dir = path.join(OUT_DIR, `baseline-${sha.slice(0, 12)}`);
  if (!fs.existsSync(path.join(dir, 'src'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const tar = spawnSync('git', ['archive', sha, 'src', 'package.json', 'tsconfig.json'], { cwd: root });
    if (tar.status !== 0) throw new Error(`git archive ${sha}: ${tar.stderr.toString()}`);
    execFileSync('tar', ['-x', '-C', dir], { input: tar.stdout });
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  }
  return dir;
}

interface Took {
  seconds: number;
  cpuSeconds: number;
}

function verifyIn(tree: string, file: string, env: NodeJS.ProcessEnv): Took {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-bench-base-'));
  try {
    const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
    const r = spawnSync(tsx, [path.join(root, 'bench', 'baseline-child.ts'), tree, file, workDir], {
      encoding: 'utf8',
      env,
    });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    if (r.status !== 0 || !line.startsWith('RESULT ')) throw new Error(`${tree}: ${r.stderr.trim() || line}`);
    const got = JSON.parse(line.slice(7)) as Took & { verdict: string };
    if (got.verdict !== 'pass') throw new Error(`${tree}: runVerify said ${got.verdict}`);
    return { seconds: got.seconds, cpuSeconds: got.cpuSeconds };
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/** The summary row: runVerify of this tree against the baseline commit's, on `file`. */
export function benchBaseline(file: string, rounds: number, say: (m: string) => void): string[] {
  const commit = process.env.BENCH_BASELINE || BEFORE_ISSUE_17;
  const old = unpack(commit);
  const isal = isalAddon();
  if (!('path' in isal)) throw new Error(`the baseline bench compares ISA-L lanes: ${isal.unavailable}`);
  const env = { ...process.env, RESTORABLE_ISAL: isal.path };
  say(`baseline ${commit.slice(0, 12)} unpacked in ${old}; both inflate with ${isal.path}`);
  verifyIn(root, file, env);
  verifyIn(old, file, env);
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let i = 1; i <= rounds; i++) {
    const now = verifyIn(root, file, env);
    const then = verifyIn(old, file, env);
    ratios.push(now.seconds / then.seconds);
    cpuRatios.push(now.cpuSeconds / then.cpuSeconds);
    say(
      `round ${i}/${rounds}: this tree ${fmtS(now.seconds)} (CPU ${fmtS(now.cpuSeconds)}), baseline ${fmtS(then.seconds)} (CPU ${fmtS(then.cpuSeconds)}): ${fmtX(now.seconds / then.seconds)} wall, ${fmtX(now.cpuSeconds / then.cpuSeconds)} CPU`,
    );
  }
  const r = median(ratios);
  return [
    `local runVerify: this tree / before issue 17 (${commit.slice(0, 7)}), wall (CPU ${fmtX(median(cpuRatios))})`,
    `median ${fmtX(r)}`,
    `<= ${fmtX(TARGET)}`,
    verdict(r <= TARGET),
  ];
}
