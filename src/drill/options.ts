import { type CompareOptions, parseCompareRung } from '../compare/options.js';
import { type DrillConfig, loadConfig } from '../config/restorable.js';
import { parseDuration } from '../core/duration.js';
import { UserError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import { oneOf, parseBool, parseOsUser } from '../core/parse.js';
import { resolveInputs } from '../core/spec.js';
import type { RolesMode } from '../postgres/restore.js';
import { cpuCount, parseVerifyOptions, type VerifyOptions } from '../verify/options.js';
import { verifySpec } from '../verify/spec.js';
import { drillSpec } from './spec.js';
import { parseTargetUrl } from './target.js';

export type Tier = 'full' | 'schema' | 'sample';

export interface DrillOptions {
  verify: VerifyOptions;
  config: DrillConfig;
  configPath?: string;
  tier: Tier;
  /** schema.table, unquoted. */
  sampleTables: string[];
  /** How the user names sample-tables (the input, or the CLI flag), for messages. */
  sampleInput: string;
  roles: RolesMode;
  jobs: number;
  rtoBudgetSeconds?: number;
  history?: string;
  junit?: string;
  keep: boolean;
  osUser?: string;
  /** An existing server to drill on instead of a scratch cluster. */
  targetUrl?: string;
  allowTargetServer: boolean;
  /** The compare-counts rung: a live source or a baseline, against the restored database. */
  compare?: CompareOptions;
  /** CLI only: write the structure reference instead of comparing with it. */
  writeReference?: string;
}

export function parseDrillOptions(
  raw: Record<string, string | undefined>,
  how: 'input' | 'flag',
  log: Logger = silentLogger,
): DrillOptions {
  const v = resolveInputs(drillSpec, raw, how);
  const name = (n: string) => (how === 'flag' ? `--${n}` : n);
  const verifyRaw = Object.fromEntries(
    verifySpec.inputs
      .filter((i) => i.name !== 'schema-check' && v[i.name] !== undefined)
      .map((i) => [i.name, v[i.name]]),
  );
  const verify = parseVerifyOptions(verifyRaw, how);
  const tier = oneOf(name('tier'), v.tier ?? 'full', ['full', 'schema', 'sample'] as const);
  // schema.table, unquoted (as pg_restore --list names them); a bare name is in public.
  const sampleTables = (v['sample-tables'] ?? '')
    .split(',')
    .map((s) => s.trim().replace(/"/g, ''))
    .filter(Boolean)
    .map((t) => (t.includes('.') ? t : `public.${t}`));
  if (tier === 'sample' && sampleTables.length === 0) {
    throw new UserError(
      name('sample-tables'),
      'is empty, but tier is sample',
      'Name the tables to restore rows for: schema.table,schema.other',
    );
  }
  // Roles are created only on a scratch target: on an existing server that would change it.
  const roles = oneOf(name('roles'), v.roles ?? (v['target-url'] ? 'ignore' : 'create-missing'), [
    'create-missing',
    'strict',
    'ignore',
  ] as const);
  if (v['target-url'] && roles === 'create-missing') {
    throw new UserError(
      name('roles'),
      'create-missing would create roles on the target server',
      'Use roles: ignore or strict with target-url',
    );
  }
  if (v['target-url']) parseTargetUrl(name('target-url'), v['target-url'], silentLogger);
  let jobs = cpuCount();
  if (v.jobs) {
    jobs = Number(v.jobs);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) {
      throw new UserError(
        name('jobs'),
        `"${v.jobs}" is not a number of jobs`,
        'Give a whole number from 1 to 64',
      );
    }
  }
  const compare = parseCompareRung(v, how, log);
  return {
    verify,
    config: loadConfig(name('config'), v.config),
    ...(v.config ? { configPath: v.config } : {}),
    tier,
    sampleTables,
    sampleInput: name('sample-tables'),
    roles,
    jobs,
    ...(v['rto-budget'] ? { rtoBudgetSeconds: parseDuration(name('rto-budget'), v['rto-budget']) } : {}),
    ...(v.history ? { history: v.history } : {}),
    ...(v.junit ? { junit: v.junit } : {}),
    keep: parseBool(name('keep'), v.keep, false),
    ...(v['target-url'] ? { targetUrl: v['target-url'] } : {}),
    allowTargetServer: parseBool(name('allow-target-server'), v['allow-target-server'], false),
    ...(compare ? { compare } : {}),
    ...(v['os-user'] ? { osUser: parseOsUser(name('os-user'), v['os-user']) } : {}),
  };
}
