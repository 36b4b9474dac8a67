import { UserError } from '../../core/errors.js';
import { prNumber, str, when } from '../inputs.js';
import { upsertMarkedComment } from '../issues.js';
import { readReports, summarizeDrill } from '../reports.js';
import type { ModeRun, ReportResult } from './mode.js';

/** migrate-check's PR comment, kept as one comment by its marker; without a body, what did happen. */
export async function prComment({ i, deps, ctx, database }: ModeRun): Promise<ReportResult> {
  const marker = i.marker.trim();
  if (!/^<!--[^>]*-->$/.test(marker)) {
    throw new UserError(
      'marker',
      `"${marker}" is not one hidden HTML comment`,
      'Write it as <!-- restorable:migrate-check:<database> -->',
    );
  }
  let body = str(i.body);
  let verdict = 'pass';
  if (!body) {
    // No comment from migrate-check (the restore failed before it ran): say what did happen.
    const reports = i.reports ? readReports(i.reports) : [];
    const s = summarizeDrill(reports, {
      database,
      runUrl: ctx.runUrl,
      now: deps.now,
      ...when(str(i['job-result']), (jobResult) => ({ jobResult })),
    });
    verdict = s.verdict;
    body = `${marker}\n## Migration check: not run\n\nThe migration was not checked: the latest backup did not restore.\n\n${s.body}`;
  } else if (!body.startsWith(marker)) {
    body = `${marker}\n${body}`;
  }
  const r = await upsertMarkedComment(
    deps.client(),
    ctx.repo(),
    prNumber(i['pr-number'], deps.env),
    marker,
    body,
  );
  deps.log.info(`PR comment ${r.action}: ${r.url}`);
  return {
    outputs: { action: r.action, 'comment-url': r.url, verdict },
    summary: `PR comment ${r.action}: ${r.url}\n`,
  };
}
