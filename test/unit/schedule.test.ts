import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { parseTargetTime, validatePitrRequest } from '../../src/github/pitr-request.js';
import {
  decideCatchUp,
  decideSchedule,
  firstWeekdayOfMonth,
  isFirstWeekdayOfMonth,
} from '../../src/github/schedule.js';
import { incidentMetrics, incidentRecord, SEED_TARGETS } from '../../src/report/incident.js';

const at = (iso: string) => new Date(`${iso}T06:00:00Z`);
const scheduled = (iso: string, more: Partial<Parameters<typeof decideSchedule>[0]> = {}) =>
  decideSchedule({ now: at(iso), event: 'schedule', guard: true, catchUp: true, ...more });

describe('the first-Sunday guard', () => {
  it.each([
    ['2026-11-01', true], // a Sunday, the 1st
    ['2026-11-08', false], // the second Sunday
    ['2026-03-01', true],
    ['2026-02-01', true],
    ['2026-08-02', true],
    ['2026-08-09', false],
    ['2026-05-03', true],
    ['2026-05-07', false], // day <= 7 but a Thursday: cron `1-7 * 0` would have fired here
    ['2026-06-07', true], // the 7th, a Sunday: still the first
    ['2026-06-14', false],
  ])('%s is the first Sunday: %s', (day, expected) => {
    expect(isFirstWeekdayOfMonth(at(day))).toBe(expected);
    expect(scheduled(day).run).toBe(expected);
  });

  it('finds the first Sunday of a month', () => {
    expect(firstWeekdayOfMonth(at('2026-11-20'))).toBe(1);
    expect(firstWeekdayOfMonth(at('2026-06-20'))).toBe(7);
    expect(firstWeekdayOfMonth(at('2026-09-20'))).toBe(6);
  });

  it('a skipped Sunday is a skip, not a failure, and says why', () => {
    const d = scheduled('2026-11-15', { catchUp: false });
    expect(d).toEqual({
      run: false,
      checkCatchUp: false,
      reason: '2026-11-15 is not the first Sunday of the month (that is the 1st): skipped, not failed',
    });
  });

  it('uses UTC: late Saturday in New York is already the first Sunday', () => {
    const d = decideSchedule({
      now: new Date('2026-11-01T03:30:00Z'),
      event: 'schedule',
      guard: true,
      catchUp: true,
    });
    expect(d.run).toBe(true);
  });

  it('a dispatched or called run always drills; the guard can be switched off', () => {
    expect(
      decideSchedule({ now: at('2026-11-15'), event: 'workflow_dispatch', guard: true, catchUp: true }).run,
    ).toBe(true);
    expect(scheduled('2026-11-15', { guard: false }).run).toBe(true);
  });

  it('a later scheduled run checks for a catch-up; a run before the first Sunday does not', () => {
    expect(scheduled('2026-11-15')).toMatchObject({ run: false, checkCatchUp: true });
    // The month starts on a Tuesday: the 6th is the first Sunday; a Saturday cron on the 5th waits.
    expect(scheduled('2026-09-05')).toMatchObject({ run: false, checkCatchUp: false });
  });

  it('dispatches a catch-up only when no drill passed and none is on its way', () => {
    expect(decideCatchUp({}).dispatch).toBe(true);
    expect(decideCatchUp({ passed: { url: 'u', at: 't' } }).dispatch).toBe(false);
    expect(decideCatchUp({ pending: { url: 'u' } }).dispatch).toBe(false);
  });
});

