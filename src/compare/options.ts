import fs from 'node:fs';
import path from 'node:path';
import { type DrillConfig, loadConfig, parseTolerance, type Tolerance } from '../config/restorable.js';
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { parseBool, parseSeverity } from '../core/parse.js';
import { resolveInputs } from '../core/spec.js';
import { type ConnInfo, parseDbUrl } from '../postgres/client.js';
import type { Severity } from '../report/findings.js';
import { defaultWorkDir } from '../verify/options.js';
import { compareSpec } from './spec.js';

export interface CompareOptions {
  source?: ConnInfo;
  baseline?: string;
  target?: ConnInfo;
  mode: 'exact' | 'estimate' | 'auto';
  exactLimit: number;
  tolerance: Tolerance;
  direction: 'drop' | 'both';
  schemas?: string[];
  include?: string[];
  exclude?: string[];
  jobs: number;
  structure: boolean;
  writeBaseline?: string;
  freshnessColumn?: string;
  config: DrillConfig;
  failOn: Severity;
  report?: string;
  workDir: string;
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function parseCompareOptions(
  raw: Record<string, string | undefined>,
  how: 'input' | 'flag',
  log: Logger,
  /** As a rung of a drill, the target is the restored database, not an input. */
  rung = false,
): CompareOptions {
  const v = resolveInputs(compareSpec, raw, how);
  const name = (n: string) => (how === 'flag' ? `--${n}` : n);
  const secret = (s: string) => log.secret(s);
  if (v['source-url'] && v.baseline) {
    throw new UserError(
      name('baseline'),
      'and source-url were both given',
      'Compare against one: the live database (source-url) or a baseline file',
    );
  }
  if (!v['source-url'] && !v.baseline) {
    throw new UserError(
      name('source-url'),
      'is required (or baseline)',
      'Give the live database as source-url, or a baseline JSON file',
    );
  }
  if (!rung && !v['target-url'] && !v['write-baseline']) {
    throw new UserError(
      name('target-url'),
      'is required',
      "Give the restored database (restore-drill's database-url), or only write-baseline",
    );
  }
  if (v.baseline && !fs.existsSync(v.baseline)) {
    throw new UserError(
      name('baseline'),
      `"${v.baseline}" does not exist`,
      'Write one first with write-baseline, or give source-url',
    );
  }
  const mode = (v.mode ?? 'auto').trim().toLowerCase();
  if (mode !== 'exact' && mode !== 'estimate' && mode !== 'auto') {
    throw new UserError(
      name('mode'),
      `"${v.mode}" is not exact, estimate or auto`,
      'Use exact, estimate or auto',
    );
  }
  const direction = (v.direction ?? 'drop').trim().toLowerCase();
  if (direction !== 'drop' && direction !== 'both') {
    throw new UserError(
      name('direction'),
      `"${v.direction}" is not drop or both`,
      'Use drop (the source grew after the backup) or both',
    );
  }
  const tolerance = parseTolerance(v.tolerance ?? '0');
  if (!tolerance) {
    throw new UserError(
      name('tolerance'),
      `"${v.tolerance}" is not a tolerance`,
      'Write 0, 1000 (rows) or 2% (a share of the source count)',
    );
  }
  const num = (n: string, min: number) => {
    const x = Number(v[n]);
    if (!Number.isInteger(x) || x < min)
      throw new UserError(
        name(n),
        `"${v[n]}" is not a whole number of at least ${min}`,
        `Give a whole number, e.g. ${compareSpec.inputs.find((i) => i.name === n)?.default}`,
      );
    return x;
  };
  return {
    ...(v['source-url'] ? { source: parseDbUrl(name('source-url'), v['source-url'], secret) } : {}),
    ...(v.baseline ? { baseline: v.baseline } : {}),
    ...(v['target-url'] ? { target: parseDbUrl(name('target-url'), v['target-url'], secret) } : {}),
    mode,
    exactLimit: num('exact-limit', 0),
    tolerance,
    direction,
    ...(v.schemas ? { schemas: list(v.schemas) } : {}),
    ...(v.include ? { include: list(v.include) } : {}),
    ...(v.exclude ? { exclude: list(v.exclude) } : {}),
    jobs: num('jobs', 1),
    structure: parseBool(name('structure'), v.structure, true),
    ...(v['write-baseline'] ? { writeBaseline: path.resolve(v['write-baseline']) } : {}),
    ...(v['freshness-column'] ? { freshnessColumn: v['freshness-column'] } : {}),
    config: loadConfig(name('config'), v.config),
    failOn: parseSeverity(name('fail-on'), v['fail-on']),
    ...(v.report ? { report: v.report } : {}),
    workDir: defaultWorkDir(),
  };
}

/**
 * The compare rung of a drill or a PITR drill: `compare-source-url` or `compare-baseline` (with the
 * run's config and fail-on), or undefined when neither is given.
 */
export function parseCompareRung(
  v: Record<string, string | undefined>,
  how: 'input' | 'flag',
  log: Logger,
): CompareOptions | undefined {
  if (!v['compare-source-url'] && !v['compare-baseline']) return undefined;
  return parseCompareOptions(
    {
      ...(v['compare-source-url'] ? { 'source-url': v['compare-source-url'] } : {}),
      ...(v['compare-baseline'] ? { baseline: v['compare-baseline'] } : {}),
      ...(v.config ? { config: v.config } : {}),
      ...(v['fail-on'] ? { 'fail-on': v['fail-on'] } : {}),
    },
    how,
    log,
    true,
  );
}
