import { UserError } from '../core/errors.js';
import { globRegExp } from '../core/glob.js';
import type { BackupObject } from './types.js';

/** A pattern without a slash matches the file name in any folder, as in .gitignore. */
export function matcher(pattern: string, input = 'pattern'): (name: string) => boolean {
  const re = globRegExp(pattern, input);
  if (pattern.includes('/')) return (name) => re.test(name);
  return (name) => re.test(name.slice(name.lastIndexOf('/') + 1));
}

/** A dump's names, bare or in whole-file compression (gzip, zstd, lz4, xz, bzip2). */
const DUMP_NAME = /\.(dump|backup|pgdump|sql|bak|tar|gz|zst|lz4|xz|bz2)$/i;
const SIDECAR = /\.(sha256|sha256sum|md5|md5sum|json|log|txt)$|(^|\/)schema\.sql$/i;

/** What counts as a backup when no pattern is given: dumps by name, and directory-format dumps. */
export function looksLikeBackup(o: BackupObject): boolean {
  if (o.kind === 'directory') return true;
  return DUMP_NAME.test(o.name) && !SIDECAR.test(o.name);
}

/**
 * The time a backup's name gives, in UTC: `20260522-120000`, `20240418_000000`,
 * `2026-11-01T03-15-00Z`, `20260429_1430`, or a bare date. The last one in the path wins.
 */
export function timestampInName(name: string): Date | undefined {
  const re =
    /(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?:[T_ -]?(\d{2})[:-]?(\d{2})(?:[:-]?(\d{2}))?(?:\.\d+)?Z?)?(?!\d)/g;
  let found: Date | undefined;
  for (const m of name.matchAll(re)) {
    const [y, mo, d, h = '0', mi = '0', s = '0'] = m.slice(1).map((x) => x ?? undefined) as string[];
    const nums = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
    const [Y, M, D, H, MI, S] = nums;
    if (Y < 1990 || Y > 2200 || M < 1 || M > 12 || D < 1 || D > 31 || H > 23 || MI > 59 || S > 59) continue;
    found = new Date(Date.UTC(Y, M - 1, D, H, MI, S));
  }
  return found;
}

export interface Candidate extends BackupObject {
  /** The backup's time: from its name when the name has one, else its modification time. */
  time: Date;
  timeFrom: 'name' | 'modified';
}

/** Backups under the source, newest first; `pattern` is the glob the user gave as `input`. */
export function candidates(
  objects: BackupObject[],
  pattern: string | undefined,
  input = 'pattern',
): Candidate[] {
  const match = pattern ? matcher(pattern, input) : undefined;
  return objects
    .filter((o) => (match ? match(o.name) && !SIDECAR.test(o.name) : looksLikeBackup(o)))
    .map((o) => {
      const t = timestampInName(o.name);
      return { ...o, time: t ?? o.modified, timeFrom: t ? ('name' as const) : ('modified' as const) };
    })
    .sort((a, b) => b.time.getTime() - a.time.getTime() || (a.name < b.name ? 1 : -1));
}

/** `latest` or an exact name (or the name's last part, when that is unique). */
export function choose(list: Candidate[], select: string): Candidate | undefined {
  if (select === 'latest') return list[0];
  const exact = list.find((c) => c.name === select);
  if (exact) return exact;
  const byBase = list.filter((c) => c.name.split('/').pop() === select);
  return byBase.length === 1 ? byBase[0] : undefined;
}

/** `hourly=24,daily=7,weekly=4` */
export function parseExpect(input: string, value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z][\w-]*)\s*=\s*(\d+)$/.exec(part);
    if (!m) {
      throw new UserError(
        input,
        `"${part}" is not tier=count`,
        'Write it as tier=count pairs: hourly=24,daily=7,weekly=4',
      );
    }
    out[(m[1] as string).toLowerCase()] = Number(m[2]);
  }
  return out;
}

/** How many backups each tier holds: a tier is a word in the path (a `daily/` folder, `_daily_`). */
export function countTiers(list: BackupObject[], tiers: string[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(tiers.map((t) => [t, 0]));
  for (const o of list) {
    const words = new Set(o.name.toLowerCase().split(/[/_.\-\s]+/));
    for (const t of tiers) if (words.has(t)) counts[t] = (counts[t] ?? 0) + 1;
  }
  return counts;
}
