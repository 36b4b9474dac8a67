import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  builtFiles,
  inputsDigest,
  MANIFEST,
  type Manifest,
  manifestOf,
} from '../../scripts/dist-manifest.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const FIX = 'run npm run build and commit dist/ and the action.yml files';

/**
 * The committed dist/ is what the sources build: dist/manifest.json, written by the build, names a
 * digest of every input and the SHA-256 of every file it wrote. A full rebuild-and-compare runs in
 * CI (scripts/check-dist.ts); this reads the manifest back in a second.
 */
describe('dist/ and the action.yml files', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, MANIFEST), 'utf8')) as Manifest;
  it('were built from the sources as they are now', () => {
    expect(manifest.inputs, `the sources changed since dist/ was built: ${FIX}`).toBe(inputsDigest(root));
  });
  it('hold exactly what that build wrote', () => {
    expect(builtFiles(root), `files added or removed by hand: ${FIX}`).toEqual(
      Object.keys(manifest.outputs).sort(),
    );
    const changed = Object.entries(manifestOf(root, root).outputs)
      .filter(([f, sha]) => manifest.outputs[f] !== sha)
      .map(([f]) => f);
    expect(changed, `changed by hand: ${FIX}`).toEqual([]);
  });
  it("sees an edit to any source, and only to the build's inputs", () => {
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-manifest-'));
    try {
      fs.mkdirSync(path.join(tree, 'src/core'), { recursive: true });
      fs.writeFileSync(path.join(tree, 'package.json'), '{}');
      fs.writeFileSync(path.join(tree, 'src/core/a.ts'), 'export const a = 1;\n');
      const first = inputsDigest(tree);
      fs.writeFileSync(path.join(tree, 'README.md'), 'not an input');
      expect(inputsDigest(tree)).toBe(first);
      fs.writeFileSync(path.join(tree, 'src/core/a.ts'), 'export const a = 2;\n');
      expect(inputsDigest(tree)).not.toBe(first);
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
    }
  });
});
