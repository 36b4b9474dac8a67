/**
 * npm run build: one ncc bundle per action entry under dist/<name>/, the CLI under dist/cli/, and
 * every action.yml generated from the specs in src/, and dist/manifest.json (what it was built from
 * and what it wrote), with the prebuilt ISA-L addon beside the bundles that inflate. `--out DIR`
 * builds elsewhere (scripts/check-dist.ts).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SPECS } from '../src/specs.js';
import { actionYaml, umbrellaYaml } from './action-yaml.js';
import { MANIFEST, manifestOf } from './dist-manifest.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const out = outArg === -1 ? root : path.resolve(process.argv[outArg + 1] as string);

const bundles: [string, string][] = [
  ...SPECS.map((s) => [s.name, `src/entries/${s.name}.ts`] as [string, string]),
  ['restorable', 'src/entries/restorable.ts'],
  ['cli', 'src/cli/index.ts'],
];

const ncc = path.join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js');
function bundle(entry: string, dest: string): void {
  fs.rmSync(dest, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [ncc, 'build', path.join(root, entry), '-o', dest, '--quiet', '--target', 'es2022'],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

// The lane worker (src/archive/lane-worker.ts) is a module of its own that a worker thread loads:
// bundled once, and put beside every bundle that starts lane workers (src/archive/lanes.ts).
const laneWorker = path.join(out, 'dist', '.lane-worker');
bundle('src/archive/lane-worker.ts', laneWorker);
// The prebuilt ISA-L addon (scripts/build-native.sh: static, reproducible) goes beside them too, named
// for its platform (src/archive/lanes.ts looks for it there, and self-tests it before use).
const prebuilt = path.join(root, 'native', 'prebuilt', 'linux-x64', 'isal_inflate.node');

for (const [name, entry] of bundles) {
  const dest = path.join(out, 'dist', name);
  bundle(entry, dest);
  const file = path.join(dest, 'index.js');
  const text = fs.readFileSync(file, 'utf8');
  if (text.includes('lane-worker')) {
    fs.copyFileSync(path.join(laneWorker, 'index.js'), path.join(dest, 'lane-worker.js'));
    fs.copyFileSync(prebuilt, path.join(dest, 'isal_inflate-linux-x64.node'));
  }
  if (name === 'cli') {
    if (!text.startsWith('#!')) fs.writeFileSync(file, `#!/usr/bin/env node\n${text}`);
    fs.chmodSync(file, 0o755);
  }
}
fs.rmSync(laneWorker, { recursive: true, force: true });

for (const spec of SPECS) {
  const dir = path.join(out, 'actions', spec.name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'action.yml'), actionYaml(spec, `../../dist/${spec.name}/index.js`));
}
fs.writeFileSync(path.join(out, 'action.yml'), umbrellaYaml(SPECS.filter((s) => s.umbrella !== false)));
fs.writeFileSync(path.join(out, MANIFEST), `${JSON.stringify(manifestOf(root, out), null, 2)}\n`);
process.stdout.write(`built ${bundles.map((b) => b[0]).join(', ')} into ${path.join(out, 'dist')}\n`);
