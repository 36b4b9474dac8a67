import fs from 'node:fs';
import path from 'node:path';
import { type DrillConfig, loadConfig } from '../config/restorable.js';
import { parseDuration } from '../core/duration.js';
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { parseBool, parseSeverity } from '../core/parse.js';
import { resolveInputs } from '../core/spec.js';
import { type ConnInfo, parseDbUrl } from '../postgres/client.js';
import type { Severity } from '../report/findings.js';
import { defaultWorkDir } from '../verify/options.js';
import { migrateSpec } from './spec.js';

export interface MigrateOptions {
  database: ConnInfo;
  /** The URL as given, for DATABASE_URL (a secret when it holds a password). */
  databaseUrl: string;
  command: string;
  cwd: string;
  /** Seconds; undefined when `off`. */
  maxLockSeconds?: number;
  maxMigrationSeconds?: number;
  timeoutSeconds: number;
  allowAnyDatabase: boolean;
  config: DrillConfig;
  configPath?: string;
  failOn: Severity;
  report?: string;
  workDir: string;
  /** How often pg_locks is sampled while the command runs. */
  sampleMs: number;
}

/**
 * A threshold in seconds: the input's name says seconds, so a bare number is seconds; a duration
 * with a unit (90s, 10m) is read as one; `off` turns the check off.
 */
export function parseSeconds(input: string, value: string | undefined): number | undefined {
  const text = (value ?? '').trim().toLowerCase();
  if (text === '' || text === 'off' || text === 'none') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    if (n > 0) return n;
    throw new UserError(input, `"${value}" is not above zero`, 'Give a number of seconds, e.g. 5, or off');
  }
  return parseDuration(input, text);
}

export function parseMigrateOptions(
  raw: Record<string, string | undefined>,
  how: 'input' | 'flag',
  log: Logger,
): MigrateOptions {
  const v = resolveInputs(migrateSpec, raw, how);
  const name = (n: string) => (how === 'flag' ? `--${n}` : n);
  const url = (v['database-url'] as string).trim();
  const database = parseDbUrl(name('database-url'), url, (s) => log.secret(s));
  // The whole URL is a secret too when it carries a password: it reaches the command as DATABASE_URL.
  if (database.password) log.secret(url);
  const command = (v['migrate-command'] as string).trim();
  if (!command) {
    throw new UserError(
      name('migrate-command'),
      'is empty',
      'Give the command that applies the migrations, e.g. npx prisma migrate deploy',
    );
  }
  const cwd = path.resolve(v['working-directory'] ?? '.');
  if (!fs.existsSync(cwd) || !fs.statSync(cwd).isDirectory()) {
    throw new UserError(
      name('working-directory'),
      `"${v['working-directory']}" is not a folder`,
      'Give the folder the migrate command runs in (relative to the workspace), or leave it empty',
    );
  }
  const timeoutSeconds = parseSeconds(name('timeout'), v.timeout);
  const maxLockSeconds = parseSeconds(name('max-lock-seconds'), v['max-lock-seconds']);
  const maxMigrationSeconds = parseSeconds(name('max-migration-seconds'), v['max-migration-seconds']);
  return {
    database,
    databaseUrl: url,
    command,
    cwd,
    ...(maxLockSeconds !== undefined ? { maxLockSeconds } : {}),
    ...(maxMigrationSeconds !== undefined ? { maxMigrationSeconds } : {}),
    timeoutSeconds: timeoutSeconds ?? 24 * 3600,
    allowAnyDatabase: parseBool(name('allow-any-database'), v['allow-any-database'], false),
    config: loadConfig(name('config'), v.config),
    ...(v.config ? { configPath: v.config } : {}),
    failOn: parseSeverity(name('fail-on'), v['fail-on']),
    ...(v.report ? { report: v.report } : {}),
    workDir: defaultWorkDir(),
    sampleMs: 50,
  };
}
