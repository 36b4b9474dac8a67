import { UserError } from '../../core/errors.js';
import { notify } from '../../report/notify.js';
import { str } from '../inputs.js';
import type { ModeRun, ReportResult } from './mode.js';

/** A message to the webhook and Telegram, when either is set. */
export async function notifyMode({ i, deps, targets }: ModeRun): Promise<ReportResult> {
  const text = str(i.body);
  if (!text) throw new UserError('body', 'is required for notify', 'Give the message');
  if (!targets.webhookUrl && !targets.telegramToken) {
    deps.log.info('no webhook-url or telegram-token: nothing to notify');
    return { outputs: { action: 'none' }, summary: '' };
  }
  const results = await notify(targets, text, deps.log, deps.fetchImpl);
  return {
    outputs: { action: results.every((r) => r.ok) ? 'notified' : 'failed' },
    summary: results.map((r) => `- ${r.channel}: ${r.ok ? 'sent' : 'failed'} (${r.detail})`).join('\n'),
  };
}
