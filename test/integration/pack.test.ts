import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/core/version.js';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-pack-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What docs/command-line.md says about installing the CLI, run as written: npm pack, then a global install into a prefix. */
describe('the CLI installs like a CLI', () => {
  it('npm pack ships the bundle and the papers (README, docs/) only, small; npm install -g of it gives a working restorable', () => {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, encoding: 'utf8' }),
    ) as { filename: string; size: number; files: { path: string }[] }[];
    const tarball = packed[0];
    if (!tarball) throw new Error('npm pack wrote nothing');
    const files = tarball.files.map((f) => f.path).sort();
    expect(files).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'dist/cli/index.js',
      // The fast inflater the bench measured ships with the CLI too (issue 20).
      'dist/cli/isal_inflate-linux-x64.node',
      'dist/cli/lane-worker.js',
      'dist/cli/package.json',
      // The pages the README links to, so that its links work where the package is installed.
      ...fs.readdirSync(path.join(root, 'docs')).map((f) => `docs/${f}`),
      'package.json',
    ]);
    expect(tarball.size).toBeLessThan(1024 * 1024);

    const prefix = path.join(tmp, 'prefix');
    // --offline: the bundle has no dependencies to fetch, so the install needs no registry at all.
    execFileSync(
      'npm',
      [
        'install',
        '-g',
        '--offline',
        '--no-audit',
        '--no-fund',
        '--prefix',
        prefix,
        path.join(tmp, tarball.filename),
      ],
      { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const bin = path.join(prefix, 'bin', 'restorable');
    const version = spawnSync(bin, ['--version'], { cwd: tmp, encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(VERSION);
    expect(version.stderr).toBe('');
    const help = spawnSync(bin, ['--help'], { cwd: tmp, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('restorable drill');
    expect(fs.readdirSync(path.join(prefix, 'lib', 'node_modules'))).toEqual(['restorable']);
    expect(fs.existsSync(path.join(prefix, 'lib', 'node_modules', 'restorable', 'node_modules'))).toBe(false);
  }, 120_000);
});
