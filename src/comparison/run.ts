import type { Logger } from '../core/log.js';
import { type ConnInfo, maskedUrl } from '../postgres/client.js';
import { Pipeline, type StageResult } from '../report/stages.js';
import type { CompareContext, CompareResult } from './context.js';
import type { CompareOptions } from './options.js';
import { countsStage } from './stages/counts.js';
import { sourceStage } from './stages/source.js';
import { structureStage } from './stages/structure.js';
import { targetStage } from './stages/target.js';

export type { CompareResult, CompareRow } from './context.js';

function compareContext(
  opts: CompareOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): CompareContext {
  const pipe = Pipeline.withConfig(opts.failOn, opts.config.ignore, onStage);
  const result: CompareResult = {
    ...pipe.begin('compare'),
    source: opts.source ? maskedUrl(opts.source) : (opts.baseline ?? ''),
    target: opts.target ? maskedUrl(opts.target) : '',
    rows: [],
    compared: 0,
    drifted: 0,
    missing: 0,
  };
  return { opts, log, pipe, result };
}

/** compare-counts: counts and structure of the source (live, read-only, or a baseline) against the target. */
export async function runCompare(
  opts: CompareOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): Promise<CompareResult> {
  const ctx = compareContext(opts, log, onStage);
  const { pipe, result } = ctx;
  const source = await sourceStage(ctx);
  if (!opts.target) {
    pipe.skip('target', 'no target-url: only the baseline was written');
    pipe.skip('counts', 'no target');
    pipe.skip('structure', 'no target');
    return pipe.settle(result);
  }
  if (!source) {
    for (const s of ['target', 'counts', 'structure']) pipe.skip(s, 'the source could not be read');
    return pipe.settle(result);
  }
  const target = await targetStage(ctx, source, opts.target);
  if (!target) {
    pipe.skip('counts', 'the target could not be read');
    pipe.skip('structure', 'the target could not be read');
    return pipe.settle(result);
  }
  await countsStage(ctx, source, target);
  await structureStage(ctx, source, target);
  return pipe.settle(result);
}

/** What a compare rung reports in a drill's or PITR drill's result. */
export interface CompareSummary {
  compared: number;
  drifted: number;
  missing: number;
  source: string;
}

/**
 * The compare rung of a drill or a PITR drill: one `compare` stage against the restored target,
 * skipped when neither compare-source-url nor compare-baseline was given.
 */
export async function compareRung(
  pipe: Pipeline,
  opts: CompareOptions | undefined,
  target: ConnInfo,
  log: Logger,
): Promise<CompareSummary | undefined> {
  if (!opts) {
    pipe.skip('compare', 'no compare-source-url or compare-baseline');
    return undefined;
  }
  let summary: CompareSummary | undefined;
  await pipe.stage('compare', async () => {
    const r = await runCompare({ ...opts, target }, log);
    summary = { compared: r.compared, drifted: r.drifted, missing: r.missing, source: r.source };
    const notRun = r.stages.find((s) => s.status === 'not-run');
    return {
      findings: r.findings.map((f) => ({ ...f, stage: 'compare' })),
      ...(notRun?.reason ? { notRun: notRun.reason } : {}),
    };
  });
  return summary;
}
