import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/log.js';
import { maskedUrl } from '../postgres/client.js';
import { Pipeline, type StageResult } from '../report/stages.js';
import type { MigrateContext, MigrateResult } from './context.js';
import type { MigrateOptions } from './options.js';
import { locksStage } from './stages/locks.js';
import { migrateStage } from './stages/migrate.js';
import { rewritesStage } from './stages/rewrites.js';
import { semanticsStage } from './stages/semantics.js';
import { structureStage } from './stages/structure.js';
import { targetStage } from './stages/target.js';

export type { MigrateResult } from './context.js';
export { stderrTail } from './stages/migrate.js';

function migrateContext(
  opts: MigrateOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): MigrateContext {
  const pipe = Pipeline.withConfig(opts.failOn, opts.config.ignore, onStage);
  const result: MigrateResult = {
    ...pipe.begin('migrate'),
    database: maskedUrl(opts.database),
    exitCode: null,
    rewritten: [],
    locks: [],
    lockSamples: 0,
    schemaDiff: { added: [], removed: [] },
  };
  return { opts, log, pipe, result, conn: opts.database };
}

/** migrate-check: run the migration on a restored copy and report what it did and what it held. */
export async function runMigrate(
  opts: MigrateOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): Promise<MigrateResult> {
  const ctx = migrateContext(opts, log, onStage);
  const { pipe, result } = ctx;
  const later = ['migrate', 'locks', 'rewrites', 'structure', 'semantics'];
  const before = await targetStage(ctx);
  if (!before) {
    for (const s of later) pipe.skip(s, 'the database could not be used');
    return pipe.settle(result);
  }
  const migrated = await migrateStage(ctx, before);
  if (!migrated) {
    for (const s of later.slice(1)) pipe.skip(s, 'the migrate command did not run');
    return pipe.settle(result);
  }
  await locksStage(ctx, migrated);
  const after = await rewritesStage(ctx, before);
  await structureStage(ctx, before, after);
  await semanticsStage(ctx);
  return pipe.settle(result);
}

/** Structure before and after, one line per object: `+ added`, `- removed` (a change is both). */
export function schemaDiffText(r: MigrateResult): string {
  return [...r.schemaDiff.removed.map((l) => `- ${l}`), ...r.schemaDiff.added.map((l) => `+ ${l}`)].join(
    '\n',
  );
}

export function migrateOutputs(
  r: MigrateResult,
  reportPath: string,
  comment: { text: string; file: string },
): Record<string, string> {
  return {
    verdict: r.verdict,
    'migrate-exit-code': r.exitCode === null ? '' : String(r.exitCode),
    'migrate-seconds': r.migrateSeconds === undefined ? '' : String(r.migrateSeconds),
    'tables-rewritten': JSON.stringify(r.rewritten),
    locks: JSON.stringify(Object.fromEntries(r.locks.map((l) => [l.table, l.seconds]))),
    'schema-diff': schemaDiffText(r),
    comment: comment.text,
    'comment-file': comment.file,
    findings: JSON.stringify(r.findings),
    report: reportPath,
  };
}

/** Write the PR comment beside the report; returns its path. */
export function writeComment(text: string, dir: string): string {
  const file = path.resolve(dir, 'migrate-check-comment.md');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}
