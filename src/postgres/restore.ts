import fs from 'node:fs';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { run } from '../core/exec.js';
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
  /** The first error lines, as printed (catalog statements, never row values). */
  errorLines: string[];
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
  /** The first error lines, as printed (catalog statements, never row values). */
  errorLines: string[];
  warnings: number;
} {
  const roles = new Map<string, string>();
  const extensions = new Map<string, string>();
  const errors: string[] = [];
  const errorLines: string[] = [];
  const warnings: string[] = [];
  let truncated: string | undefined;
  for (const line of stderr.split('\n')) {
    const c = classifyLine(line);
    if (c.kind !== 'other' && c.kind !== 'warning' && errorLines.length < 10) errorLines.push(line.trim());
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
  // Only an error that names a role or an extension already reported is explained by it (an
  // extension that is installed but will not update, or may not be created, is an error of its own).
  const names = (kind: string, m: Map<string, string>) => [...m.keys()].map((n) => `${kind} "${n}"`);
  const explainedBy = [...names('role', roles), ...names('extension', extensions)];
  const unexplained = errors.filter((l) => !explainedBy.some((n) => l.includes(n)));
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
  const errorCount = errors.length + roles.size + extensions.size + (truncated ? 1 : 0);
  return { findings, errors: errorCount, errorLines, warnings: warnings.length };
}

export interface RestoreOptions {
  jobs: number;
  roles: RolesMode;
  /** Structure only: the tier `schema`, and verify's schema replay. */
  schemaOnly?: boolean;
  stage?: string;
}

/**
 * What psql gets from a plain dump, filtered as it streams: with `schemaOnly` the rows of COPY blocks
 * and setval() calls are dropped; with `noOwner` ownership and privilege statements. The same as
 * pg_restore's --schema-only and --no-owner --no-privileges.
 */
export class PlainDumpFilter extends Transform {
  private partial = '';
  private inCopy = false;

  constructor(private readonly leaveOut: { schemaOnly: boolean; noOwner: boolean }) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    done(null, this.keep(lines));
  }

  override _flush(done: TransformCallback): void {
    done(null, this.keep([this.partial]));
  }

  private keep(lines: string[]): string {
    const out: string[] = [];
    for (const line of lines) {
      if (this.inCopy) {
        if (line === '\\.') this.inCopy = false;
        continue;
      }
      if (this.leaveOut.schemaOnly && /^COPY .* FROM stdin;$/.test(line)) {
        this.inCopy = true;
        continue;
      }
      if (this.leaveOut.schemaOnly && line.startsWith('SELECT pg_catalog.setval(')) continue;
      if (this.leaveOut.noOwner && /^(ALTER .* OWNER TO |GRANT |REVOKE )/.test(line)) continue;
      out.push(line);
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }
}

/** The environment of a pg_restore or psql whose stderr is classified: the server's messages in English. */
export function restoreEnv(target: ConnInfo): Record<string, string> {
  return { ...libpqEnv(target), PGOPTIONS: '-c lc_messages=C' };
}

/**
 * Restore a dump into `target` (an existing, empty database) with `client`: pg_restore for custom and
 * directory dumps, psql for plain ones. The one restore path: the drill's, and verify's schema replay.
 */
export async function restoreDump(
  client: PgBinary,
  target: ConnInfo,
  input: RestoreInput,
  opts: RestoreOptions,
): Promise<RestoreResult> {
  const stage = opts.stage ?? 'restore';
  const env = restoreEnv(target);
  // A damaged gzip wrapper ends the chain with its error (the program's stdin is closed, never left
  // waiting) and is said, however far the program got.
  let unpackError: Error | undefined;
  const unpacked = (then?: Transform): Readable => {
    const file = fs.createReadStream(input.path);
    const steps: NodeJS.ReadWriteStream[] = [
      ...(input.gzip ? [zlib.createGunzip()] : []),
      ...(then ? [then] : []),
    ];
    if (steps.length === 0) return file;
    return pipeline([file, ...steps], (e) => {
      if (e) unpackError = e;
    }) as unknown as Readable;
  };
  let res: Awaited<ReturnType<typeof run>>;
  let tool: string;
  if (input.format === 'plain') {
    tool = `psql ${client.version}`;
    const drop = { schemaOnly: opts.schemaOnly === true, noOwner: opts.roles === 'ignore' };
    const stdin = unpacked(drop.schemaOnly || drop.noOwner ? new PlainDumpFilter(drop) : undefined);
    res = await run(client.path, ['-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', target.database, '-f', '-'], {
      env,
      stdin,
    });
  } else {
    tool = `pg_restore ${client.version}`;
    const args = ['--dbname', target.database];
    if (opts.jobs > 1 && !input.gzip) args.push('--jobs', String(opts.jobs));
    if (opts.roles === 'ignore') args.push('--no-owner', '--no-privileges');
    if (opts.schemaOnly) args.push('--schema-only');
    if (input.gzip) res = await run(client.path, args, { env, stdin: unpacked() });
    else res = await run(client.path, [...args, input.path], { env });
  }
  const classified = classifyRestore(stage, res.stderr, res.code, tool);
  if (unpackError) {
    const code = (unpackError as NodeJS.ErrnoException).code ?? '';
    const gz = code.startsWith('Z_');
    classified.findings.unshift(
      finding(
        gz ? 'COMPRESSION_CORRUPT' : 'RESTORE_ERROR',
        stage,
        `${gz ? 'the gzip stream around the dump' : 'reading the dump'} failed while ${tool} read it (${unpackError.message}): it got only part of the dump`,
        { evidence: { error: code || unpackError.message } },
      ),
    );
  }
  return {
    exitCode: res.code,
    seconds: res.seconds,
    tool,
    errors: classified.errors,
    errorLines: classified.errorLines,
    warnings: classified.warnings,
    findings: classified.findings,
  };
}
