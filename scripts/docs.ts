/**
 * npm run docs: regenerate the README's tables (inputs, outputs, findings) from the specs and the
 * rule catalog, and the performance table from the bench's recorded summary (bench/results.json). A test fails when the README differs from what this writes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { readResults, resultsTable } from '../bench/results.js';
import { RULES, type RuleInfo } from '../src/report/findings.js';
import { SPECS } from '../src/specs.js';

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
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  for (const name of WORKFLOWS) {
    type Call = {
      inputs?: Record<string, { description?: string; type?: string; default?: unknown; required?: boolean }>;
      secrets?: Record<string, { description?: string; required?: boolean }>;
      outputs?: Record<string, { description?: string; value?: string }>;
    };
    const wf = parse(fs.readFileSync(path.join(root, '.github', 'workflows', `${name}.yml`), 'utf8')) as {
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

export function renderReadme(text: string): string {
  const sections = generatedSections();
  return text.replace(
    /(<!-- generated:([\w:-]+) -->\n)[\s\S]*?(<!-- \/generated -->)/g,
    (whole, open: string, name: string, close: string) =>
      sections[name] ? `${open}${sections[name]}\n${close}` : whole,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
  fs.writeFileSync(file, renderReadme(fs.readFileSync(file, 'utf8')));
}
