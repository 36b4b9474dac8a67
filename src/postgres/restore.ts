import fs from 'node:fs';
import zlib from 'node:zlib';
import { run } from '../core/exec.js';
import type { Logger } from '../core/log.js';
import { type Finding, finding } from '../report/findings.js';
import type { PgBinary } from './binaries.js';
import { type ConnInfo, libpqEnv } from './client.js';

export type RolesMode = 'create-missing' | 'strict' | 'ignore';

export interface RestoreInput {
  format: 'custom' | 'directory' | 'plain';
  /** The file (or directory) to restore; for a gzip wrapper, the plain file is streamed through gunzip. */
  path: string;
  gzip: boolean;
}

export interface RestoreResult {
  exitCode: number | null;
  seconds: number;
  tool: string;
  errors: number;
  warnings: number;
  findings: Finding[];
}

/** What one line of pg_restore / psql stderr means. */
export type Classified =
  | { kind: 'role'; role: string; line: string }
  | { kind: 'extension'; name: string; line: string }
  | { kind: 'truncated'; line: string }
  | { kind: 'error'; line: string }
  | { kind: 'warning'; line: string }
  | { kind: 'other' };

/** Read one stderr line; the patterns are PostgreSQL's own messages (English, lc_messages C). */
export function classifyLine(line: string): Classified {
  let m = /role "([^"]+)" does not exist/.exec(line);
  if (m && /ERROR/.test(line)) return { kind: 'role', role: m[1] as string, line };
  m =
    /extension "([^"]+)" is not available/.exec(line) ??
    /could not open extension control file ".*\/([^/"]+)\.control"/.exec(line) ??
    /could not access file "\$libdir\/([^"]+)"/.exec(line);
  if (m) return { kind: 'extension', name: m[1] as string, line };
  if (
    /could not read from input file: end of file|unexpected end of file|could not find block ID/.test(line)
  ) {
    return { kind: 'truncated', line };
  }
  if (/\bERROR:|pg_restore: error:|FATAL:/.test(line) && !/errors ignored on restore/.test(line))
    return { kind: 'error', line };
  if (/\bWARNING:|pg_restore: warning:/.test(line) && !/errors ignored on restore/.test(line))
    return { kind: 'warning', line };
  return { kind: 'other' };
}

/**
 * pg_restore's stderr says more than its exit status: classify every line into findings. A zero
 * exit with errors is EXIT_CODE_LIED; a non-zero exit nothing explains is RESTORE_FAILED.
 */
