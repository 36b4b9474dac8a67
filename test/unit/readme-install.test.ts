import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkHome, docFiles, kitUses as homeUses, kitHome, setHome } from '../../scripts/home.js';

const root = path.resolve(import.meta.dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');
const readme = read('README.md');
const section = (title: string) => {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start, `README has no "## ${title}"`).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 4);
  return readme.slice(start, end);
};
const examples = fs.readdirSync(path.join(root, 'examples')).map((f) => `examples/${f}`);
const pages = fs.readdirSync(path.join(root, 'docs')).map((f) => `docs/${f}`);

/** Every `uses:` of this kit in the README, the pages under docs/ and the examples: `owner/restorable[/path]@ref`. */
const kitUses = () =>
  ['README.md', ...pages, ...examples].flatMap((f) =>
    [...read(f).matchAll(/uses: ([\w.-]+\/restorable)(\/[^@\s]*)?@(\S+)/g)].map((m) => ({
      file: f,
      repo: m[1] as string,
      path: (m[2] ?? '').replace(/^\//, ''),
      ref: m[3] as string,
    })),
  );

describe("the README's Install section and the uses: lines", () => {
  it('every uses: line names one repository, and a path that exists in it', () => {
    const uses = kitUses();
    expect(uses.length).toBeGreaterThan(10);
    expect(uses.filter((u) => u.file === 'README.md').length).toBeGreaterThan(1);
    expect(new Set(uses.filter((u) => u.file.startsWith('docs/')).map((u) => u.file)).size).toBeGreaterThan(
      4,
    );
    expect(new Set(uses.map((u) => u.repo))).toEqual(new Set([kitHome()]));
    for (const u of uses) {
      const target = u.path === '' ? 'action.yml' : u.path.endsWith('.yml') ? u.path : `${u.path}/action.yml`;
      expect(fs.existsSync(path.join(root, target)), `${u.file}: uses ${u.repo}/${u.path}`).toBe(true);
    }
  });

  it('says how to pin (commit SHA, tag, major) and how to verify the provenance', () => {
    const s = section('Install');
    expect(s).toMatch(/Pin by commit SHA/);
    expect(s).toMatch(/By tag/);
    expect(s).toMatch(/By major/);
    expect(s).toContain('gh attestation verify');
  });

  it('names the permissions each workflow caller grants, as the examples grant them', () => {
    const s = section('Install');
    const callers: [string, string, string][] = [
      ['drill.yml', 'examples/drill-caller.yml', 'drill'],
      ['pitr.yml', 'examples/pitr-caller.yml', 'pitr'],
      ['pr-check.yml', 'examples/pr-check-caller.yml', 'migrations'],
    ];
    for (const [workflow, example, job] of callers) {
      const granted = (
        parse(read(example)) as { jobs: Record<string, { permissions: Record<string, string> }> }
      ).jobs[job]?.permissions;
      const row = s.split('\n').find((l) => l.startsWith(`| \`${workflow}\``)) ?? '';
      const listed = Object.fromEntries(
        [...(row.split('|')[2] ?? '').matchAll(/`([\w-]+): (\w+)`/g)].map((m) => [m[1], m[2]]),
      );
      expect(listed, workflow).toEqual(granted);
    }
  });
});

describe("the README's Runner requirements", () => {
  const s = section('Runner requirements');
  it('the runner version node24 needs, the PostgreSQL binaries, disk, TMPDIR and work-dir, ports', () => {
    expect(s).toContain('2.327.1');
    expect(s).toMatch(/server and client binaries of production's major/i);
    for (const word of ['work-dir', 'TMPDIR', '/tmp', '127.0.0.1', 'setup-postgres'])
      expect(s).toContain(word);
  });
  it("names each workflow's default labels as the workflows set them", () => {
    for (const f of ['drill.yml', 'pitr.yml', 'pr-check.yml']) {
      const w = parse(read(`.github/workflows/${f}`)) as {
        on: { workflow_call: { inputs: Record<string, { default?: string }> } };
      };
      const labels = JSON.parse(String(w.on.workflow_call.inputs['runs-on']?.default)) as string[];
      expect(s.replace(/\s+/g, ' '), f).toContain(
        `\`${JSON.stringify(labels).replace(/,/g, ', ')}\` (\`${f}\`)`,
      );
    }
  });
});

describe("the kit's home (npm run home)", () => {
  /** A copy of what names the home: package.json, the README, docs/ and examples/. */
  const copy = () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'home-'));
    for (const d of ['docs', 'examples']) fs.mkdirSync(path.join(dir, d));
    for (const f of ['package.json', ...docFiles()]) fs.copyFileSync(path.join(root, f), path.join(dir, f));
    return dir;
  };

  it('every uses: line of the kit, and package.json, name one home', () => {
    expect(homeUses().length).toBeGreaterThan(10);
    expect(checkHome(kitHome())).toBeUndefined();
  });

  it('--check with another repository names the first line that would not work', () => {
    expect(checkHome('acme/restorable')).toMatch(
      new RegExp(
        `^the docs name ${kitHome()} \\(README\\.md: uses: ${kitHome()}/.*\\), not acme/restorable.*npm run home -- --set acme/restorable`,
      ),
    );
  });

  it('--set rewrites every kit uses: line and package.json, and nothing else', () => {
    const dir = copy();
    try {
      const before = homeUses(dir);
      setHome('acme/pg-restorable', dir);
      const after = homeUses(dir);
      expect(checkHome('acme/pg-restorable', dir)).toBeUndefined();
      expect(after.map((u) => u.line)).toEqual(
        before.map((u) => u.line.replace(kitHome(), 'acme/pg-restorable')),
      );
      // Other actions' uses: lines (actions/checkout, ...) are left as they were.
      const others = (d: string) =>
        docFiles(d).flatMap((f) =>
          [...fs.readFileSync(path.join(d, f), 'utf8').matchAll(/uses: actions\/\S+/g)].map((m) => m[0]),
        );
      expect(others(dir)).toEqual(others(root));
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).repository).toBe(
        'github:acme/pg-restorable',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--set refuses what is not OWNER/NAME, changing nothing', () => {
    const dir = copy();
    try {
      for (const bad of ['acme', 'acme/x/y', '--help/x', 'acme/x y', 'a\nb/c', ''])
        expect(() => setHome(bad, dir), bad).toThrow(/is not OWNER\/NAME/);
      expect(checkHome(kitHome(), dir)).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
