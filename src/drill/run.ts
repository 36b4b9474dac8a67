import { releaseDownload } from '../backup/stages/read.js';
import type { Logger } from '../core/log.js';
import { RunFolder } from '../core/workdir.js';
import { lastGood, readHistory } from '../report/history.js';
import { Pipeline, type StageResult } from '../report/stages.js';
import type { DrillContext, DrillResult, TargetedDrill } from './context.js';
import type { DrillOptions } from './options.js';
import { compareStage } from './stages/compare.js';
import { integrityStage } from './stages/integrity.js';
import { recordDrill } from './stages/record.js';
import { restoreStage } from './stages/restore.js';
import { rtoStage } from './stages/rto.js';
import { semanticsStage } from './stages/semantics.js';
import { structureStage } from './stages/structure.js';
import { targetStage } from './stages/target.js';
import { teardownAfterVerdict, teardownStage } from './stages/teardown.js';
import { verifyBackup } from './stages/verify.js';
import { volumeStage } from './stages/volume.js';

export type { DrillResult } from './context.js';

/** The rungs after the restore, in order. */
const LADDER: ((t: TargetedDrill) => Promise<void>)[] = [
  structureStage,
  volumeStage,
  semanticsStage,
  compareStage,
  integrityStage,
];

/**
 * restore-drill: every verify check, then a restore into a throwaway version-matched cluster, then
 * the ladder (structure, volume, semantics, integrity), each stage timed, against the RTO. The drill
 * has its own folder beneath the work-dir: the download lives until the restore and the ladder are
 * done (the restore reads it), then goes unless kept (keep-download); partial files (.part,
 * .unpacked, the sample's list) are removed on every way out.
 * `verdict` is given the settled result (the CLI prints and writes it, the action publishes it)
 * before the target is removed: the removal follows the verdict, on every way out. `handOff` takes
 * a stopped scratch cluster's removal to a later step (teardownAfterVerdict).
 */
export async function runDrill(
  opts: DrillOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
  verdict?: (r: DrillResult) => void | Promise<void>,
  handOff?: (handle: string) => void,
): Promise<DrillResult> {
  const work = new RunFolder(opts.verify.workDir);
  const ctx = drillContext(work, opts, log, onStage, handOff);
  try {
    const result = await drillIn(ctx);
    await verdict?.(result);
    return result;
  } finally {
    try {
      await teardownAfterVerdict(ctx);
    } finally {
      work.close();
    }
  }
}

function drillContext(
  work: RunFolder,
  opts: DrillOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
  handOff?: (handle: string) => void,
): DrillContext {
  const pipe = Pipeline.withConfig(opts.verify.failOn, opts.config.ignore, onStage);
  const history = opts.history ? readHistory(opts.history) : [];
  return {
    opts,
    log,
    work,
    pipe,
    result: { ...pipe.begin('drill'), source: '', tier: opts.tier, notChecked: [] },
    history,
    previous: lastGood(history, 'drill', opts.tier),
    ...(handOff ? { handOff } : {}),
  };
}

/** The drill as its list of stages: each skips what follows it when there is nothing to go on. */
async function drillIn(ctx: DrillContext): Promise<DrillResult> {
  const verified = await verifyBackup(ctx);
  if (verified) {
    try {
      const targeted = await targetStage(verified);
      if (targeted && (await restoreStage(targeted))) for (const rung of LADDER) await rung(targeted);
    } finally {
      await teardownStage(ctx);
    }
  }
  // The restore and the ladder are done with the file: a download not kept goes now, before the report.
  releaseDownload(ctx.result.backup, ctx.work, ctx.log);
  await rtoStage(ctx);
  return recordDrill(ctx);
}

export function drillOutputs(r: DrillResult, reportPath: string): Record<string, string> {
  return {
    verdict: r.verdict,
    backup: r.backup?.name ?? '',
    'local-path': r.backup?.localPath ?? '',
    'total-seconds': r.totalSeconds.toFixed(1),
    'restore-seconds': r.restore ? r.restore.seconds.toFixed(1) : '',
    tables: r.tables !== undefined ? String(r.tables) : '',
    rows: r.rows !== undefined ? String(r.rows) : '',
    'database-url': r.target?.url ?? '',
    findings: JSON.stringify(r.findings),
    report: reportPath,
    junit: r.junitPath ?? '',
  };
}
