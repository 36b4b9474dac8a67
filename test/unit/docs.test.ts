import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { anchorOf, brokenLinks, docFiles, generatedSections, renderDocs } from '../../scripts/docs.js';
import { RULES } from '../../src/report/findings.js';
import { SPECS } from '../../src/specs.js';

const root = path.resolve(import.meta.dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');
const readme = read('README.md');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-docs-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the documentation in a folder of its own, with `edit` applied to one page. */
function copyWith(page: string, edit: (text: string) => string): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'copy-'));
  fs.mkdirSync(path.join(dir, 'docs'));
  for (const f of docFiles()) fs.writeFileSync(path.join(dir, f), f === page ? edit(read(f)) : read(f));
  return dir;
}

/** The page that holds each generated table's section. */
function pageOf(table: string): string {
  if (table.startsWith('workflow:') || table.startsWith('github-report:')) return 'docs/workflows.md';
  if (table === 'findings') return 'docs/findings.md';
  if (table === 'performance') return 'docs/performance.md';
  return `docs/${table.split(':')[0]}.md`;
}

describe('the documentation: README.md and docs/', () => {
  it('every page is what npm run docs writes: its tables from the specs, the rule catalog, the workflows and the bench', () => {
    const pages = renderDocs();
    expect([...pages.keys()]).toEqual(docFiles());
    expect(pages.size).toBeGreaterThan(10);
    for (const [file, text] of pages) expect(read(file), `${file} differs: run npm run docs`).toBe(text);
  });

  it('holds each generated table in the page of its section, one page an action', () => {
    for (const spec of SPECS) expect(docFiles()).toContain(pageOf(`${spec.name}:inputs`));
    for (const table of Object.keys(generatedSections()))
      expect(read(pageOf(table)), table).toContain(`<!-- generated:${table} -->`);
  });

  it('npm run docs stops on a table in no page, in two pages, or a marker that names none', () => {
    const table = '<!-- generated:compare-counts:outputs -->';
    const gone = copyWith('docs/compare-counts.md', (t) => t.replace(table, '<!-- moved -->'));
    expect(() => renderDocs(gone)).toThrow('compare-counts:outputs is in no page');
    const twice = copyWith('docs/migrate-check.md', (t) => `${t}\n${table}\n<!-- /generated -->\n`);
    expect(() => renderDocs(twice)).toThrow(
      'compare-counts:outputs is in docs/compare-counts.md and docs/migrate-check.md',
    );
    const typo = copyWith(
      'docs/findings.md',
      (t) => `${t}\n<!-- generated:findngs -->\n<!-- /generated -->\n`,
    );
    expect(() => renderDocs(typo)).toThrow(
      'docs/findings.md: <!-- generated:findngs --> names no generated table',
    );
    expect(renderDocs(copyWith('docs/findings.md', (t) => t)).size).toBe(docFiles().length);
  });

  it('a table edited by hand differs from what npm run docs writes, in whichever page it is', () => {
    const page = 'docs/verify-backup.md';
    const edited = copyWith(page, (t) => t.replace('| `source` |', '| `sauce` |'));
    expect(fs.readFileSync(path.join(edited, page), 'utf8')).not.toBe(renderDocs(edited).get(page));
  });

  it('documents every rule', () => {
    const findings = read('docs/findings.md');
    for (const rule of Object.keys(RULES)) expect(findings).toContain(`| \`${rule}\` |`);
  });

  it('its quick start is exactly two commands, and CI runs the test command', () => {
    const quick = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = quick.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    expect(commands).toHaveLength(2);
    const testCommand = (commands[1] as string).split('#')[0]?.trim() as string;
    expect(fs.readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8')).toContain(
      `\n${testCommand}\n`,
    );
  });

  it("the README's contents link every page under docs/", () => {
    const contents = /\n## Contents\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    for (const page of docFiles().slice(1)) expect(contents, page).toContain(`](${page})`);
  });
});

describe('links in the documentation', () => {
  it('every relative link and #anchor in README.md and docs/*.md leads to a file and a heading there', () => {
    const links = docFiles().flatMap((f) => [...read(f).matchAll(/\]\((?!https?:)[^)]+\)/g)]);
    expect(links.length).toBeGreaterThan(40);
    expect(docFiles().flatMap((f) => brokenLinks(root, f))).toEqual([]);
  });

  it('anchors are made as GitHub makes them', () => {
    expect(anchorOf('Monthly drill (`drill.yml`)')).toBe('monthly-drill-drillyml');
    expect(anchorOf('PR migration check (`pr-check.yml`)')).toBe('pr-migration-check-pr-checkyml');
    expect(anchorOf('Verdicts and findings')).toBe('verdicts-and-findings');
    expect(anchorOf('[restorable.yml](x.md) and **more**: v2_1')).toBe('restorableyml-and-more-v2_1');
  });

  it('finds a missing page, a missing heading, a path out of the repository; repeated headings are numbered', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'links-'));
    fs.mkdirSync(path.join(dir, 'docs'));
    fs.writeFileSync(
      path.join(dir, 'docs', 'a.md'),
      '# A\n\n## Inputs\n\n## Inputs\n\n```sh\n# not a heading\n```\n',
    );
    fs.writeFileSync(
      path.join(dir, 'README.md'),
      [
        '[ok](docs/a.md) [ok](docs/a.md#inputs) [ok](docs/a.md#inputs-1) [ok](#b) [ok](https://x.test/#y)',
        '# B',
        '`[code](nowhere.md)`',
        '```md',
        '[fenced](nowhere.md)',
        '```',
        '[gone](docs/b.md) [no heading](docs/a.md#inputs-2) [fenced heading](docs/a.md#not-a-heading)',
        '[outside](../etc/passwd) [self](#c)',
      ].join('\n'),
    );
    expect(brokenLinks(dir, 'README.md')).toEqual([
      'README.md: docs/b.md (no such file)',
      'README.md: docs/a.md#inputs-2 (no such heading)',
      'README.md: docs/a.md#not-a-heading (no such heading)',
      'README.md: ../etc/passwd (no such file)',
      'README.md: #c (no such heading)',
    ]);
    expect(brokenLinks(dir, 'docs/a.md')).toEqual([]);
  });
});

describe('the code points at the documentation where it now is', () => {
  // The project's own files: tracked or new, never what .gitignore keeps out (bench/out holds a
  // baseline commit's sources for the bench).
  const code = execFileSync('git', ['ls-files', '-co', '--exclude-standard', 'src', 'scripts', 'bench'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => f.endsWith('.ts'));

  it('every docs/<page>.md a message or comment names exists', () => {
    const named = code.flatMap((f) =>
      [...read(f).matchAll(/\bdocs\/([a-z-]+)\.md\b/g)].map((m) => `${f}: ${m[0]}`),
    );
    expect(named.length).toBeGreaterThan(4);
    for (const n of named) expect(fs.existsSync(path.join(root, n.split(': ')[1] as string)), n).toBe(true);
  });

  it('no message sends a reader to the README for what moved to docs/', () => {
    const strings = code.flatMap((f) =>
      [...read(f).matchAll(/(['"`])((?:(?!\1)[^\\\n]|\\.)*README(?:(?!\1)[^\\\n]|\\.)*)\1/g)].map(
        (m) => `${f}: ${m[2]}`,
      ),
    );
    expect(strings.filter((s) => /\bthe README\b/.test(s))).toEqual([]);
  });
});
