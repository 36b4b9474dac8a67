import { readInputs } from '../core/inputs.js';
import { type NotifyTargets, notify } from '../report/notify.js';
import { context, str, when } from './inputs.js';
import { MODES } from './modes/index.js';
import type { ReportDeps, ReportResult } from './modes/mode.js';
import { githubReportInputs, githubReportSpec } from './spec.js';

export type { ReportDeps, ReportResult } from './modes/mode.js';

/** The runner's variables a report reads: who, which run, which workflow and commit. */
export const RUNNER_VARIABLES = [
  'GITHUB_ACTOR',
  'GITHUB_EVENT_NAME',
  'GITHUB_EVENT_PATH',
  'GITHUB_REF',
  'GITHUB_REPOSITORY',
  'GITHUB_RUN_ID',
  'GITHUB_SERVER_URL',
  'GITHUB_SHA',
  'GITHUB_TRIGGERING_ACTOR',
  'GITHUB_WORKFLOW_REF',
] as const;

/**
 * The part of the environment a report sees: RUNNER_VARIABLES only. The job's other variables
 * (database passwords, cloud keys, a GITHUB_TOKEN set as env) never reach a mode, so none can be
 * echoed into an issue, a comment or a summary.
 */
export function runnerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const names: readonly string[] = RUNNER_VARIABLES;
  return Object.fromEntries(Object.entries(env).filter(([k]) => names.includes(k)));
}

/** Run one mode of the github-report action. Inputs are the action's, by name. */
export async function runReport(raw: Record<string, string>, given: ReportDeps): Promise<ReportResult> {
  const deps: ReportDeps = { ...given, env: runnerEnv(given.env) };
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
