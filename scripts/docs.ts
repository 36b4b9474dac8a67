/**
 * npm run docs: regenerate the documentation's tables (inputs, outputs, findings, the workflows')
 * from the specs, the rule catalog and the workflow files, and the performance table from the
 * bench's recorded summary (bench/results.json). Each table sits between its markers in the page
 * that holds its section (README.md or a page under docs/); a test fails when any page differs from
 * what this writes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { readResults, resultsTable } from '../bench/results.js';
import { RULES, type RuleInfo } from '../src/report/findings.js';
import { SPECS } from '../src/specs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function generatedSections(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of SPECS) {
    out[`${spec.name}:inputs`] = [
      '| input | default | description |',
      '|---|---|---|',
      ...Object.entries(spec.inputs).map(
        ([name, i]) =>
          `| \`${name}\` | ${i.required ? '(required)' : i.default !== undefined ? `\`${i.default}\`` : ''} | ${cell(i.description)} |`,
      ),
    ].join('\n');
    out[`${spec.name}:outputs`] = [
      '| output | description |',
      '|---|---|',
      ...spec.outputs.map((o) => `| \`${o.name}\` | ${cell(o.description)} |`),
    ].join('\n');
  }
  Object.assign(out, workflowSections());
  out.performance = resultsTable(readResults());
  out.findings = [
    '| rule | severity | verdict | fires when | fix |',
    '|---|---|---|---|---|',
    ...Object.entries(RULES as Record<string, RuleInfo>).map(
      ([rule, r]) =>
        `| \`${rule}\` | ${r.severity} | ${r.kind === 'unverifiable' ? 'could-not-verify' : 'fail (at or above `fail-on`)'} | ${cell(r.fires)} | ${cell(r.fix)} |`,
    ),
  ].join('\n');
  return out;
}

/** The reusable workflows' inputs, secrets, outputs and per-job permissions, read from their YAML. */
export const WORKFLOWS = ['drill', 'pitr', 'pr-check'];

