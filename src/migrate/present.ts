import { formatBytes, formatSeconds } from '../core/duration.js';
import { sortFindings } from '../report/render.js';
import type { MigrateResult } from './run.js';

/** The hidden first line of the PR comment: the workflow finds its own comment by it and updates it. */
export const COMMENT_MARKER = '<!-- restorable:migrate-check -->';

function migrateLine(r: MigrateResult): string {
  if (r.migrateSeconds === undefined) return 'did not run';
  const how =
    r.exitCode === 0
      ? 'exit 0'
      : r.exitCode === null
        ? `killed (${r.signal ?? 'signal'})`
        : `exit ${r.exitCode}`;
  return `${how} in ${formatSeconds(r.migrateSeconds)}`;
}

function locksLine(r: MigrateResult): string {
  if (r.locks.length === 0) return r.lockSamples ? `none seen (${r.lockSamples} samples of pg_locks)` : '—';
  const shown = r.locks.slice(0, 5).map((l) => `${l.table} ${formatSeconds(l.seconds)}`);
  return `${shown.join(', ')}${r.locks.length > 5 ? `, and ${r.locks.length - 5} more` : ''}`;
}

function rewrittenLine(r: MigrateResult): string {
  if (r.rewritten.length === 0) return 'none';
  return r.rewritten.map((t) => `${t.table} (${formatBytes(t.bytes)})`).join(', ');
}

/** The facts that head the summary and the console report. */
export function migrateFacts(r: MigrateResult): [string, string][] {
  const rows: [string, string][] = [
    ['database', `${r.database}${r.server ? ` (PostgreSQL ${r.server})` : ''}`],
    ['migrate', migrateLine(r)],
    ['rewritten', rewrittenLine(r)],
    ['longest locks', locksLine(r)],
    ['structure', `${r.schemaDiff.added.length} added, ${r.schemaDiff.removed.length} removed`],
  ];
  if (r.smoke?.length)
    rows.push([
      'smoke queries',
      r.smoke.map((q) => `${q.name}: ${q.value ?? 'error'} (${q.expect})${q.ok ? '' : ' FAILED'}`).join('; '),
    ]);
  return rows;
}

const VERDICT: Record<MigrateResult['verdict'], string> = {
  pass: '✅ PASS',
  fail: '❌ FAIL',
  'could-not-verify': '⚠️ COULD NOT VERIFY',
};

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** A fence longer than any run of backticks inside, so the text cannot close it. */
const fence = (s: string) => '`'.repeat(Math.max(3, ...[...s.matchAll(/`+/g)].map((m) => m[0].length + 1)));

/**
 * The result as one PR comment. The first line is a hidden marker, so the workflow updates the same
 * comment on every push instead of adding another. Catalog facts and numbers only, never rows.
 */
export function migrateComment(r: MigrateResult, maxDiffLines = 200): string {
  const out: string[] = [COMMENT_MARKER, `### Migration check on a restored copy: ${VERDICT[r.verdict]}`, ''];
  out.push('| | |', '|---|---|');
  for (const [k, v] of migrateFacts(r).filter(([k]) => k !== 'database')) out.push(`| ${k} | ${cell(v)} |`);
  out.push('');
  const findings = sortFindings(r.findings);
  if (findings.length) {
    out.push('| severity | rule | what | fix |', '|---|---|---|---|');
    for (const f of findings) {
      out.push(
        `| ${f.severity}${f.ignored ? ' (ignored)' : ''} | \`${f.rule}\` | ${cell(f.message.split('\n')[0] ?? '')} | ${cell(f.fix ?? '')} |`,
      );
    }
  } else out.push('No findings.');
  out.push('');
  if (r.stderrTail) {
    const f = fence(r.stderrTail);
    out.push(
      '<details><summary>The end of the migrate command’s stderr</summary>',
      '',
      `${f}text`,
      r.stderrTail,
      f,
      '',
      '</details>',
      '',
    );
  }
  const diff = [...r.schemaDiff.removed.map((l) => `- ${l}`), ...r.schemaDiff.added.map((l) => `+ ${l}`)];
  if (diff.length) {
    const shown = diff.slice(0, maxDiffLines);
    if (diff.length > shown.length) shown.push(`# and ${diff.length - shown.length} more lines`);
    const body = shown.join('\n');
    const f = fence(body);
    out.push(
      `<details><summary>Schema difference: ${r.schemaDiff.added.length} added, ${r.schemaDiff.removed.length} removed</summary>`,
      '',
      `${f}diff`,
      body,
      f,
      '',
      '</details>',
      '',
    );
  } else if (r.stages.some((s) => s.name === 'structure' && s.status === 'ok')) {
    out.push('The schema did not change.', '');
  }
  const skipped = r.stages.filter((s) => s.status === 'skipped' || s.status === 'not-run');
  if (skipped.length)
    out.push(`Not checked: ${skipped.map((s) => `${s.name} (${s.reason ?? s.status})`).join('; ')}.`, '');
  out.push(
    `<sub>restorable migrate-check, ${r.startedAt}, ${formatSeconds(r.totalSeconds)}; fails on ${r.failOn} and above.</sub>`,
  );
  return `${out.join('\n')}\n`;
}
