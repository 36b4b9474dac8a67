/**
 * "First Sunday of the month" for a scheduled drill. POSIX cron ORs day-of-month with day-of-week
 * (`0 6 1-7 * 0` fires on every day 1 to 7 AND every Sunday), so the caller schedules `0 6 * * 0`
 * and this guard lets only the first Sunday through. Every other scheduled run is a catch-up check:
 * when the first Sunday is past and no drill passed this month (GitHub drops scheduled runs under
 * load), one is dispatched. A run the guard skips is a success, not a failure.
 */

export const SUNDAY = 0;
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Day of the month (1-based, UTC) of the first `weekday` in the month of `date`. */
export function firstWeekdayOfMonth(date: Date, weekday = SUNDAY): number {
  const first = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1)).getUTCDay();
  return 1 + ((weekday - first + 7) % 7);
}

/** Day of month <= 7 on the right weekday: the first such weekday of the month. */
export function isFirstWeekdayOfMonth(date: Date, weekday = SUNDAY): boolean {
  return date.getUTCDay() === weekday && date.getUTCDate() <= 7;
}

export interface GuardInput {
  now: Date;
  /** GITHUB_EVENT_NAME of the run. */
  event: string;
  /** false: every run drills (the guard is off). */
  guard: boolean;
  /** false: never check for a missed drill. */
  catchUp: boolean;
  weekday?: number;
}

export interface GuardDecision {
  /** Drill in this run. */
  run: boolean;
  /** Look up this month's runs; dispatch a drill when none passed. */
  checkCatchUp: boolean;
  reason: string;
}

export function decideSchedule(i: GuardInput): GuardDecision {
  const weekday = i.weekday ?? SUNDAY;
  const name = WEEKDAYS[weekday] as string;
  const day = i.now.toISOString().slice(0, 10);
  if (i.event !== 'schedule') {
    return { run: true, checkCatchUp: false, reason: `a ${i.event} run always drills` };
  }
  if (!i.guard)
    return { run: true, checkCatchUp: false, reason: 'the guard is off: every scheduled run drills' };
  if (isFirstWeekdayOfMonth(i.now, weekday)) {
    return { run: true, checkCatchUp: false, reason: `${day} is the first ${name} of the month` };
  }
  const first = firstWeekdayOfMonth(i.now, weekday);
  const why = `${day} is not the first ${name} of the month (that is the ${ordinal(first)})`;
  if (i.catchUp && i.now.getUTCDate() > first) {
    return { run: false, checkCatchUp: true, reason: `${why}; checking that a drill passed this month` };
  }
  return { run: false, checkCatchUp: false, reason: `${why}: skipped, not failed` };
}

export interface CatchUpState {
  passed?: { url: string; at: string };
  pending?: { url: string };
}

/** After the month's runs were looked up: dispatch a drill only when none passed and none is on its way. */
export function decideCatchUp(state: CatchUpState): { dispatch: boolean; reason: string } {
  if (state.passed) return { dispatch: false, reason: `a drill passed this month (${state.passed.url})` };
  if (state.pending)
    return { dispatch: false, reason: `a drill is already on its way (${state.pending.url})` };
  return { dispatch: true, reason: 'no drill passed this month: dispatching one' };
}

function ordinal(n: number): string {
  const s =
    n % 10 === 1 && n !== 11
      ? 'st'
      : n % 10 === 2 && n !== 12
        ? 'nd'
        : n % 10 === 3 && n !== 13
          ? 'rd'
          : 'th';
  return `${n}${s}`;
}
