import fs from 'node:fs';
import path from 'node:path';
import { formatSeconds } from '../core/duration.js';
import type { Finding } from '../report/findings.js';
import { sortFindings } from '../report/render.js';
import type { Verdict } from '../report/stages.js';

/** A JSON report written by one of the kit's actions (`report` output), as read back by a later job. */
export interface ReadReport {
  /** The folder it was found in, relative to the root: the database in a fleet (one artifact each). */
  group: string;
  file: string;
  command: string;
  verdict: Verdict;
  totalSeconds: number;
  findings: Finding[];
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith('.json') ? [p] : [];
  });
}

/** Every Restorable report under a file or folder; anything else (history, baselines) is passed over. */
export function readReports(where: string): ReadReport[] {
  if (!fs.existsSync(where)) return [];
  const root = fs.statSync(where).isDirectory() ? where : path.dirname(where);
  const files = fs.statSync(where).isDirectory() ? walk(where).sort() : [where];
  const out: ReadReport[] = [];
  for (const file of files) {
    let r: Partial<ReadReport> & { tool?: string };
    try {
      r = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    if (r.tool !== 'restorable' || !r.verdict || !r.command) continue;
    const rel = path.relative(root, path.dirname(file));
    out.push({
      group: (rel.split(path.sep)[0] || '').replace(/^restorable-drill-/, ''),
      file,
      command: r.command,
      verdict: r.verdict,
      totalSeconds: Number(r.totalSeconds ?? 0),
      findings: Array.isArray(r.findings) ? r.findings : [],
    });
  }
  return out;
}

/** fail over could-not-verify over pass; nothing at all could not be verified. */
export function worstVerdict(verdicts: Verdict[]): Verdict {
  if (verdicts.includes('fail')) return 'fail';
  if (verdicts.includes('could-not-verify') || verdicts.length === 0) return 'could-not-verify';
  return 'pass';
}

const MARK: Record<Verdict, string> = {
  pass: '✅ PASS',
  fail: '❌ FAIL',
  'could-not-verify': '⚠️ COULD NOT VERIFY',
};
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export interface DrillSummary {
  verdict: Verdict;
  title: string;
  body: string;
  /** One line, for a chat notification. */
  line: string;
}

/**
 * What a drill issue (or a comment on it) says: the verdict of each database and step, and every
 * finding with its fix. `jobResult` is the drill job's result: a job that ended without writing a
 * report (cancelled, a crash, a runner lost) could not verify anything.
 */
export function summarizeDrill(
  reports: ReadReport[],
  opts: { database: string; runUrl: string; jobResult?: string; now: Date; fleet?: boolean },
): DrillSummary {
  const day = opts.now.toISOString().slice(0, 10);
  const groups = new Map<string, ReadReport[]>();
  for (const r of reports) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  let verdict = worstVerdict(reports.map((r) => r.verdict));
  const missing = reports.length === 0;
  if (opts.jobResult && opts.jobResult !== 'success' && verdict === 'pass') verdict = 'could-not-verify';
  const out: string[] = [];
  const subject = opts.fleet ? `the fleet (${groups.size} databases)` : opts.database;
  out.push(`## Restore drill of ${subject}: ${MARK[verdict]} (${day})`, '', `Run: ${opts.runUrl}`, '');
  if (missing) {
    out.push(
      `No report was written: the drill job ended \`${opts.jobResult ?? 'unknown'}\` before any step reported. Open the run to see where it stopped.`,
      '',
    );
  }
  if (opts.fleet) {
    out.push('| database | verdict | steps | findings |', '|---|---|---|---|');
    for (const [group, rs] of groups) {
      const v = worstVerdict(rs.map((r) => r.verdict));
      const fs = rs.flatMap((r) => r.findings).filter((f) => !f.ignored);
      out.push(
        `| ${cell(group || opts.database)} | ${MARK[v]} | ${rs.map((r) => `${r.command} ${r.verdict}`).join(', ')} | ${fs.length ? fs.map((f) => `\`${f.rule}\``).join(', ') : '—'} |`,
      );
    }
    out.push('');
  } else if (!missing) {
    out.push('| step | verdict | time |', '|---|---|---|');
    for (const r of reports)
      out.push(`| ${r.command} | ${MARK[r.verdict]} | ${formatSeconds(r.totalSeconds)} |`);
    out.push('');
  }
  const failing = [...groups].flatMap(([group, rs]) =>
    rs.flatMap((r) => r.findings.filter((f) => !f.ignored).map((f) => ({ group, step: r.command, f }))),
  );
  if (failing.length) {
    out.push('### Findings and their fixes', '');
    out.push(
      `| ${opts.fleet ? 'database | ' : ''}step | severity | rule | what | fix |`,
      `|${opts.fleet ? '---|' : ''}---|---|---|---|---|`,
    );
    const order = new Map(sortFindings(failing.map((x) => x.f)).map((f, i) => [f, i]));
    failing.sort((a, b) => (order.get(a.f) ?? 0) - (order.get(b.f) ?? 0));
    for (const { group, step, f } of failing) {
      out.push(
        `| ${opts.fleet ? `${cell(group)} | ` : ''}${step} | ${f.severity} | \`${f.rule}\` | ${cell(f.message)} | ${cell(f.fix ?? '')} |`,
      );
    }
    out.push('');
  }
  const top = failing[0];
  const title = `Restore drill ${verdict === 'fail' ? 'failed' : verdict === 'pass' ? 'passed' : 'could not verify'}: ${subject}`;
  const line = `${MARK[verdict]} restore drill of ${subject} (${day})${top ? `: ${top.f.rule}: ${top.f.message}` : ''} ${opts.runUrl}`;
  return { verdict, title, body: out.join('\n'), line };
}
