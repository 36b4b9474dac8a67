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

describe('a transaction id target', () => {
  const bad = (value: string) => () => target({ 'target-xid': value });

  it('takes the 32-bit id and the 64-bit forms PostgreSQL accepts, keeping the 32 bits it compares', () => {
    expect(target({ 'target-xid': ' 1234 ' })).toEqual({ kind: 'xid', xid: 1234, text: '1234' });
    expect(target({ 'target-xid': '4294967295' })).toMatchObject({ xid: 4294967295 });
    // pg_current_xact_id() of epoch 1: recovery_target_xid drops the epoch.
    expect(target({ 'target-xid': String(2n ** 32n + 1234n) })).toEqual({
      kind: 'xid',
      xid: 1234,
      epoch: 1,
      text: '4294968530',
    });
    expect(target({ 'target-xid': '18446744073709551615' })).toMatchObject({
      xid: 4294967295,
      epoch: 4294967295,
    });
  });

  it('refuses hostile and impossible ids in one line naming the input', () => {
    expect(bad('12; DROP TABLE x')).toThrow(/^target-xid: "12; DROP TABLE x" is not a transaction id/);
    expect(bad("1234'\nrecovery_target_action = 'shutdown")).toThrow(/is not a transaction id/);
    expect(bad('-5')).toThrow(/is not a transaction id/);
    expect(bad('0x4d2')).toThrow(/is not a transaction id/);
    expect(bad('1e9')).toThrow(/is not a transaction id/);
    expect(bad('０１２')).toThrow(/is not a transaction id/);
    expect(bad('0777')).toThrow(/starts with 0, which PostgreSQL would read as octal/);
    expect(bad('18446744073709551616')).toThrow(/larger than a 64-bit transaction id/);
    expect(bad('9'.repeat(400))).toThrow(/is not a transaction id/);
    expect(bad('2')).toThrow(/a special transaction id \(0 invalid, 1 bootstrap, 2 frozen\)/);
    expect(bad('0')).toThrow(/special transaction id/);
    expect(bad(String(2n ** 32n + 1n))).toThrow(/transaction 1 of epoch 1, a special transaction id/);
    expect(() => target({ 'target-xid': '1234', 'target-name': 'x' })).toThrow(
      /more than one recovery target/,
    );
  });

  it('is proved by a stop line at that transaction, on the side inclusive asks, and contradicted otherwise', () => {
    const xid = target({ 'target-xid': '1234' });
    const after = 'recovery stopping after commit of transaction 1234, time 2026-12-01 12:00:00.000011+00';
    const before = 'recovery stopping before commit of transaction 1234, time 2026-12-01 12:00:00.000011+00';
    expect(proveFromLog(xid, true, { stopLine: after })).toMatchObject({
      holds: true,
      stoppedAt: '2026-12-01T12:00:00.000011Z',
    });
    expect(proveFromLog(xid, false, { stopLine: before })?.holds).toBe(true);
    expect(proveFromLog(xid, false, { stopLine: after })?.why).toBe(
      'the server stopped after transaction 1234, not before it',
    );
    expect(proveFromLog(xid, true, { stopLine: after.replace('1234', '12345') })?.why).toBe(
      'the server stopped at transaction 12345, not 1234',
    );
    expect(
      proveFromLog(xid, true, {
        stopLine: 'recovery stopping at restore point "x", time 2026-12-01 12:00:01+00',
      })?.why,
    ).toBe('the stop line names no transaction');
    // The epoch is dropped: the stop line names the 32-bit id.
    expect(proveFromLog(target({ 'target-xid': '4294968530' }), true, { stopLine: after })?.holds).toBe(true);
  });
});
