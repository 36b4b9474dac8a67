import type { ProgressDetail, StageListener, StageResult } from './stages.js';

/** Where progress goes: whole lines (a CI log), or one line redrawn in place (a terminal). */
export interface ProgressOut {
  /** Print a line (without its newline). */
  line(text: string): void;
  /** On a terminal: replace the live line with this text (cut to the terminal's width). */
  redraw?: (text: string) => void;
  /** On a terminal: remove the live line. */
  clear?: () => void;
}

/** How often a log gets a progress line of a running stage. */
export const LOG_INTERVAL_MS = 10_000;
/** How often a terminal's live line is redrawn (more often when the log's interval is shorter). */
const LIVE_INTERVAL_MS = 1000;

/**
 * The interval of progress lines in a log: RESTORABLE_PROGRESS_INTERVAL_MS when it is a whole
 * number of at least 100 ms (tests shorten it), else every 10 s.
 */
export function progressIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RESTORABLE_PROGRESS_INTERVAL_MS?.trim() ?? '';
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
  return n >= 100 ? n : LOG_INTERVAL_MS;
}

/** The detail, or nothing when the stage has none yet (or asking it failed: progress never breaks a run). */
function ask(detail: ProgressDetail): string | undefined {
  try {
    return detail();
  } catch {
    return undefined;
  }
}

/**
 * The one stage-progress listener, for the terminal and the action's log alike: a line per stage as
 * it ends (`ended`), and while a stage runs, what it has done so far with its elapsed time: on a
 * terminal one live line redrawn every second (every `intervalMs` when that is shorter), in a log
 * a line every `intervalMs`.
 */
export function stageProgress(
  out: ProgressOut,
  ended: (s: StageResult) => string,
  intervalMs = progressIntervalMs(),
): StageListener {
  let timer: NodeJS.Timeout | undefined;
  let drawn = false;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    if (drawn) out.clear?.();
    drawn = false;
  };
  const end = (s: StageResult) => {
    stop();
    out.line(ended(s));
  };
  return Object.assign(end, {
    start: (name: string, detail: ProgressDetail) => {
      stop();
      const t0 = Date.now();
      const text = () => {
        const seconds = ((Date.now() - t0) / 1000).toFixed(0);
        return `▸ ${name.padEnd(10)} ${seconds.padStart(6)}s  ${ask(detail) ?? 'running'}`;
      };
      if (out.redraw) {
        const redraw = out.redraw;
        const draw = () => {
          redraw(text());
          drawn = true;
        };
        draw();
        timer = setInterval(draw, Math.min(LIVE_INTERVAL_MS, intervalMs));
      } else timer = setInterval(() => out.line(text()), intervalMs);
      timer.unref();
    },
  });
}
