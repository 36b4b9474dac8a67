import type { VerifyResult, VerifyState } from '../backup/context.js';
import type { VerifyOptions } from '../backup/options.js';
import { releaseDownload } from '../backup/stages/read.js';
import { verifyStages } from '../backup/verify.js';
import type { Logger } from '../core/log.js';
import { RunFolder } from '../core/workdir.js';
import { majorOf } from '../postgres/binaries.js';
import { Pipeline, type StageResult } from '../report/stages.js';

/**
 * verify-backup: locate the newest backup, check its age and retention, read it once (download,
 * hash, decompress, walk every block), compare checksums, and replay its schema.
 */
export async function runVerify(
  opts: VerifyOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): Promise<VerifyResult> {
  const pipe = new Pipeline(opts.failOn, onStage);
  const work = new RunFolder(opts.workDir);
  let state: VerifyState;
  try {
    state = await verifyStages(pipe, opts, log, work);
    releaseDownload(state.backup, work, log);
  } finally {
    work.close();
  }
  return pipe.settle({
    ...pipe.begin('verify'),
    source: state.source,
    candidates: state.candidates,
    ...(state.backup ? { backup: state.backup } : {}),
    ...(state.schema ? { schema: state.schema } : {}),
  });
}

/** The action's outputs, also printed by the CLI with --json. */
export function verifyOutputs(r: VerifyResult, reportPath?: string): Record<string, string> {
  const b = r.backup;
  return {
    verdict: r.verdict,
    backup: b?.name ?? '',
    'local-path': b?.localPath ?? '',
    'size-bytes': b ? String(b.sizeBytes) : '',
    'age-hours': b ? String(b.ageHours) : '',
    sha256: b?.sha256 ?? '',
    'server-version': b?.serverVersion ?? '',
    'server-major': String(majorOf(b?.serverVersion ?? '') ?? ''),
    'pg-dump-major': String(majorOf(b?.pgDumpVersion ?? '') ?? ''),
    'dump-format': b?.format ?? '',
    tables: b?.tables !== undefined ? String(b.tables) : '',
    findings: JSON.stringify(r.findings),
    report: reportPath ?? '',
  };
}