describe('the PITR request', () => {
  const now = new Date('2026-04-29T15:00:00Z');
  it.each([
    ['2026-04-29T14:30:00Z', '2026-04-29T14:30:00.000Z'],
    ['2026-04-29 16:30:00+02:00', '2026-04-29T14:30:00.000Z'],
    ['2026-04-29T14:30Z', '2026-04-29T14:30:00.000Z'],
    ['2026-04-29 14:30:01.25 UTC', '2026-04-29T14:30:01.250Z'],
    ['2026-04-29T09:30:00-0500', '2026-04-29T14:30:00.000Z'],
  ])('%s is %s', (text, iso) => expect(parseTargetTime('target_time', text, now)).toBe(iso));

  it.each([
    ['2026-04-29 14:30:00', /not a time with a zone/],
    ['yesterday', /not a time with a zone/],
    ['2026-02-30T10:00:00Z', /not a real date and time/],
    ['2026-04-29T24:10:00Z', /not a real date and time/],
    ['2026-04-30T10:00:00Z', /is in the future/],
    ['2026-04-29T14:30:00Z; rm -rf /', /not a time with a zone/],
  ])('%j is refused', (text, re) => {
    expect(() => parseTargetTime('target_time', text, now)).toThrow(UserError);
    expect(() => parseTargetTime('target_time', text, now)).toThrow(re);
  });

  it('mode, the typed confirmation for in-place, and a reason unless drill', () => {
    const ok = { targetTime: '2026-04-29T14:30:00Z', database: 'app' };
    expect(validatePitrRequest({ ...ok, mode: 'drill' }, now).mode).toBe('drill');
    expect(() => validatePitrRequest({ ...ok, mode: 'replace' }, now)).toThrow(
      /mode: "replace" is not one of/,
    );
    expect(() => validatePitrRequest({ ...ok, mode: 'side-by-side' }, now)).toThrow(/reason: is required/);
    expect(() => validatePitrRequest({ ...ok, mode: 'in-place', reason: 'INC-1' }, now)).toThrow(
      /confirm: is empty, and an in-place restore replaces app/,
    );
    expect(
      validatePitrRequest({ ...ok, mode: 'in-place', reason: 'INC-1', confirm: 'app' }, now),
    ).toMatchObject({
      mode: 'in-place',
      reason: 'INC-1',
    });
    expect(() => validatePitrRequest({ ...ok, mode: 'drill', reason: 'a\nb' }, now)).toThrow(/one line/);
  });
});

describe('the incident record', () => {
  const base = {
    database: 'app_production',
    mode: 'side-by-side',
    reason: 'INC-42',
    requestedBy: 'oncall',
    runUrl: 'https://github.example/o/r/actions/runs/7',
    target: '2026-04-29T14:30:00.000Z',
    damageAt: '2026-04-29T14:30:00.000Z',
    dispatchedAt: '2026-04-29T14:34:00Z',
    planFinishedAt: '2026-04-29T14:36:00Z',
    restoreStartedAt: '2026-04-29T14:45:00Z',
    restoreFinishedAt: '2026-04-29T15:03:00Z',
    verifyFinishedAt: '2026-04-29T15:08:00Z',
    approvals: [{ state: 'approved', user: 'lead', comment: 'go', environments: ['production-restore'] }],
    restore: { verdict: 'pass', recoveredTo: '2026-04-29T14:29:58Z', totalSeconds: 1080, replaySeconds: 300 },
    verify: { verdict: 'pass' },
    findings: [],
    targets: SEED_TARGETS,
  };
  it('measures detection, decision (the approval wait), restore, verification, RTO and data loss', () => {
    const m = Object.fromEntries(incidentMetrics(base).map((x) => [x.metric, x.actual]));
    expect(m).toEqual({
      Detection: 240,
      'Decision (approval wait)': 540,
      Restore: 1080,
      Verification: 300,
      'Total RTO': 2280,
      'Data loss window': 902,
    });
  });
  it('names who signed off, and says whether the RPO was met', () => {
    const md = incidentRecord(base);
    expect(md).toContain('| signed off by | @lead (production-restore): "go" |');
    expect(md).toMatch(/\| Data loss window \| 15m00s \| 15m02s .*\| ❌ over \|/);
    expect(md).toContain('| RPO met | Yes | No | ❌ |');
    expect(md).toContain('| Restore | 20m00s | 18m00s (WAL replay 5m00s) | ✅ |');
  });
});
