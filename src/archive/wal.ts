/**
 * WAL names, LSNs and the small text files PostgreSQL archives beside the segments
 * (`<segment>.<offset>.backup` and `<tli>.history`).
 */

export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;

/** `0/3000028` → 0x3000028n; undefined when it is not an LSN. */
export function parseLsn(text: string): bigint | undefined {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

export interface SegmentId {
  tli: number;
  segno: bigint;
}

/** `000000010000000000000003` → { tli: 1, segno: 3 } (for the given segment size). */
export function parseSegmentName(name: string, segSize = DEFAULT_SEGMENT_SIZE): SegmentId | undefined {
  const m = SEGMENT.exec(name);
  if (!m) return undefined;
  const perId = 0x100000000n / BigInt(segSize);
  return {
    tli: Number.parseInt(m[1] as string, 16),
    segno: BigInt(`0x${m[2]}`) * perId + BigInt(`0x${m[3]}`),
  };
}

const hex8 = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');

export function segmentName(tli: number, segno: bigint, segSize = DEFAULT_SEGMENT_SIZE): string {
  const perId = 0x100000000n / BigInt(segSize);
  return `${hex8(tli)}${hex8(segno / perId)}${hex8(segno % perId)}`;
}

export function segmentOf(lsn: bigint, segSize = DEFAULT_SEGMENT_SIZE): bigint {
  return lsn / BigInt(segSize);
}

/** What pg_backup_stop writes to the archive as `<segment>.<offset>.backup`. */
export interface BackupHistory {
  startLsn: bigint;
  stopLsn?: bigint;
  startTime?: Date;
  stopTime?: Date;
  label?: string;
  timeline?: number;
}

/** PostgreSQL writes these times as `2026-11-21 10:15:00 UTC` (or with another zone abbreviation). */
export function parsePgTime(text: string): Date | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?(?: ?([A-Z]{2,5}|[+-]\d{2}(?::?\d{2})?))?$/.exec(
    text.trim(),
  );
  if (!m) return undefined;
  const zone = m[4];
  const offset = !zone || zone === 'UTC' || zone === 'GMT' ? 'Z' : /^[+-]/.test(zone) ? zone : undefined;
  if (!offset) return undefined;
  const iso = `${m[1]}T${m[2]}${m[3] ?? ''}${offset.length === 3 ? `${offset}:00` : offset}`;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Parse a backup history file or a backup_label: `KEY: value` lines. */
export function parseBackupHistory(text: string): BackupHistory | undefined {
  const field = (key: string) => new RegExp(`^${key}: (.*)$`, 'm').exec(text)?.[1]?.trim();
  const start = /^([0-9A-F]+\/[0-9A-F]+)/i.exec(field('START WAL LOCATION') ?? '')?.[1];
  const startLsn = start ? parseLsn(start) : undefined;
  if (startLsn === undefined) return undefined;
  const stop = /^([0-9A-F]+\/[0-9A-F]+)/i.exec(field('STOP WAL LOCATION') ?? '')?.[1];
  const stopLsn = stop ? parseLsn(stop) : undefined;
  const startTime = parsePgTime(field('START TIME') ?? '');
  const stopTime = parsePgTime(field('STOP TIME') ?? '');
  const tli = field('START TIMELINE');
  const label = field('LABEL');
  return {
    startLsn,
    ...(stopLsn !== undefined ? { stopLsn } : {}),
    ...(startTime ? { startTime } : {}),
    ...(stopTime ? { stopTime } : {}),
    ...(label ? { label } : {}),
    ...(tli ? { timeline: Number(tli) } : {}),
  };
}

/** One line of a timeline history file: timeline `tli` ended (switched to the next) at `switchLsn`. */
export interface TimelineSwitch {
  tli: number;
  switchLsn: bigint;
}

export function parseTimelineHistory(text: string): TimelineSwitch[] {
  const out: TimelineSwitch[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    const lsn = m ? parseLsn(m[2] as string) : undefined;
    if (m && lsn !== undefined) out.push({ tli: Number(m[1]), switchLsn: lsn });
  }
  return out;
}

/**
 * The timeline PostgreSQL reads segment `segno` from when it follows `history` (the switches that led
 * to timeline `last`): the newest timeline that had begun by the end of that segment.
 */
export function timelineFor(
  segno: bigint,
  history: TimelineSwitch[],
  last: number,
  segSize = DEFAULT_SEGMENT_SIZE,
): number {
  let tli = last;
  for (let i = history.length - 1; i >= 0; i--) {
    const sw = history[i] as TimelineSwitch;
    // Timeline sw.tli + 1 begins at sw.switchLsn; before that segment, the older one holds the WAL.
    if (segno < segmentOf(sw.switchLsn, segSize)) tli = sw.tli;
  }
  return tli;
}
