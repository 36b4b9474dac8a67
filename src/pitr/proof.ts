/**
 * The recovery point, to the microsecond, and PostgreSQL's own proof of it.
 *
 * JavaScript's Date holds milliseconds; PostgreSQL's timestamps hold microseconds. A target equal
 * to a commit's exact time must keep its last three digits, or that commit is cut off. Times here
 * are BigInt microseconds since the epoch, beside their ISO text.
 */
import { type Finding, finding } from '../report/findings.js';
import type { PitrTarget } from './options.js';

/** Microseconds since the epoch of an ISO 8601 time with a zone, or a PostgreSQL log time (UTC, +hh, ...). */
export function parseMicros(text: string): bigint | undefined {
  const m =
    /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::(\d{2}))?(?:\.(\d{1,6}))?\s?(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i.exec(
      text.trim(),
    );
  if (!m) return undefined;
  let zone = (m[5] ?? 'Z').toUpperCase();
  if (zone === 'UTC' || zone === 'GMT') zone = 'Z';
  else if (/^[+-]\d{2}$/.test(zone)) zone = `${zone}:00`;
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${m[1]}T${m[2]}:${m[3] ?? '00'}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1000n + BigInt((m[4] ?? '').padEnd(6, '0') || '0');
}

/** 2026-12-01T12:00:00.123456Z: every digit kept, always six (so that the texts sort as the times). */
export function isoMicros(us: bigint): string {
  const secs = us / 1_000_000n;
  const frac = (us % 1_000_000n).toString().padStart(6, '0');
  const base = new Date(Number(secs) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return `${base}.${frac}Z`;
}

/** For recovery_target_time and pgBackRest's --target: 2026-12-01 12:00:00.123456+00. */
export function pgMicros(us: bigint): string {
  return isoMicros(us).replace('T', ' ').replace('Z', '+00');
}

/** What the recovered server's log says about where it stopped. */
export interface LogFacts {
  /** "recovery stopping before commit of transaction 123, time 2026-..." */
  stopLine?: string;
  /** The text after "last completed transaction was at log time". */
  lastCommit?: string;
}

/** The log's proof, for the report: the times on either side of the target. */
export interface LogProof {
  /** The stop line's own words. */
  stopLine: string;
  /** The first commit not replayed (time targets and the before-forms of the stop line); a transaction target's own. */
  stoppedAt?: string;
  /** The last commit replayed. */
  lastCommit?: string;
  holds: boolean;
  /** Why it does not hold, in one line. */
  why?: string;
}

/**
 * Does the log prove the target? A time target: the last replayed commit T' and the first one left
 * out T satisfy T' <= target < T (inclusive) or T' < target <= T (exclusive). A name: the server
 * stopped at that restore point. An LSN: it stopped at that location. A transaction: it stopped at
 * that transaction's record, after it (inclusive) or before it. Undefined when the log has no
 * stop line (nothing to prove with), or for target-immediate.
 */
export function proveFromLog(target: PitrTarget, inclusive: boolean, facts: LogFacts): LogProof | undefined {
  const line = facts.stopLine;
  if (!line || target.kind === 'immediate') return undefined;
  const last = facts.lastCommit ? parseMicros(facts.lastCommit) : undefined;
  const base = { stopLine: line, ...(last !== undefined ? { lastCommit: isoMicros(last) } : {}) };
  if (target.kind === 'name') {
    const at = /recovery stopping at restore point "(.*)", time (.+)$/.exec(line);
    const ok = at?.[1] === target.name;
    const when = at?.[2] ? parseMicros(at[2]) : undefined;
    return {
      ...base,
      ...(when !== undefined ? { stoppedAt: isoMicros(when) } : {}),
      holds: ok,
      ...(ok ? {} : { why: `the server did not stop at restore point "${target.name}"` }),
    };
  }
  if (target.kind === 'lsn') {
    const ok = /recovery stopping (before|after) WAL location \(LSN\)/.test(line);
    return { ...base, holds: ok, ...(ok ? {} : { why: 'the server did not stop at a WAL location' }) };
  }
  if (target.kind === 'xid') return proveXid(target.xid, inclusive, base);
  const m = /recovery stopping (before|after) (?:commit|abort) of transaction \d+, time (.+)$/.exec(line);
  const stop = m?.[2] ? parseMicros(m[2]) : undefined;
  if (!m || stop === undefined)
    return { ...base, holds: false, why: 'the stop line names no transaction and time' };
  const t = target.micros;
  const withStop = { ...base, stoppedAt: isoMicros(stop) };
  const beforeOk = m[1] === 'before' && (inclusive ? stop > t : stop >= t);
  const lastOk = last === undefined || (inclusive ? last <= t : last < t);
  if (beforeOk && lastOk) return { ...withStop, holds: true };
  return {
    ...withStop,
    holds: false,
    why: !beforeOk
      ? `the first commit left out (${isoMicros(stop)}) is not after the target (${isoMicros(t)})`
      : `the last replayed commit (${isoMicros(last as bigint)}) is after the target (${isoMicros(t)})`,
  };
}

/**
 * A transaction target: PostgreSQL stops only at that transaction's own commit (or abort) record,
 * after it when inclusive, before it when not; the stop line names the transaction and its time.
 */
function proveXid(
  xid: number,
  inclusive: boolean,
  base: { stopLine: string; lastCommit?: string },
): LogProof {
  const m = /recovery stopping (before|after) (?:commit|abort) of transaction (\d+), time (.+)$/.exec(
    base.stopLine,
  );
  if (!m) return { ...base, holds: false, why: 'the stop line names no transaction' };
  const when = parseMicros(m[3] ?? '');
  const withStop = { ...base, ...(when !== undefined ? { stoppedAt: isoMicros(when) } : {}) };
  const want = inclusive ? 'after' : 'before';
  if (m[2] !== String(xid))
    return { ...withStop, holds: false, why: `the server stopped at transaction ${m[2]}, not ${xid}` };
  if (m[1] !== want)
    return {
      ...withStop,
      holds: false,
      why: `the server stopped ${m[1]} transaction ${xid}, not ${want} it`,
    };
  return { ...withStop, holds: true };
}

/** The finding a proof that does not hold raises. */
export function wrongPointFinding(p: LogProof, targetText: string): Finding {
  return finding(
    'PITR_WRONG_POINT',
    'checks',
    `the server log contradicts the target ${targetText}: ${p.why}`,
    {
      evidence: { stopLine: p.stopLine, lastCommit: p.lastCommit ?? null, stoppedAt: p.stoppedAt ?? null },
    },
  );
}

/**
 * The recovery point objective achieved: how far before the target point (the target time, or the
 * restore point's time) the last replayed commit is, in seconds to the microsecond.
 */
export function rpoSeconds(target: PitrTarget, p: LogProof | undefined): number | undefined {
  if (!p?.holds || !p.lastCommit) return undefined;
  const point =
    target.kind === 'time'
      ? target.micros
      : target.kind === 'name' && p.stoppedAt
        ? parseMicros(p.stoppedAt)
        : undefined;
  const last = parseMicros(p.lastCommit);
  if (point === undefined || last === undefined) return undefined;
  return Number(point - last) / 1e6;
}

/**
 * What proves the target, in order of strength: checks with `asserts` (a planted marker's, or
 * pitr.checks), then the server log. A log that contradicts the target is PITR_WRONG_POINT; with
 * neither, PITR_UNASSERTED.
 */
export function targetFindings(
  proof: LogProof | undefined,
  asserted: (which: 'before-target' | 'after-target') => boolean,
  targetText: string,
): Finding[] {
  if (proof && !proof.holds) return [wrongPointFinding(proof, targetText)];
  const before = asserted('before-target');
  const after = asserted('after-target');
  if (proof?.holds || (before && after)) return [];
  return [
    finding(
      'PITR_UNASSERTED',
      'checks',
      `neither the server log nor a check proves ${!before ? 'a row from before the target exists' : ''}${!before && !after ? ' and ' : ''}${!after ? 'a row from after it is absent' : ''}`,
    ),
  ];
}

/** The log's time to the microsecond when it parses, else the Date's milliseconds. */
export function microsOrMs(logText: string | undefined, d: Date): string {
  const us = logText ? parseMicros(logText) : undefined;
  return us !== undefined ? isoMicros(us) : d.toISOString();
}
