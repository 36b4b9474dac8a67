import { UserError } from '../core/errors.js';

export const PITR_MODES = ['drill', 'side-by-side', 'in-place'] as const;
export type PitrMode = (typeof PITR_MODES)[number];

export interface PitrRequest {
  targetTime: string;
  mode: PitrMode;
  confirm: string;
  reason: string;
}

const TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?\s*(Z|UTC|[+-]\d{2}:?\d{2})$/i;

/**
 * Strict: a calendar date and time with an explicit zone (`Z`, `UTC` or `+02:00`). A time without
 * a zone is refused rather than guessed: at 3 a.m. the runner's zone and the database's differ.
 * Returns the instant as ISO 8601 UTC.
 */
export function parseTargetTime(input: string, value: string, now: Date): string {
  const text = value.trim();
  const m = TIME.exec(text);
  const fix =
    'Write a date, a time and a zone, for example 2026-04-29T14:30:00Z or 2026-04-29 16:30:00+02:00';
  if (!m) throw new UserError(input, `"${value}" is not a time with a zone`, fix);
  const [, y, mo, d, h, mi, s = '00', frac = '', zone = 'Z'] = m;
  const offset = /^(z|utc)$/i.test(zone)
    ? 'Z'
    : zone.length === 5
      ? `${zone.slice(0, 3)}:${zone.slice(3)}`
      : zone;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${offset}`;
  const t = Date.parse(iso);
  const back = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  const valid =
    Number.isFinite(t) &&
    back.getUTCFullYear() === Number(y) &&
    back.getUTCMonth() === Number(mo) - 1 &&
    back.getUTCDate() === Number(d) &&
    Number(h) < 24 &&
    Number(mi) < 60 &&
    Number(s) < 60;
  if (!valid) throw new UserError(input, `"${value}" is not a real date and time`, fix);
  if (t > now.getTime() + 60_000) {
    throw new UserError(
      input,
      `${new Date(t).toISOString()} is in the future`,
      'Recover to a moment that has happened',
    );
  }
  return new Date(t).toISOString();
}

/**
 * What a person typed into the PITR dispatch form, checked before anything else runs: the target
 * time, the mode, the confirmation an in-place restore needs (typed; pitr-restore checks it), and the
 * reason (the incident ticket) that anything but a drill needs.
 */
export function validatePitrRequest(
  raw: { targetTime?: string; mode?: string; confirm?: string; reason?: string; database: string },
  now: Date,
): PitrRequest {
  const mode = (raw.mode ?? 'drill').trim() as PitrMode;
  if (!PITR_MODES.includes(mode)) {
    throw new UserError('mode', `"${raw.mode}" is not one of ${PITR_MODES.join(', ')}`, 'Pick one of them');
  }
  if (!raw.targetTime?.trim()) {
    throw new UserError(
      'target_time',
      'is required',
      'Give the moment to recover to, just before the damage',
    );
  }
  const targetTime = parseTargetTime('target_time', raw.targetTime, now);
  const reason = (raw.reason ?? '').trim();
  if (/[\r\n]/.test(reason) || reason.length > 200) {
    throw new UserError('reason', 'must be one line of at most 200 characters', 'Give the incident ticket');
  }
  if (mode !== 'drill' && !reason) {
    throw new UserError('reason', `is required for ${mode}`, 'Give the incident ticket (e.g. INC-1234)');
  }
  const confirm = (raw.confirm ?? '').trim();
  if (mode === 'in-place' && !confirm) {
    throw new UserError(
      'confirm',
      `is empty, and an in-place restore replaces ${raw.database}`,
      "Type the cluster's system identifier (pg_controldata) or pitr.name from restorable.yml; pitr-restore checks it",
    );
  }
  return { targetTime, mode, confirm, reason };
}
