import fs from 'node:fs';
import path from 'node:path';
import { defaultWorkDir } from '../backup/options.js';
import { type DrillConfig, loadConfig, type Tolerance } from '../config/restorable.js';
import { UserError } from '../core/errors.js';
import { type How, nameFor, readInputs } from '../core/inputs.js';
import type { Logger } from '../core/log.js';
import { type ConnInfo, parseDbUrl } from '../postgres/client.js';
import type { Severity } from '../report/findings.js';
import { COMPARE_COMMAND, compareInputs } from './inputs.js';

/** What the target is compared with: the live database, or a baseline file written earlier. */
export type CompareWith =
  | { source: ConnInfo; baseline?: undefined }
  | { baseline: string; source?: undefined };

export type CompareOptions = CompareWith & CompareCommon;

interface CompareCommon {
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

/** The live database (its password a secret from here on), or else the baseline file. */
function compareWith(
  sourceUrl: string | undefined,
  baseline: string | undefined,
  name: (n: string) => string,
  secret: (s: string) => void,
): CompareWith {
  if (sourceUrl) return { source: parseDbUrl(name('source-url'), sourceUrl, secret) };
  if (baseline) return { baseline };
  throw new UserError(
    name('source-url'),
    'is required (or baseline)',
    'Give the live database as source-url, or a baseline JSON file',
  );
}

export function parseCompareOptions(
  raw: Record<string, string | undefined>,
  how: How,
  log: Logger,
  /** As a rung of a drill, the target is the restored database, not an input. */
  rung = false,
): CompareOptions {
  const v = readInputs(COMPARE_COMMAND, compareInputs, raw, how);
  const name = nameFor(how);
  const secret = (s: string) => log.secret(s);
  if (v['source-url'] && v.baseline) {
    throw new UserError(
      name('baseline'),
      'and source-url were both given',
      'Compare against one: the live database (source-url) or a baseline file',
    );
  }
  const against = compareWith(v['source-url'], v.baseline, name, secret);
  if (!rung && !v['target-url'] && !v['write-baseline']) {
    throw new UserError(
      name('target-url'),
      'is required',
      "Give the restored database (restore-drill's database-url), or only write-baseline",
    );
  }
  if (against.baseline && !fs.existsSync(against.baseline)) {
    throw new UserError(
      name('baseline'),
      `"${against.baseline}" does not exist`,
      'Write one first with write-baseline, or give source-url',
    );
  }
  return {
    ...against,
    ...(v['target-url'] ? { target: parseDbUrl(name('target-url'), v['target-url'], secret) } : {}),
    mode: v.mode,
    exactLimit: v['exact-limit'],
    tolerance: v.tolerance,
    direction: v.direction,
    ...(v.schemas ? { schemas: list(v.schemas) } : {}),
    ...(v.include ? { include: list(v.include) } : {}),
    ...(v.exclude ? { exclude: list(v.exclude) } : {}),
    jobs: v.jobs,
    structure: v.structure,
    ...(v['write-baseline'] ? { writeBaseline: path.resolve(v['write-baseline']) } : {}),
    ...(v['freshness-column'] ? { freshnessColumn: v['freshness-column'] } : {}),
    config: loadConfig(name('config'), v.config),
    failOn: v['fail-on'],
    ...(v.report ? { report: v.report } : {}),
    workDir: defaultWorkDir(),
  };
}

/**
 * The compare rung of a drill or a PITR drill: `compare-source-url` or `compare-baseline` (with the
 * run's config and fail-on), or undefined when neither is given.
 */
export function parseCompareRung(
  v: {
    'compare-source-url'?: string | undefined;
    'compare-baseline'?: string | undefined;
    config?: string | undefined;
    'fail-on': Severity;
  },
  how: How,
  log: Logger,
): CompareOptions | undefined {
  if (!v['compare-source-url'] && !v['compare-baseline']) return undefined;
  return parseCompareOptions(
    {
      ...(v['compare-source-url'] ? { 'source-url': v['compare-source-url'] } : {}),
      ...(v['compare-baseline'] ? { baseline: v['compare-baseline'] } : {}),
      ...(v.config ? { config: v.config } : {}),
      'fail-on': v['fail-on'],
    },
    how,
    log,
    true,
  );
}
