import { UserError } from './errors.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * Parse a duration such as `26h`, `90m`, `7d`, `1h30m` or `45s` into seconds. Bare numbers are
 * refused: `26` could be hours or seconds, and a guess here decides whether a backup is too old.
 */
export function parseDuration(input: string, value: string): number {
  const text = value.trim().toLowerCase();
  const re = /(\d+(?:\.\d+)?)\s*([smhdw])/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    matched = re.lastIndex;
  }
  if (text === '' || matched !== text.length || total <= 0) {
    throw new UserError(
      input,
      `"${value}" is not a duration`,
      'Write a number with a unit: s, m, h, d or w, for example 26h, 90m, 7d or 1h30m',
    );
  }
  return total;
}

/**
 * A threshold in seconds: the input's name says seconds, so a bare number is seconds; a duration
 * with a unit (90s, 10m) is read as one; `off` turns the check off.
 */
export function parseSeconds(input: string, value: string | undefined): number | undefined {
  const text = (value ?? '').trim().toLowerCase();
  if (text === '' || text === 'off' || text === 'none') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    if (n > 0) return n;
    throw new UserError(input, `"${value}" is not above zero`, 'Give a number of seconds, e.g. 5, or off');
  }
  return parseDuration(input, text);
}

export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(2)}s`;
  if (seconds < 120) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 120) return `${m}m${String(s).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Now as a compact UTC stamp for names (20261121T093000). */
export function timeStamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
}
