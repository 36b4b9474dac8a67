import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { actionlint } from '../../scripts/lint-actions.js';

const root = path.resolve(import.meta.dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');
type Step = {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
};
const release = parse(read('.github/workflows/release.yml')) as {
  on: { push: { tags: string[]; branches?: unknown } };
  permissions: Record<string, string>;
  jobs: Record<string, { permissions: Record<string, string>; steps: Step[] }>;
};
const job = release.jobs.release as { permissions: Record<string, string>; steps: Step[] };
const steps = job.steps;
const index = (p: (s: Step) => boolean) => steps.findIndex(p);
const named = (name: string) => steps.find((s) => s.name === name) as Step;

/** A GitHub filter pattern as GitHub reads it (`+` one or more, `[0-9]` a class, `.` itself). */
const tagPattern = (p: string) => new RegExp(`^${p.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`);
const triggers = (tag: string) => release.on.push.tags.some((p) => tagPattern(p).test(tag));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-release-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();
/** Run a step's script as the runner would: bash -e, in `cwd`, with its env and the given ones. */
const runStep = (s: Step, cwd: string, env: Record<string, string>) =>
  spawnSync('bash', ['-e', '-c', s.run ?? ''], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: tmp, ...env },
  });

describe('the release workflow', () => {
  it('runs on a version tag only, not on a branch or the moved major tag', () => {
    expect(release.on.push.branches).toBeUndefined();
    expect(triggers('v1.2.3')).toBe(true);
    expect(triggers('v0.10.0')).toBe(true);
    expect(triggers('v1')).toBe(false);
    expect(triggers('v1.2')).toBe(false);
    expect(triggers('latest')).toBe(false);
  });

  it('reads by default; the job alone may write contents, mint an OIDC token and store attestations', () => {
    expect(release.permissions).toEqual({ contents: 'read' });
    expect(job.permissions).toEqual({ contents: 'write', 'id-token': 'write', attestations: 'write' });
  });

  it('checks dist before it attests, attests before it publishes, publishes before it moves the major tag', () => {
    const check = index((s) => s.run === 'npm run check:dist');
    const pack = index((s) => s.run === 'npm pack');
    const attest = index((s) => (s.uses ?? '').startsWith('actions/attest-build-provenance@'));
    const publish = index((s) => (s.run ?? '').includes('gh release create'));
    const move = index((s) => s.name === 'Move the major tag');
    expect([check, pack, attest, publish, move].every((i) => i >= 0)).toBe(true);
    expect(check).toBeLessThan(pack);
    expect(pack).toBeLessThan(attest);
    expect(attest).toBeLessThan(publish);
    expect(publish).toBeLessThan(move);
    expect(steps[attest]?.with?.['subject-path']).toContain('restorable-*.tgz');
  });

  it('refuses to publish docs whose uses: lines name another repository than the one it releases from', () => {
    const home = index((s) => s.run === 'npm run home -- --check "$REPO"');
    const publish = index((s) => (s.run ?? '').includes('gh release create'));
    expect(home).toBeGreaterThan(0);
    expect(home).toBeLessThan(publish);
    expect(steps[home]?.env).toEqual({ REPO: `\${{ github.repository }}` });
  });

  it('pins every action by a full commit SHA', () => {
    const uses = steps.flatMap((s) => (s.uses ? [s.uses] : []));
    expect(uses.length).toBeGreaterThan(2);
    for (const u of uses) expect(u).toMatch(/^[\w-]+\/[\w-]+@[0-9a-f]{40}$/);
  });

  it('publishes a draft first and makes it public once the tarball is attached (immutable after)', () => {
    const run = named('Publish the release (a draft until its asset is attached)').run ?? '';
    expect(run).toMatch(/gh release create "\$TAG" --draft --verify-tag .*restorable-\*\.tgz/);
    expect(run).toContain('gh release edit "$TAG" --draft=false');
  });

  it('refuses a tag that is not package.json’s version, or has no CHANGELOG section', () => {
    const s = named("The tag names package.json's version");
    const dir = path.join(tmp, 'version');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), '{"version":"1.2.3"}');
    fs.writeFileSync(path.join(dir, 'CHANGELOG.md'), '# Changelog\n\n## [1.2.3]\n\n- x\n');
    expect(runStep(s, dir, { TAG: 'v1.2.3' }).status).toBe(0);
    const wrong = runStep(s, dir, { TAG: 'v1.2.4' });
    expect(wrong.status).toBe(1);
    expect(wrong.stdout).toContain("::error::tag v1.2.4 is not package.json's version (v1.2.3)");
    fs.writeFileSync(path.join(dir, 'CHANGELOG.md'), '# Changelog\n\n## [1.2.2]\n');
    expect(runStep(s, dir, { TAG: 'v1.2.3' }).stdout).toContain('CHANGELOG.md has no section ## [1.2.3]');
  });

  it("the notes are the tag's CHANGELOG section, with uses: lines naming this repository", () => {
    const dir = path.join(tmp, 'notes');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'CHANGELOG.md'),
      '# Changelog\n\n## [Unreleased]\n\n- later\n\n## [1.2.3]\n\n- the fix\n\n## [1.2.2]\n\n- older\n',
    );
    const r = runStep(named('Release notes'), dir, {
      TAG: 'v1.2.3',
      REPO: 'acme/restorable',
      GITHUB_SHA: 'f'.repeat(40),
    });
    expect(r.status).toBe(0);
    const notes = fs.readFileSync(path.join(dir, 'notes.md'), 'utf8');
    expect(notes).toContain('- the fix');
    expect(notes).not.toContain('later');
    expect(notes).not.toContain('older');
    expect(notes).toContain(`uses: acme/restorable/actions/restore-drill@${'f'.repeat(40)} # v1.2.3`);
    expect(notes).toContain('uses: acme/restorable/.github/workflows/drill.yml@v1.2.3');
  });

  it('moves the major tag: v1 follows v1.2.3, then v1.3.0 (a real push to a real remote)', () => {
    const origin = path.join(tmp, 'origin.git');
    const work = path.join(tmp, 'work');
    git(tmp, 'init', '-q', '--bare', origin);
    git(tmp, 'clone', '-q', origin, work);
    const s = named('Move the major tag');
    const release = (version: string) => {
      git(work, 'commit', '-q', '--allow-empty', '-m', version);
      const sha = git(work, 'rev-parse', 'HEAD');
      const r = runStep(s, work, { TAG: `v${version}`, GITHUB_SHA: sha });
      expect(r.stderr + r.stdout).not.toMatch(/error|rejected/);
      expect(r.status).toBe(0);
      return sha;
    };
    const first = release('1.2.3');
    expect(git(origin, 'rev-parse', 'refs/tags/v1')).toBe(first);
    const second = release('1.3.0');
    expect(git(origin, 'rev-parse', 'refs/tags/v1')).toBe(second);
    expect(git(origin, 'tag', '--list')).toBe('v1');
  });

  it('passes actionlint', async () => {
    expect(await actionlint(read('.github/workflows/release.yml'), '.github/workflows/release.yml')).toEqual(
      [],
    );
  });
});

describe('what a release ships beside the code', () => {
  it("a LICENSE that is package.json's license", () => {
    const pkg = JSON.parse(read('package.json')) as { license: string };
    expect(pkg.license).toBe('MIT');
    expect(read('LICENSE')).toMatch(/^MIT License\n/);
  });

  it("a CHANGELOG section for package.json's version (the release refuses a tag without one)", () => {
    const { version } = JSON.parse(read('package.json')) as { version: string };
    expect(read('CHANGELOG.md')).toContain(`\n## [${version}]\n`);
  });

  it('Dependabot for the pinned actions and for npm', () => {
    const d = parse(read('.github/dependabot.yml')) as { updates: { 'package-ecosystem': string }[] };
    expect(d.updates.map((u) => u['package-ecosystem']).sort()).toEqual(['github-actions', 'npm']);
  });
});
