/**
 * What dist/ was built from and what it holds: a digest of every input of `npm run build` (the
 * sources, the build scripts, the lock file, tsconfig) and the SHA-256 of every file it wrote.
 * The build writes it to dist/manifest.json; the freshness test reads it back in a second.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const MANIFEST = 'dist/manifest.json';

export interface Manifest {
  /** SHA-256 over the build's inputs, by path and content. */
  inputs: string;
  /** Every file the build wrote (dist/, action.yml files), by path from the root: its SHA-256. */
  outputs: Record<string, string>;
}

function files(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : [p];
  });
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** The files whose content decides what the build writes, relative to `root`, sorted. */
export function buildInputs(root: string): string[] {
  const fixed = [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'scripts/build.ts',
    'scripts/action-yaml.ts',
    'native/prebuilt/linux-x64/isal_inflate.node',
  ];
  return [...fixed.map((f) => path.join(root, f)), ...files(path.join(root, 'src'))]
    .filter((f) => fs.existsSync(f))
    .map((f) => path.relative(root, f).split(path.sep).join('/'))
    .sort();
}

export function inputsDigest(root: string): string {
  const h = createHash('sha256');
  for (const f of buildInputs(root)) h.update(`${f}\0${sha256(fs.readFileSync(path.join(root, f)))}\n`);
  return h.digest('hex');
}

/** Actions under actions/ written by hand, not by the build (a composite action and its script). */
export const HAND_WRITTEN = ['actions/setup-postgres/'];

/** The files a build wrote under `out` (dist/ but the manifest, action.yml, actions/*), by path. */
export function builtFiles(out: string): string[] {
  return [...files(path.join(out, 'dist')), path.join(out, 'action.yml'), ...files(path.join(out, 'actions'))]
    .map((f) => path.relative(out, f).split(path.sep).join('/'))
    .filter((f) => f !== MANIFEST && !HAND_WRITTEN.some((h) => f.startsWith(h)))
    .sort();
}

export function manifestOf(root: string, out: string): Manifest {
  return {
    inputs: inputsDigest(root),
    outputs: Object.fromEntries(builtFiles(out).map((f) => [f, sha256(fs.readFileSync(path.join(out, f)))])),
  };
}
