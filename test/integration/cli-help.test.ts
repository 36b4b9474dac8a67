import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** The committed CLI's help, as a person at a terminal asks for it. */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'dist/cli/index.js'), ...args], { encoding: 'utf8' });

describe('restorable help', () => {
  it('clean and demo have help of their own', () => {
    const clean = cli('help', 'clean');
    expect(clean.status).toBe(0);
    expect(clean.stdout).toMatch(/^restorable clean \[--all \| --root <folder>\]/);
    expect(clean.stdout).toContain('--all');
    expect(cli('clean', '--help').stdout).toBe(clean.stdout);
    const demo = cli('help', 'demo');
    expect(demo.status).toBe(0);
    expect(demo.stdout).toMatch(/^restorable demo\n/);
  });
  it('every pipeline command lists --json and --quiet after its own flags', () => {
    for (const command of ['verify', 'drill', 'pitr', 'compare', 'migrate']) {
      const r = cli('help', command);
      expect(r.status, command).toBe(0);
      expect(r.stdout, command).toMatch(new RegExp(`^restorable ${command} \\[flags\\]`));
      expect(r.stdout, command).toMatch(/\n {2}--json {2,}/);
      expect(r.stdout, command).toMatch(/\n {2}--quiet {2,}/);
    }
  });
  it('an unknown command is one line and exit 2; a flag with no value says so', () => {
    const r = cli('help', 'nope');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'restorable: nope: is not a restorable command. Run restorable help to see the commands\n',
    );
    const s = cli('verify', '--source');
    expect(s.status).toBe(2);
    expect(s.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^restorable: --source: needs a value/),
    ]);
  });
});

describe('restorable help names the documentation', () => {
  /** The sources' CLI (the committed bundle has the help of its last build). */
  const sources = (...args: string[]) =>
    spawnSync(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'src/cli/index.ts'), ...args], {
      encoding: 'utf8',
    });
  it("each pipeline command's help ends with its page under docs/, which the package ships", () => {
    const files = (
      JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] }
    ).files;
    expect(files).toContain('docs/');
    const pages: Record<string, string> = {
      verify: 'verify-backup',
      drill: 'restore-drill',
      pitr: 'pitr-restore',
      compare: 'compare-counts',
      migrate: 'migrate-check',
    };
    for (const [command, page] of Object.entries(pages)) {
      const r = sources('help', command);
      expect(r.status, command).toBe(0);
      expect(r.stdout.trimEnd().split('\n').at(-1), command).toBe(
        `Documentation: docs/${page}.md (the repository; installed: $(npm root -g)/restorable/)`,
      );
      expect(fs.existsSync(path.join(root, 'docs', `${page}.md`)), page).toBe(true);
    }
    expect(sources('help').stdout).toContain('Documentation: README.md and docs/');
  }, 120_000);
  it("drill lists the command line's own --write-reference before the common switches", () => {
    const r = sources('help', 'drill');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /\n {2}--write-reference {6}Write the restored database's structure to this file, .*Command line only\.\n {2}--json /,
    );
    expect(sources('help', 'verify').stdout).not.toContain('--write-reference');
  }, 60_000);
  it('verify and drill list --keep-download, with what it defaults to in each', () => {
    for (const command of ['verify', 'drill']) {
      const r = sources('help', command);
      expect(r.status, command).toBe(0);
      expect(r.stdout, command).toMatch(
        /\n {2}--keep-download {8}Keep the file downloaded from S3 after the run, .*\(default: true in the actions, whose next step reads local-path; false on the command line, where it is removed when the run ends\)\. A local backup is never removed\.\n/,
      );
    }
  }, 60_000);
});
