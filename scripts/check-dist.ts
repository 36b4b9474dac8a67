/**
 * CI's certain check that the committed dist/ and action.yml files are what `npm run build` makes
 * from the sources now: a build into a temporary folder, compared file by file. Slow (a full
 * build), so it runs in .ci/run, not in the test suite, whose dist test reads dist/manifest.json.
 * Exits 1 naming what differs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtFiles } from './dist-manifest.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-check-dist-'));
try {
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'scripts/build.ts', '--out', out],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const built = builtFiles(out);
  const committed = builtFiles(root);
  const problems = [
    ...built.filter((f) => !committed.includes(f)).map((f) => `${f}: built, not committed`),
    ...committed.filter((f) => !built.includes(f)).map((f) => `${f}: committed, no longer built`),
    ...built
      .filter((f) => committed.includes(f))
      .filter((f) => !fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(root, f))))
      .map((f) => `${f}: stale`),
  ];
  const manifest = 'dist/manifest.json';
  if (!fs.readFileSync(path.join(out, manifest)).equals(fs.readFileSync(path.join(root, manifest))))
    problems.push(`${manifest}: stale`);
  if (problems.length) {
    process.stderr.write(
      `${problems.join('\n')}\ncheck-dist: run npm run build and commit dist/ and the action.yml files\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`check-dist: dist/ and ${built.length} built files are what the sources build\n`);
} finally {
  fs.rmSync(out, { recursive: true, force: true });
}
