import { str, when } from '../inputs.js';
import { syncIssue } from '../issues.js';
import { readReports, summarizeDrill } from '../reports.js';
import type { ModeRun, ReportResult } from './mode.js';

/** The drill's issue: opened or updated while the drill fails, closed when it passes again; notified. */
export async function drillIssue({ i, deps, ctx, send, database }: ModeRun): Promise<ReportResult> {
  const fleet = i.fleet;
  const reports = i.reports ? readReports(i.reports) : [];
  const s = summarizeDrill(reports, {
    database,
    runUrl: ctx.runUrl,
    now: deps.now,
    fleet,
    ...when(str(i['job-result']), (jobResult) => ({ jobResult })),
  });
  const label = str(i.label) ?? (fleet ? 'restorable-fleet' : 'restorable-drill');
  const outcome = await syncIssue(deps.client(), ctx.repo(), {
    label,
    title: s.title,
    verdict: s.verdict,
    body: s.body,
    passBody: `${s.body}\nThe drill passes again: closing.`,
  });
  await send(
    outcome.action === 'closed' ? `${s.line} (closes ${outcome.url})` : s.line,
    s.verdict !== 'pass' || outcome.action === 'closed',
  );
  return {
    outputs: {
      verdict: s.verdict,
      action: outcome.action,
      'issue-url': outcome.url ?? '',
    },
    summary: `${s.body}\n${outcome.action === 'none' ? 'No open issue: nothing to do.' : `Issue ${outcome.action}: ${outcome.url}`}\n`,
  };
}
