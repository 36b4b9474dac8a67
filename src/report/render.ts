import fs from 'node:fs';
import path from 'node:path';
import { formatSeconds } from '../core/duration.js';
import { VERSION } from '../core/version.js';
import { type Finding, severityRank } from './findings.js';
import type { StageResult, Verdict } from './stages.js';

/** What every pipeline's result has in common, which is all the renderers need. */
export interface Reportable {
  command: string;
  verdict: Verdict;
  failOn: string;
  startedAt: string;
  totalSeconds: number;
  stages: StageResult[];
  findings: Finding[];
}

const VERDICT_MARK: Record<Verdict, string> = {
  pass: '✅ PASS',
  fail: '❌ FAIL',
  'could-not-verify': '⚠️ COULD NOT VERIFY',
};
const STATUS_MARK: Record<StageResult['status'], string> = {
  ok: 'ok',
  failed: 'FAILED',
  skipped: 'SKIPPED',
  'not-run': 'NOT RUN',
};

export function sortFindings(fs: Finding[]): Finding[] {
  return [...fs].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
}

/** Write the JSON report; returns its absolute path. */
export function writeJsonReport(result: Reportable, file: string): string {
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, `${JSON.stringify({ tool: 'restorable', version: VERSION, ...result }, null, 2)}\n`);
  return abs;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The job summary (GitHub-flavoured markdown). `facts` are the rows of the table about the subject. */
export function markdownSummary(result: Reportable, title: string, facts: [string, string][]): string {
  const out: string[] = [];
  out.push(`## ${title}: ${VERDICT_MARK[result.verdict]}`, '');
  if (facts.length) {
    out.push('| | |', '|---|---|');
    for (const [k, v] of facts) out.push(`| ${cell(k)} | ${cell(v)} |`);
    out.push('');
  }
  out.push('### Checks', '', '| check | result | time | note |', '|---|---|---|---|');
  for (const s of result.stages) {
    const note = s.reason ?? s.findings.map((f) => f.rule).join(', ');
    out.push(`| ${s.name} | ${STATUS_MARK[s.status]} | ${formatSeconds(s.seconds)} | ${cell(note)} |`);
  }
  out.push('', `Total ${formatSeconds(result.totalSeconds)}. Fails on ${result.failOn} and above.`, '');
  if (result.findings.length) {
    out.push('### Findings', '', '| severity | rule | what | fix |', '|---|---|---|---|');
    for (const f of sortFindings(result.findings)) {
      out.push(
        `| ${f.severity}${f.ignored ? ' (ignored)' : ''} | \`${f.rule}\` | ${cell(f.message)} | ${cell(f.fix ?? '')} |`,
      );
    }
  } else out.push('No findings.');
  return `${out.join('\n')}\n`;
}

/** Plain lines for a terminal. */
export function consoleReport(result: Reportable, facts: [string, string][], withStages = true): string {
  const out: string[] = [];
  for (const [k, v] of facts) out.push(`  ${k.padEnd(16)} ${v}`);
  out.push('');
  for (const s of withStages ? result.stages : []) {
    out.push(
      `  ${STATUS_MARK[s.status].padEnd(8)} ${s.name.padEnd(10)} ${formatSeconds(s.seconds).padStart(8)}  ${s.reason ?? ''}`,
    );
  }
  if (result.findings.length) out.push('');
  for (const f of sortFindings(result.findings)) {
    out.push(`  [${f.severity}] ${f.rule}: ${f.message}`);
    if (f.fix) out.push(`      fix: ${f.fix}`);
  }
  out.push('', `verdict: ${result.verdict.toUpperCase()} (${formatSeconds(result.totalSeconds)})`);
  return out.join('\n');
}
