import fs from 'node:fs';
import path from 'node:path';
import { defaultWorkDir } from '../backup/options.js';
import { type DrillConfig, loadConfig } from '../config/restorable.js';
import { UserError } from '../core/errors.js';
import { type How, nameFor, readInputs } from '../core/inputs.js';
import type { Logger } from '../core/log.js';
import { type ConnInfo, parseDbUrl } from '../postgres/client.js';
import type { Severity } from '../report/findings.js';
import { migrateInputs, migrateSpec } from './spec.js';

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

export function parseMigrateOptions(
  raw: Record<string, string | undefined>,
  how: How,
  log: Logger,
): MigrateOptions {
  const v = readInputs(migrateSpec.command, migrateInputs, raw, how);
  const name = nameFor(how);
  const url = v['database-url'].trim();
  const database = parseDbUrl(name('database-url'), url, (s) => log.secret(s));
  // The whole URL is a secret too when it carries a password: it reaches the command as DATABASE_URL.
  if (database.password) log.secret(url);
  const command = v['migrate-command'].trim();
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
  const maxLockSeconds = v['max-lock-seconds'];
  const maxMigrationSeconds = v['max-migration-seconds'];
  return {
    database,
    databaseUrl: url,
    command,
    cwd,
    ...(maxLockSeconds !== undefined ? { maxLockSeconds } : {}),
    ...(maxMigrationSeconds !== undefined ? { maxMigrationSeconds } : {}),
    timeoutSeconds: v.timeout ?? 24 * 3600,
    allowAnyDatabase: v['allow-any-database'],
    config: loadConfig(name('config'), v.config),
    ...(v.config ? { configPath: v.config } : {}),
    failOn: v['fail-on'],
    ...(v.report ? { report: v.report } : {}),
    workDir: defaultWorkDir(),
    sampleMs: 50,
  };
}
