import { str } from '../inputs.js';
import { validatePitrRequest } from '../pitr-request.js';
import type { ModeRun, ReportResult } from './mode.js';

/**
 * A PITR request checked before anything runs: its target time, mode and reason. Its summary is
 * what the approver reads while the restore job waits: every value the restore will act on, as
 * typed (the commands in code blocks no text of theirs can close), and the caller's ref and commit.
 */
export async function pitrRequest({ i, deps, database }: ModeRun): Promise<ReportResult> {
  const req = validatePitrRequest(
    {
      database,
      ...(i['target-time'] !== undefined ? { targetTime: i['target-time'] } : {}),
      ...(i['restore-mode'] !== undefined ? { mode: i['restore-mode'] } : {}),
      ...(i.confirm !== undefined ? { confirm: i.confirm } : {}),
      ...(i.reason !== undefined ? { reason: i.reason } : {}),
    },
    deps.now,
  );
  const env = deps.env;
  const rows: [string, string | undefined][] = [
    ['database', database],
    ['target time', req.targetTime],
    ['mode', req.mode],
    ['reason', req.reason || undefined],
    ['requested by', `@${env.GITHUB_TRIGGERING_ACTOR ?? env.GITHUB_ACTOR ?? '?'}`],
    ['caller', env.GITHUB_WORKFLOW_REF],
    ['caller ref', env.GITHUB_REF],
    ['caller commit', env.GITHUB_SHA],
  ];
  const inPlace: [string, string | undefined][] =
    req.mode === 'in-place'
      ? [
          ['data directory (replaced)', str(i['data-directory'])],
          ['stop command', str(i['stop-command'])],
          ['start command', str(i['start-command'])],
        ]
      : [];
  const table = [...rows, ...inPlace].map(([k, v]) => `| ${k} | ${v === undefined ? '—' : code(v)} |`);
  const blocks = inPlace
    .filter(([, v]) => v?.includes('\n'))
    .map(([k, v]) => `\n**${k}**\n\n${fence(v as string)}`);
  return {
    outputs: { 'target-time': req.targetTime, reason: req.reason },
    summary: `### PITR request\n\nWhat the restore will run, for the approver:\n\n| | |\n|---|---|\n${table.join('\n')}\n${blocks.join('\n')}`,
  };
}

/** A value as one inline code span: longer backtick runs than any inside, `|` escaped for the table. */
function code(v: string): string {
  const oneLine = v.includes('\n') ? `${v.split('\n')[0]} … (in full below)` : v;
  const ticks = '`'.repeat(longestRun(oneLine) + 1);
  return `${ticks} ${oneLine.replace(/\|/g, '\\|')} ${ticks}`;
}

/** A multi-line value as a fenced block that no line of it can close. */
function fence(v: string): string {
  const ticks = '`'.repeat(Math.max(3, longestRun(v) + 1));
  return `${ticks}sh\n${v}\n${ticks}\n`;
}

const longestRun = (v: string) => Math.max(0, ...[...v.matchAll(/`+/g)].map((m) => m[0].length));