export function classifyRestore(
  stage: string,
  stderr: string,
  exitCode: number | null,
  tool: string,
): {
  findings: Finding[];
  errors: number;
  warnings: number;
} {
  const roles = new Map<string, string>();
  const extensions = new Map<string, string>();
  const errors: string[] = [];
  const warnings: string[] = [];
  let truncated: string | undefined;
  for (const line of stderr.split('\n')) {
    const c = classifyLine(line);
    if (c.kind === 'role') roles.set(c.role, c.line);
    else if (c.kind === 'extension') extensions.set(c.name, c.line);
    else if (c.kind === 'truncated') truncated ??= c.line;
    else if (c.kind === 'error') errors.push(c.line.trim());
    else if (c.kind === 'warning') warnings.push(c.line.trim());
  }
  // Errors that only follow from a classified cause (the statements after a missing role) still count.
  const findings: Finding[] = [];
  if (truncated) {
    findings.push(
      finding('ARCHIVE_TRUNCATED', stage, `${tool} hit the end of the archive early: ${truncated.trim()}`),
    );
  }
  for (const [role, line] of roles) {
    findings.push(
      finding('ROLE_ABSENT', stage, `role "${role}" does not exist on the target: ${line.trim()}`, {
        evidence: { role },
      }),
    );
  }
  for (const [name] of extensions) {
    findings.push(
      finding('EXTENSION_ABSENT', stage, `extension "${name}" is not installed on the target server`, {
        evidence: { extension: name },
        fix: `Install the extension's package for the target's major (e.g. postgresql-<major>-${name}), or restore where it is.`,
      }),
    );
  }
  const unexplained = errors.filter((l) => !/role ".*" does not exist/.test(l) && !/extension/.test(l));
  if (unexplained.length > 0) {
    findings.push(
      finding(
        'RESTORE_ERROR',
        stage,
        `${unexplained.length} error${unexplained.length === 1 ? '' : 's'} during the restore; the first: ${unexplained[0]}`,
        {
          evidence: { errors: unexplained.length, first: unexplained[0] ?? null },
        },
      ),
    );
  }
  if (warnings.length > 0) {
    findings.push(
      finding(
        'RESTORE_WARNING',
        stage,
        `${warnings.length} warning${warnings.length === 1 ? '' : 's'}; the first: ${warnings[0]}`,
        {
          evidence: { warnings: warnings.length },
        },
      ),
    );
  }
  const anyError = errors.length > 0 || roles.size > 0 || extensions.size > 0 || truncated !== undefined;
  if (exitCode === 0 && anyError) {
    findings.push(
      finding(
        'EXIT_CODE_LIED',
        stage,
        `${tool} exited 0 although it reported ${errors.length} error${errors.length === 1 ? '' : 's'}`,
        {
          evidence: { errors: errors.length },
        },
      ),
    );
  }
  if (exitCode !== 0 && !anyError) {
    findings.push(
      finding(
        'RESTORE_FAILED',
        stage,
        `${tool} exited ${exitCode ?? 'on a signal'} with nothing on stderr to explain it`,
        {
          evidence: { exitCode },
        },
      ),
    );
  }
  return { findings, errors: errors.length, warnings: warnings.length };
}

export interface RestoreOptions {
  jobs: number;
  roles: RolesMode;
  /** `schema`: structure only. */
  schemaOnly?: boolean;
  /** `sample`: only these tables' rows (schema.table). */
  tables?: string[];
  log?: Logger;
  stage?: string;
}

/** Restore a dump into `target` (an existing, empty database) with pg_restore or psql. */
export async function restoreDump(
  tools: { pgRestore?: PgBinary; psql: PgBinary },
  target: ConnInfo,
  input: RestoreInput,
  opts: RestoreOptions,
): Promise<RestoreResult> {
  const stage = opts.stage ?? 'restore';
  const env = { ...libpqEnv(target), PGOPTIONS: '-c lc_messages=C' };
  let res: Awaited<ReturnType<typeof run>>;
  let tool: string;
  if (input.format === 'plain') {
    tool = `psql ${tools.psql.version}`;
    const stream = fs.createReadStream(input.path);
    res = await run(
      tools.psql.path,
      ['-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', target.database, '-f', '-'],
      {
        env,
        stdin: input.gzip ? stream.pipe(zlib.createGunzip()) : stream,
      },
    );
  } else {
    const pgRestore = tools.pgRestore as PgBinary;
    tool = `pg_restore ${pgRestore.version}`;
    const args = ['--dbname', target.database];
    if (opts.jobs > 1 && !input.gzip) args.push('--jobs', String(opts.jobs));
    if (opts.roles === 'ignore') args.push('--no-owner', '--no-privileges');
    if (opts.schemaOnly) args.push('--schema-only');
    if (input.gzip) {
      res = await run(pgRestore.path, args, {
        env,
        stdin: fs.createReadStream(input.path).pipe(zlib.createGunzip()),
      });
    } else {
      args.push(input.path);
      res = await run(pgRestore.path, args, { env });
    }
  }
  const classified = classifyRestore(stage, res.stderr, res.code, tool);
  return {
    exitCode: res.code,
    seconds: res.seconds,
    tool,
    errors: classified.errors,
    warnings: classified.warnings,
    findings: classified.findings,
  };
}
