import { UserError } from '../core/errors.js';
import { resolveInputs } from '../core/spec.js';
import { type NotifyTargets, notify } from '../report/notify.js';
import { context, str } from './inputs.js';
import { MODES } from './modes/index.js';
import type { ReportDeps, ReportResult } from './modes/mode.js';
import { githubReportSpec } from './spec.js';

export const REPORT_MODES = [
  'guard',
  'dispatch',
  'drill-issue',
  'pr-comment',
  'pitr-request',
  'environment-check',
  'incident',
  'notify',
  'last-artifact',
] as const;
export type ReportMode = (typeof REPORT_MODES)[number];

export type { ReportDeps, ReportResult } from './modes/mode.js';

/** Run one mode of the github-report action. Inputs are the action's, by name. */
export async function runReport(raw: Record<string, string>, deps: ReportDeps): Promise<ReportResult> {
  const i = resolveInputs(githubReportSpec, raw, 'input');
  const mode = i.mode as ReportMode;
  if (!REPORT_MODES.includes(mode)) {
    throw new UserError('mode', `"${i.mode}" is not a mode`, `Use one of: ${REPORT_MODES.join(', ')}`);
  }
  const ctx = context(deps.env);
  const targets: NotifyTargets = {
    ...(str(i['webhook-url']) ? { webhookUrl: str(i['webhook-url']) as string } : {}),
    ...(str(i['telegram-token']) ? { telegramToken: str(i['telegram-token']) as string } : {}),
    ...(str(i['telegram-chat-id']) ? { telegramChatId: str(i['telegram-chat-id']) as string } : {}),
    ...(str(i['telegram-api-url']) ? { telegramApiUrl: str(i['telegram-api-url']) as string } : {}),
  };
  if (targets.webhookUrl) deps.log.secret(targets.webhookUrl);
  if (targets.telegramToken) deps.log.secret(targets.telegramToken);
  const notifyOn = i['notify-on'] ?? 'always';
  if (!['always', 'failure', 'never'].includes(notifyOn)) {
    throw new UserError('notify-on', `"${notifyOn}" is not always, failure or never`, 'Pick one of them');
  }
  const send = async (text: string, problem: boolean) => {
    if (notifyOn === 'never' || (notifyOn === 'failure' && !problem)) return;
    if (!targets.webhookUrl && !targets.telegramToken) return;
    await notify(targets, text, deps.log, deps.fetchImpl);
  };
  const database = str(i.database) ?? 'database';

  return MODES[mode]({ i, deps, ctx, targets, send, database });
}
