import { describe, expect, it } from 'vitest';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { isoMicros, parseMicros, pgMicros, proveFromLog, rpoSeconds } from '../../src/pitr/proof.js';

const target = (extra: Record<string, string>) =>
  parsePitrOptions({ 'base-backups': '/', 'wal-archive': '/', ...extra }, 'input').target;

describe('the recovery point to the microsecond', () => {
  it('keeps every digit of a target time, in any zone, and writes it back for PostgreSQL', () => {
    const t = target({ 'target-time': '2026-12-01T13:00:00.123456+01:00' });
    expect(t.kind === 'time' && isoMicros(t.micros)).toBe('2026-12-01T12:00:00.123456Z');
    expect(t.kind === 'time' && pgMicros(t.micros)).toBe('2026-12-01 12:00:00.123456+00');
    expect(parseMicros('2026-12-01 12:00:00.5+00')).toBe(parseMicros('2026-12-01T12:00:00.500000Z'));
    expect(isoMicros(parseMicros('2026-12-01 12:00:00 UTC') as bigint)).toBe('2026-12-01T12:00:00.000000Z');
  });

  it('reads the stop line of each target form, and says when it contradicts', () => {
    const time = target({ 'target-time': '2026-12-01T12:00:00.000010Z' });
    const stop = 'recovery stopping before commit of transaction 900, time 2026-12-01 12:00:00.000011+00';
    const last = '2026-12-01 12:00:00.000010+00';
    expect(proveFromLog(time, true, { stopLine: stop, lastCommit: last })?.holds).toBe(true);
    // Exclusive: the commit at the target itself must be left out.
    expect(proveFromLog(time, false, { stopLine: stop, lastCommit: last })?.holds).toBe(false);
    expect(rpoSeconds(time, proveFromLog(time, true, { stopLine: stop, lastCommit: last }))).toBe(0);
    const name = target({ 'target-name': 'before-deploy' });
    const at = 'recovery stopping at restore point "before-deploy", time 2026-12-01 12:00:01+00';
    expect(proveFromLog(name, true, { stopLine: at, lastCommit: last })?.holds).toBe(true);
    expect(rpoSeconds(name, proveFromLog(name, true, { stopLine: at, lastCommit: last }))).toBeCloseTo(
      0.99999,
      5,
    );
    const other = 'recovery stopping at restore point "other", time 2026-12-01 12:00:01+00';
    expect(proveFromLog(name, true, { stopLine: other })?.why).toMatch(
      /did not stop at restore point "before-deploy"/,
    );
    const lsn = target({ 'target-lsn': '0/3000060' });
    expect(
      proveFromLog(lsn, true, { stopLine: 'recovery stopping after WAL location (LSN) "0/3000060"' })?.holds,
    ).toBe(true);
    expect(
      proveFromLog(target({ 'target-immediate': 'true' }), true, {
        stopLine: 'recovery stopping after reaching consistency',
      }),
    ).toBeUndefined();
    expect(proveFromLog(time, true, {})).toBeUndefined();
  });
});
