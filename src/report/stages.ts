import { errorMessage, UserError } from '../core/errors.js';
import { atLeast, type Finding, ruleKind, type Severity } from './findings.js';
import type { Reportable } from './render.js';

export type StageStatus = 'ok' | 'failed' | 'skipped' | 'not-run';

export interface StageResult {
  name: string;
  status: StageStatus;
  seconds: number;
  /** Why a stage was skipped, why it could not run, or the note of one that ran. */
  reason?: string;
  findings: Finding[];
}

export type Verdict = 'pass' | 'fail' | 'could-not-verify';

/**
 * What the running stage has done so far, as a few words (`read 1.2 GiB of 4.0 GiB`), or nothing
 * yet. Asked only when a progress line is drawn: it reads counters the stage keeps, never does work.
 */
export type ProgressDetail = () => string | undefined;

/**
 * Told of each stage as it ends, and (when it has `start`) as it begins, with how to ask what the
 * stage has done so far, for live progress (report/progress.ts).
 */
export type StageListener = ((s: StageResult) => void) & {
  start?: (name: string, detail: ProgressDetail) => void;
};

/** What a stage body returns: its findings, and optionally that it could not run (and why). */
export interface StageOutcome {
  findings?: Finding[];
  notRun?: string;
  /** What a stage that ran has to say beside its status (the checksum stage: `none found`). */
  note?: string;
  /**
   * Seconds of the stage's own work done before it began, overlapping the stages before it (a
   * drill's target started while the backup is read): counted in its time, which is its own.
   */
  earlier?: number;
}

/**
 * A pipeline is a list of timed stages. Each ends ok, failed, skipped (with the reason) or not-run;
 * the report is built from this list alone, so every rendering tells the same story.
 */
export class Pipeline {
  readonly stages: StageResult[] = [];
  readonly started = Date.now();
  /** The running stage's progress, as its body set it (see `progress`). */
  private detail: ProgressDetail | undefined;

  constructor(
    private readonly failOn: Severity,
    private readonly onStage: StageListener = () => {},
    /** Rules ignored in config, with their written reasons: marked as they are found. */
    private readonly ignore: ReadonlyMap<string, string> = new Map(),
  ) {}

  async stage(name: string, body: () => Promise<StageOutcome | undefined>): Promise<StageResult> {
    const started = performance.now();
    this.detail = undefined;
    this.onStage.start?.(name, () => this.detail?.());
    let result: StageResult;
    let earlier = 0;
    try {
      const out = (await body()) ?? {};
      const findings = out.findings ?? [];
      for (const f of findings) {
        const why = this.ignore.get(f.rule);
        if (why) f.ignored = why;
      }
      const failing = findings.some((f) => !f.ignored && atLeast(f.severity, this.failOn));
      const status: StageStatus = out.notRun ? 'not-run' : failing ? 'failed' : 'ok';
      const reason = out.notRun ?? out.note;
      earlier = out.earlier ?? 0;
      result = { name, status, seconds: 0, findings, ...(reason ? { reason } : {}) };
    } catch (err) {
      if (err instanceof UserError) throw err;
      result = {
        name,
        status: 'not-run',
        seconds: 0,
        reason: `internal error: ${errorMessage(err)}`,
        findings: [],
      };
    }
    this.detail = undefined;
    result.seconds = (performance.now() - started) / 1000 + earlier;
    this.stages.push(result);
    this.onStage(result);
    return result;
  }

  /**
   * Say how far the running stage is: `detail` is asked each time a progress line is drawn (every
   * ~10 s in a log, every second on a terminal), so it must only read counters the work keeps.
   */
  progress(detail: ProgressDetail): void {
    this.detail = detail;
  }

  skip(name: string, reason: string): void {
    const result: StageResult = { name, status: 'skipped', seconds: 0, reason, findings: [] };
    this.stages.push(result);
    this.onStage(result);
  }

  /** A pipeline whose rules are ignored as `ignore:` in restorable.yml says (each with its reason). */
  static withConfig(
    failOn: Severity,
    ignore: { rule: string; reason: string }[] | undefined,
    onStage?: StageListener,
  ): Pipeline {
    return new Pipeline(failOn, onStage, new Map((ignore ?? []).map((i) => [i.rule, i.reason])));
  }

  /** What every result starts as: not verified yet, and this pipeline's own list of stages. */
  begin<C extends string>(command: C): Reportable & { command: C } {
    return {
      command,
      verdict: 'could-not-verify',
      failOn: this.failOn,
      startedAt: new Date(this.started).toISOString(),
      totalSeconds: 0,
      stages: this.stages,
      findings: [],
    };
  }

  /** The end of a run: the findings of every stage, the verdict, the wall time. */
  settle<R extends Reportable>(result: R): R {
    result.findings = this.findings;
    result.verdict = this.verdict();
    result.totalSeconds = (Date.now() - this.started) / 1000;
    return result;
  }

  get findings(): Finding[] {
    return this.stages.flatMap((s) => s.findings);
  }

  verdict(): Verdict {
    return computeVerdict(this.stages, this.failOn);
  }
}

export function computeVerdict(stages: StageResult[], failOn: Severity): Verdict {
  const active = stages.flatMap((s) => s.findings).filter((f) => !f.ignored);
  if (active.some((f) => ruleKind(f.rule) === 'problem' && atLeast(f.severity, failOn))) return 'fail';
  if (stages.some((s) => s.status === 'not-run')) return 'could-not-verify';
  if (active.some((f) => ruleKind(f.rule) === 'unverifiable')) return 'could-not-verify';
  return 'pass';
}

export function exitCodeFor(verdict: Verdict): number {
  return verdict === 'pass' ? 0 : verdict === 'fail' ? 1 : 3;
}