function workflowSections(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of WORKFLOWS) {
    type Call = {
      inputs?: Record<string, { description?: string; type?: string; default?: unknown; required?: boolean }>;
      secrets?: Record<string, { description?: string; required?: boolean }>;
      outputs?: Record<string, { description?: string; value?: string }>;
    };
    const wf = parse(fs.readFileSync(path.join(ROOT, '.github', 'workflows', `${name}.yml`), 'utf8')) as {
      on: { workflow_call: Call };
      jobs: Record<string, { permissions?: Record<string, string>; environment?: string }>;
    };
    const call = wf.on.workflow_call;
    out[`workflow:${name}:inputs`] = [
      '| input | type | default | description |',
      '|---|---|---|---|',
      ...Object.entries(call.inputs ?? {}).map(
        ([k, v]) =>
          `| \`${k}\` | ${v.type ?? 'string'} | ${v.required ? '(required)' : v.default === undefined || v.default === '' ? '' : `\`${cell(String(v.default))}\``} | ${cell(v.description ?? '')} |`,
      ),
    ].join('\n');
    out[`workflow:${name}:secrets`] = [
      '| secret | required | description |',
      '|---|---|---|',
      ...Object.entries(call.secrets ?? {}).map(
        ([k, v]) => `| \`${k}\` | ${v.required ? 'yes' : 'no'} | ${cell(v.description ?? '')} |`,
      ),
    ].join('\n');
    out[`workflow:${name}:outputs`] = [
      '| output | description |',
      '|---|---|',
      ...Object.entries(call.outputs ?? {}).map(([k, v]) => `| \`${k}\` | ${cell(v.description ?? '')} |`),
    ].join('\n');
    out[`workflow:${name}:permissions`] = [
      '| job | permissions | environment |',
      '|---|---|---|',
      ...Object.entries(wf.jobs).map(
        ([job, j]) =>
          `| \`${job}\` | ${
            Object.entries(j.permissions ?? {})
              .map(([k, v]) => `${k}: ${v}`)
              .join(', ') || 'none'
          } | ${j.environment ? `\`${cell(j.environment)}\`` : ''} |`,
      ),
    ].join('\n');
  }
  return out;
}

/** The documentation: the landing README and one page a topic under docs/, by path from `root`. */
export function docFiles(root = ROOT): string[] {
  const pages = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...pages];
}

const BLOCK = /(<!-- generated:([\w:-]+) -->\n)[\s\S]*?(<!-- \/generated -->)/g;

/** One page with each generated block in it rewritten from its source. */
export function renderDoc(text: string, sections = generatedSections()): string {
  return text.replace(BLOCK, (whole, open: string, name: string, close: string) =>
    sections[name] ? `${open}${sections[name]}\n${close}` : whole,
  );
}

/**
 * Every page under `root` as npm run docs writes it, by path. Each generated table must be in
 * exactly one page, and each marker must name a table: a section moved without its markers, or a
 * marker copied or misspelt, stops the run naming the table and the pages.
 */
export function renderDocs(root = ROOT): Map<string, string> {
  const sections = generatedSections();
  const where = new Map<string, string[]>(Object.keys(sections).map((name) => [name, []]));
  const out = new Map<string, string>();
  for (const file of docFiles(root)) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const [, , name = ''] of text.matchAll(BLOCK)) {
      const pages = where.get(name);
      if (!pages)
        throw new Error(`${file}: <!-- generated:${name} --> names no generated table (scripts/docs.ts)`);
      pages.push(file);
    }
    out.set(file, renderDoc(text, sections));
  }
  for (const [name, pages] of where) {
    if (pages.length !== 1)
      throw new Error(
        `the generated table ${name} is in ${pages.length ? pages.join(' and ') : 'no page'}: keep its markers (<!-- generated:${name} --> ... <!-- /generated -->) in the one page that holds its section`,
      );
  }
  return out;
}

/** The anchor GitHub gives a heading: its text as shown, lower case, punctuation but - and _ dropped, spaces as -. */
export function anchorOf(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** A page's lines outside fenced code blocks. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    return !fenced && !/^\s*(```|~~~)/.test(line);
  });
}

/** The anchors of a page's headings, as GitHub numbers repeats (`inputs`, `inputs-1`, ...). */
export function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(text)) {
    const heading = /^#{1,6} +(.*?)(?: +#+)? *$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = anchorOf(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/**
 * The relative links of a page (`file` under `root`) that lead nowhere: a path that does not
 * exist (or leaves the repository), or an #anchor that no heading of the page it names makes.
 */
export function brokenLinks(root: string, file: string): string[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const broken: string[] = [];
  for (const line of prose(text)) {
    for (const [, target = ''] of line
      .replace(/`[^`]*`/g, '')
      .matchAll(/\]\(<?([^)\s>]*)>?(?:\s+"[^"]*")?\)/g)) {
      if (/^[a-z][\w+.-]*:/i.test(target)) continue;
      const [where = '', anchor] = target.split('#');
      const full = where ? path.resolve(root, path.dirname(file), decodeURI(where)) : path.join(root, file);
      const inside = !path.relative(root, full).startsWith('..');
      if (!inside || !fs.existsSync(full)) broken.push(`${file}: ${target} (no such file)`);
      else if (
        anchor !== undefined &&
        !(full.endsWith('.md') && anchorsOf(fs.readFileSync(full, 'utf8')).has(anchor))
      )
        broken.push(`${file}: ${target} (no such heading)`);
    }
  }
  return broken;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [file, text] of renderDocs()) {
    const full = path.join(ROOT, file);
    if (fs.readFileSync(full, 'utf8') !== text) {
      fs.writeFileSync(full, text);
      console.log(`npm run docs: rewrote the tables in ${file}`);
    }
  }
  const broken = docFiles().flatMap((file) => brokenLinks(ROOT, file));
  for (const b of broken) console.error(`broken link: ${b}`);
  if (broken.length) process.exitCode = 1;
}
