import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';

/**
 * Notifications, as in the seeds' runbooks: a Slack-compatible incoming webhook (Slack, Mattermost,
 * Rocket.Chat, Discord's /slack endpoint: JSON `{ "text": ... }`) and a Telegram bot's sendMessage.
 * The webhook URL and the bot token are secrets: registered with the logger before anything is
 * sent, and never part of a message, an error or a result (failures say which channel and the
 * HTTP status, nothing else).
 */
export interface NotifyTargets {
  webhookUrl?: string;
  telegramToken?: string;
  telegramChatId?: string;
  /** For tests and self-hosted Bot API servers. */
  telegramApiUrl?: string;
}

export interface NotifyResult {
  channel: 'webhook' | 'telegram';
  ok: boolean;
  detail: string;
}

export const TELEGRAM_API = 'https://api.telegram.org';

export async function notify(
  targets: NotifyTargets,
  text: string,
  log: Logger,
  fetchImpl: typeof fetch = fetch,
): Promise<NotifyResult[]> {
  const secrets = [targets.webhookUrl, targets.telegramToken].filter((s): s is string => !!s);
  for (const s of secrets) log.secret(s);
  const scrub = (m: string) => secrets.reduce((acc, s) => acc.split(s).join('***'), m);
  const out: NotifyResult[] = [];
  const post = async (channel: NotifyResult['channel'], url: string, body: unknown) => {
    try {
      const res = await fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      await res.arrayBuffer();
      out.push({ channel, ok: res.ok, detail: `HTTP ${res.status}` });
    } catch (e) {
      out.push({ channel, ok: false, detail: scrub(errorMessage(e)) });
    }
  };
  if (targets.webhookUrl) await post('webhook', targets.webhookUrl, { text });
  if (targets.telegramToken) {
    if (!targets.telegramChatId) {
      out.push({ channel: 'telegram', ok: false, detail: 'telegram-chat-id is not set' });
    } else {
      const base = (targets.telegramApiUrl ?? TELEGRAM_API).replace(/\/+$/, '');
      await post('telegram', `${base}/bot${targets.telegramToken}/sendMessage`, {
        chat_id: targets.telegramChatId,
        text,
        disable_web_page_preview: true,
      });
    }
  }
  for (const r of out) {
    if (r.ok) log.info(`notified by ${r.channel} (${r.detail})`);
    else log.warn(`the ${r.channel} notification failed: ${r.detail}`);
  }
  return out;
}
