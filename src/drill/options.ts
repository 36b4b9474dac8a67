import { cpuCount, type VerifyOptions, verifyOptions } from '../backup/options.js';
import { type CompareOptions, parseCompareRung } from '../comparison/options.js';
import { type DrillConfig, loadConfig } from '../config/restorable.js';
import { UserError } from '../core/errors.js';
import { type How, nameFor, readInputs } from '../core/inputs.js';
import { type Logger, silentLogger } from '../core/log.js';
import { parseOsUser } from '../core/parse.js';
import type { RolesMode } from '../postgres/restore.js';
import type { RestoreInto } from './server.js';
import { drillInputs, drillSpec } from './spec.js';
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
  /** The server major to restore into (an upgrade rehearsal when newer than the dump's). */
  restoreInto: RestoreInto;
  restoreIntoInput: string;
  /** May a pinned server be fetched when the machine lacks the major? */
  embedded: boolean;
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
  how: How,
  log: Logger = silentLogger,
): DrillOptions {
  const v = readInputs(drillSpec.command, drillInputs, raw, how);
  const name = nameFor(how);
  const verify = verifyOptions(v, how);
  // schema.table, unquoted (as pg_restore --list names them); a bare name is in public.
  const sampleTables = (v['sample-tables'] ?? '')
    .split(',')
    .map((s) => s.trim().replace(/"/g, ''))
    .filter(Boolean)
    .map((t) => (t.includes('.') ? t : `public.${t}`));
  if (v.tier === 'sample' && sampleTables.length === 0) {
    throw new UserError(
      name('sample-tables'),
      'is empty, but tier is sample',
      'Name the tables to restore rows for: schema.table,schema.other',
    );
  }
  // Roles are created only on a scratch target: on an existing server that would change it.
  const roles = v.roles ?? (v['target-url'] ? 'ignore' : 'create-missing');
  if (v['target-url'] && roles === 'create-missing') {
    throw new UserError(
      name('roles'),
      'create-missing would create roles on the target server',
      'Use roles: ignore or strict with target-url',
    );
  }
  if (v['target-url']) parseTargetUrl(name('target-url'), v['target-url'], silentLogger);
  const into = v['restore-into'];
  if (v['target-url'] && into !== 'same') {
    throw new UserError(
      name('restore-into'),
      `is ${into}, but target-url names the server to restore into, so its major is the one used`,
      'Leave restore-into unset with target-url, or drop target-url to restore into a scratch server of that major',
    );
  }
  const compare = parseCompareRung(v, how, log);
  return {
    verify,
    config: loadConfig(name('config'), v.config),
    ...(v.config ? { configPath: v.config } : {}),
    tier: v.tier,
    sampleTables,
    sampleInput: name('sample-tables'),
    roles,
    restoreInto: into === 'same' || into === 'newer' ? into : Number(into),
    restoreIntoInput: name('restore-into'),
    embedded: v['embedded-postgres'],
    jobs: v.jobs ?? cpuCount(),
    ...(v['rto-budget'] !== undefined ? { rtoBudgetSeconds: v['rto-budget'] } : {}),
    ...(v.history ? { history: v.history } : {}),
    ...(v.junit ? { junit: v.junit } : {}),
    keep: v.keep,
    ...(v['target-url'] ? { targetUrl: v['target-url'] } : {}),
    allowTargetServer: v['allow-target-server'],
    ...(compare ? { compare } : {}),
    ...(v['os-user'] ? { osUser: parseOsUser(name('os-user'), v['os-user']) } : {}),
  };
}
