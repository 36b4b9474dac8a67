import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../harness/pg.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

function files(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p, base) : [path.relative(base, p)];
  });
}

describe('dist/ and the action.yml files', () => {
  it('are what npm run build makes from the sources now (run npm run build and commit dist/)', () => {
    const out = tempDir('build');
    try {
      execFileSync(
        process.execPath,
        [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'scripts/build.ts', '--out', out],
        {
          cwd: root,
          stdio: 'pipe',
        },
      );
      const built = files(out).sort();
      expect(built).toContain('dist/cli/index.js');
      expect(built).toContain('actions/verify-backup/action.yml');
      const committed = [
        ...files(path.join(root, 'dist')).map((f) => `dist/${f}`),
        'action.yml',
        ...files(path.join(root, 'actions')).map((f) => `actions/${f}`),
      ].sort();
      expect(committed).toEqual(built);
      const stale = built.filter(
        (f) => !fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(root, f))),
      );
      expect(stale, `stale: ${stale.join(', ')}; run npm run build and commit`).toEqual([]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);
});
