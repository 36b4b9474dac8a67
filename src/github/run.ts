import { readInputs } from '../core/inputs.js';
import { type NotifyTargets, notify } from '../report/notify.js';
import { context, str, when } from './inputs.js';
import { MODES } from './modes/index.js';
import type { ReportDeps, ReportResult } from './modes/mode.js';
import { githubReportInputs, githubReportSpec } from './spec.js';

export type { ReportDeps, ReportResult } from './modes/mode.js';

/** Run one mode of the github-report action. Inputs are the action's, by name. */
export async function runReport(raw: Record<string, string>, deps: ReportDeps): Promise<ReportResult> {
  const i = readInputs(githubReportSpec.command, githubReportInputs, raw, 'input');
  const mode = i.mode;
  const ctx = context(deps.env);
  const targets: NotifyTargets = {
    ...when(str(i['webhook-url']), (webhookUrl) => ({ webhookUrl })),
    ...when(str(i['telegram-token']), (telegramToken) => ({ telegramToken })),
    ...when(str(i['telegram-chat-id']), (telegramChatId) => ({ telegramChatId })),
    ...when(str(i['telegram-api-url']), (telegramApiUrl) => ({ telegramApiUrl })),
  };
  if (targets.webhookUrl) deps.log.secret(targets.webhookUrl);
  if (targets.telegramToken) deps.log.secret(targets.telegramToken);
  const notifyOn = i['notify-on'];
  const send = async (text: string, problem: boolean) => {
    if (notifyOn === 'never' || (notifyOn === 'failure' && !problem)) return;
    if (!targets.webhookUrl && !targets.telegramToken) return;
    await notify(targets, text, deps.log, deps.fetchImpl);
  };
  const database = str(i.database) ?? 'database';

  return MODES[mode]({ i, deps, ctx, targets, send, database });
}
