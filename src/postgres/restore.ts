import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { OWNED_TYPES, type OwnedEntry } from '../archive/inspect.js';
import { codeOf, type Piece, type PlainHazard, PlainJudge, PlainPieces } from '../archive/plain.js';
import { unwrapStep, type Wrapper, wrapperProblem } from '../archive/wrapper.js';
import { NO_SPACE } from '../core/disk.js';
import { type RunOptions, run } from '../core/exec.js';
import { type Finding, finding } from '../report/findings.js';
import type { PgBinary } from './binaries.js';
import { type ConnInfo, libpqEnv, withClient } from './client.js';
import { expectedLine, type Prepared } from './owners.js';
import { RestoreProgress } from './restore-progress.js';

export type RolesMode = 'create-missing' | 'strict' | 'ignore';

export interface RestoreInput {
  format: 'custom' | 'directory' | 'plain' | 'tar';
  /** The file (or directory) to restore; with a wrapper, the file is decompressed as it streams in. */
  path: string;
  /** The whole-file compression around the dump, if any. */
  wrapper: Wrapper | null;
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
  /** A plain dump restored without owners: each object's owner, from pg_dump's comment above it. */
  owned?: OwnedEntry[];
}

/** What one line of pg_restore / psql stderr means. */
export type Classified =
  | { kind: 'role'; role: string; line: string }
  | { kind: 'extension'; name: string; line: string }
  | { kind: 'truncated'; line: string }
  | { kind: 'disk-full'; line: string }
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
  if (NO_SPACE.test(line)) return { kind: 'disk-full', line };
  if (/\bERROR:|pg_restore: error:|FATAL:/.test(line) && !/errors ignored on restore/.test(line))
    return { kind: 'error', line };
  if (/\bWARNING:|pg_restore: warning:/.test(line) && !/errors ignored on restore/.test(line))
    return { kind: 'warning', line };
  return { kind: 'other' };
}

/** PostgreSQL's messages for what the role may not do (SQLSTATE 42501 and kin). */
const NEEDS_PRIVILEGE =
  /permission denied|must be (a )?superuser|must be owner of|must have privileges of|only superusers? can|must be member of role/;

/** A restore's stderr, line by line: each cause once, the errors and warnings as printed. */
interface ReadStderr {
  roles: Map<string, string>;
  extensions: Map<string, string>;
  errors: string[];
  /** The first error lines, as printed (catalog statements, never row values). */
  errorLines: string[];
  warnings: string[];
  privileged: string[];
  /** Lines that only say what was made for the restore first (postgres/owners.ts): no finding. */
  expected: number;
  truncated?: string;
  full?: string;
}

function readStderr(stderr: string, prepared: Prepared | undefined): ReadStderr {
  const r: ReadStderr = {
    roles: new Map(),
    extensions: new Map(),
    errors: [],
    errorLines: [],
    warnings: [],
    privileged: [],
    expected: 0,
  };
  for (const line of stderr.split('\n')) {
    const c = classifyLine(line);
    if (c.kind === 'error' && expectedLine(line, prepared)) {
      r.expected++;
      continue;
    }
    if (prepared && c.kind === 'error' && NEEDS_PRIVILEGE.test(line)) {
      r.privileged.push(line.trim());
      continue;
    }
    if (c.kind !== 'other' && c.kind !== 'warning' && r.errorLines.length < 10)
      r.errorLines.push(line.trim());
    if (c.kind === 'role') r.roles.set(c.role, c.line);
    else if (c.kind === 'extension') r.extensions.set(c.name, c.line);
    else if (c.kind === 'truncated') r.truncated ??= c.line;
    else if (c.kind === 'disk-full') r.full ??= c.line;
    else if (c.kind === 'error') r.errors.push(c.line.trim());
    else if (c.kind === 'warning') r.warnings.push(c.line.trim());
  }
  return r;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The causes stderr names: a cut archive, absent roles and extensions, a full disk. */
function causeFindings(stage: string, tool: string, r: ReadStderr): Finding[] {
  const findings: Finding[] = [];
  if (r.truncated)
    findings.push(
      finding('ARCHIVE_TRUNCATED', stage, `${tool} hit the end of the archive early: ${r.truncated.trim()}`),
    );
  for (const [role, line] of r.roles)
    findings.push(
      finding('ROLE_ABSENT', stage, `role "${role}" does not exist on the target: ${line.trim()}`, {
        evidence: { role },
      }),
    );
  for (const [name] of r.extensions)
    findings.push(
      finding('EXTENSION_ABSENT', stage, `extension "${name}" is not installed on the target server`, {
        evidence: { extension: name },
        fix: `Install the extension's package for the target's major (e.g. postgresql-<major>-${name}), or restore where it is.`,
      }),
    );
  // The target's disk filled: what failed after is its doing, not the backup's (could-not-verify).
  if (r.full)
    findings.push(
      finding('DISK_FULL', stage, `the target ran out of disk space during the restore: ${r.full.trim()}`, {
        evidence: { errors: r.errors.length },
      }),
    );
  return findings;
}

/** Errors no cause explains, what needs a superuser, warnings. */
function errorFindings(stage: string, r: ReadStderr): Finding[] {
  const findings: Finding[] = [];
  // Only an error that names a role or an extension already reported is explained by it (an
  // extension that is installed but will not update, or may not be created, is an error of its own).
  const names = (kind: string, m: Map<string, string>) => [...m.keys()].map((n) => `${kind} "${n}"`);
  const explainedBy = [...names('role', r.roles), ...names('extension', r.extensions)];
  const unexplained = r.full ? [] : r.errors.filter((l) => !explainedBy.some((n) => l.includes(n)));
  if (unexplained.length > 0)
    findings.push(
      finding(
        'RESTORE_ERROR',
        stage,
        `${plural(unexplained.length, 'error')} during the restore; the first: ${unexplained[0]}`,
        {
          evidence: { errors: unexplained.length, first: unexplained[0] ?? null },
        },
      ),
    );
  if (r.privileged.length > 0)
    findings.push(
      finding(
        'RESTORE_NEEDS_SUPERUSER',
        stage,
        `${plural(r.privileged.length, 'statement')} need${r.privileged.length === 1 ? 's' : ''} a superuser, which the restoring role is not by design; the first: ${r.privileged[0]}`,
        { evidence: { statements: r.privileged.length } },
      ),
    );
  if (r.warnings.length > 0)
    findings.push(
      finding(
        'RESTORE_WARNING',
        stage,
        `${plural(r.warnings.length, 'warning')}; the first: ${r.warnings[0]}`,
        {
          evidence: { warnings: r.warnings.length },
        },
      ),
    );
  return findings;
}

/**
 * pg_restore's stderr says more than its exit status: classify every line into findings. A zero
 * exit with errors is EXIT_CODE_LIED; a non-zero exit nothing explains is RESTORE_FAILED.
 * `prepared`: the restore ran as the restorer (verify's replay, a drill's scratch cluster), a role
 * that is not a superuser by design, after what was made for it: what only a superuser may do is
 * not an error of the dump, and what follows from what was made is expected.
 */
export function classifyRestore(
  stage: string,
  stderr: string,
  exitCode: number | null,
  tool: string,
  prepared?: Prepared,
): {
  findings: Finding[];
  errors: number;
  /** The first error lines, as printed (catalog statements, never row values). */
  errorLines: string[];
  warnings: number;
} {
  const r = readStderr(stderr, prepared);
  // Errors that only follow from a classified cause (the statements after a missing role) still count.
  const findings = [...causeFindings(stage, tool, r), ...errorFindings(stage, r)];
  const anyError =
    r.errors.length > 0 || r.roles.size > 0 || r.extensions.size > 0 || r.truncated !== undefined;
  if (exitCode === 0 && anyError && !r.full)
    findings.push(
      finding(
        'EXIT_CODE_LIED',
        stage,
        `${tool} exited 0 although it reported ${plural(r.errors.length, 'error')}`,
        {
          evidence: { errors: r.errors.length },
        },
      ),
    );
  if (exitCode !== 0 && !anyError && !r.full && r.privileged.length === 0 && r.expected === 0)
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
  const errorCount =
    r.errors.length + r.roles.size + r.extensions.size + (r.truncated ? 1 : 0) + (r.full ? 1 : 0);
  return { findings, errors: errorCount, errorLines: r.errorLines, warnings: r.warnings.length };
}

export interface RestoreOptions {
  jobs: number;
  roles: RolesMode;
  /** Structure only: the tier `schema`, and verify's schema replay. */
  schemaOnly?: boolean;
  stage?: string;
  /**
   * Restoring as the restorer, after what was made for it (see classifyRestore): without owners,
   * which a superuser gives back after (owners.ts); its privileges kept unless roles is ignore.
   */
  prepared?: Prepared;
  /** Keep this up to date as the restore runs (pg_restore then runs with --verbose). */
  progress?: RestoreProgress;
}

/**
 * What psql gets from a plain dump, filtered as it streams through the same lexer and judge as
 * verify's scan (archive/plain.ts): no meta-command of the dump reaches psql (pg_dump's own
 * `\restrict` and `\connect` to its database are the tool's to handle, like its CREATE DATABASE and
 * that database's statements); with `restrictKey` psql is put in restricted mode first, so that even
 * a line the lexer misread could not run a meta-command. With `schemaOnly` COPY blocks and setval()
 * calls are left out; with `noOwner` ownership and privilege statements: the same as pg_restore's
 * --schema-only and --no-owner --no-privileges.
 */
export class PlainDumpFilter extends Transform {
  /** Hazards met while loading: verify's walk refuses such a dump first, so this is a second line. */
  readonly hazards: PlainHazard[] = [];
  private readonly judge = new PlainJudge();
  private readonly pieces: PlainPieces;
  private out: string[] = [];
  private skippingCopy = false;
  /** The table of the COPY block being loaded, as the dump names it (for progress). */
  copying: string | undefined;

  /** With owners `note`: each object's owner, from the comment pg_dump writes above it. */
  readonly owned: OwnedEntry[] = [];

  /**
   * `owners`: `keep` the dump's ALTER ... OWNER TO lines and grants; `note` each object's owner and
   * leave the OWNER TO lines out (grants kept); `ignore` both (pg_restore's --no-owner --no-privileges).
   */
  constructor(
    private readonly leaveOut: {
      schemaOnly: boolean;
      owners: 'keep' | 'note' | 'ignore';
      restrictKey?: string;
    },
  ) {
    super();
    this.pieces = new PlainPieces((p) => this.piece(p));
    if (leaveOut.restrictKey) this.out.push(`\\restrict ${leaveOut.restrictKey}\n`);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pieces.push(chunk);
    done(null, this.flushOut());
  }

  override _flush(done: TransformCallback): void {
    this.pieces.end();
    const left = this.judge.finish();
    if (left) this.hazards.push(left);
    done(null, this.flushOut());
  }

  private flushOut(): string {
    const text = this.out.join('');
    this.out = [];
    return text;
  }

  private piece(p: Piece): void {
    const { drop, hazard } = this.judge.judge(p);
    if (hazard) this.hazards.push(hazard);
    if (drop) return;
    if (p.kind === 'copy') {
      if (!this.skippingCopy) this.out.push(p.text);
      if (p.end) {
        this.skippingCopy = false;
        this.copying = undefined;
      }
      return;
    }
    const code = codeOf(p.text);
    const copy = /^COPY\s+((?:"(?:[^"]|"")*"|[^\s(".]+)(?:\.(?:"(?:[^"]|"")*"|[^\s(".]+))?)/i.exec(code);
    if (copy) this.copying = copy[1];
    if (this.leaveOut.schemaOnly && /^COPY\b/i.test(code)) {
      this.skippingCopy = true;
      return;
    }
    if (this.leaveOut.schemaOnly && /^SELECT pg_catalog\.setval\(/i.test(code)) return;
    const { owners } = this.leaveOut;
    if (owners === 'note') this.noteOwner(p.text);
    if (owners !== 'keep' && /^ALTER .* OWNER TO /i.test(code)) return;
    if (owners === 'ignore' && /^(GRANT|REVOKE) /i.test(code)) return;
    this.out.push(p.text);
  }

  /** pg_dump's `-- Name: t; Type: TABLE; Schema: public; Owner: app` above an object. */
  private noteOwner(text: string): void {
    for (const m of text.matchAll(/^-- Name: (.*); Type: (.*); Schema: (.*); Owner: (.*)$/gm)) {
      const [, tag, desc, schema, owner] = m as unknown as string[];
      if (!owner || owner === '-' || !OWNED_TYPES.has(desc as string)) continue;
      this.owned.push({
        desc: desc as string,
        namespace: schema === '-' ? '' : (schema as string),
        tag: tag as string,
        owner,
      });
    }
  }
}

/**
 * psql's `\restrict KEY` (CVE-2025-8714's fix): from 18, and 17.6, 16.10, 15.14, 14.19, 13.22 on.
 * After it psql refuses every meta-command but `\unrestrict KEY`.
 */
export function psqlRestricts(version: string): boolean {
  const m = /^(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  const since: Record<number, number> = { 17: 6, 16: 10, 15: 14, 14: 19, 13: 22 };
  return major >= 18 || (since[major] !== undefined && minor >= (since[major] as number));
}

/**
 * The environment of a pg_restore or psql whose stderr is classified: the tools' own messages in
 * English, and the server's too where the role may ask for it (lc_messages is a superuser's
 * setting: a role with only CREATEDB that asked would not even connect). The tools' own prefixes
 * (`pg_restore: error:`, `psql:...: ERROR:`) count the errors whatever the server's language.
 */
export async function restoreEnv(target: ConnInfo): Promise<Record<string, string | undefined>> {
  const superuser = await withClient(target, (c) =>
    c.query<{ s: boolean }>("SELECT current_setting('is_superuser') = 'on' AS s"),
  ).then(
    (r) => r.rows[0]?.s === true,
    () => false,
  );
  return {
    ...libpqEnv(target),
    LC_ALL: undefined,
    LC_MESSAGES: 'C',
    ...(superuser ? { PGOPTIONS: [target.options, '-c lc_messages=C'].filter(Boolean).join(' ') } : {}),
  };
}

/** What the plain-dump filter left out of psql's input, as the finding of its first hazard. */
function hazardFinding(stage: string, hazard: PlainDumpFilter['hazards'][number], count: number): Finding {
  return finding(
    hazard.kind === 'meta' || hazard.kind === 'copy-escape' ? 'PLAIN_META_COMMAND' : 'DUMP_OUTSIDE_DATABASE',
    stage,
    `line ${hazard.line}: ${hazard.text}; left out of what psql loaded`,
    { evidence: { line: hazard.line, count } },
  );
}

/** Reading or decompressing the dump failed while the restore program read it: it got only part. */
function unpackFinding(stage: string, tool: string, error: Error, wrapper: Wrapper | null): Finding {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const problem = wrapper ? wrapperProblem(wrapper, error) : undefined;
  // A decoder this machine lacks (no xz installed) is the restore's trouble, not the backup's.
  const damaged = problem !== undefined && problem.rule !== 'FORMAT_UNSUPPORTED';
  const why = problem?.rule === 'FORMAT_UNSUPPORTED' ? problem.message : error.message;
  return finding(
    damaged ? 'COMPRESSION_CORRUPT' : 'RESTORE_ERROR',
    stage,
    `${problem ? `the ${wrapper} stream around the dump` : 'reading the dump'} failed while ${tool} read it (${why}): it got only part of the dump`,
    { evidence: { error: code || error.message } },
  );
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
  const env = await restoreEnv(target);
  // A damaged wrapper ends the chain with its error (the program's stdin is closed, never left
  // waiting) and is said, however far the program got.
  let unpackError: Error | undefined;
  const unpacked = (then?: Transform): Readable => {
    const file = fs.createReadStream(input.path);
    if (opts.progress) opts.progress.file = file;
    const steps: NodeJS.ReadWriteStream[] = [
      ...(input.wrapper ? [unwrapStep(input.wrapper)] : []),
      ...(then ? [then] : []),
    ];
    if (steps.length === 0) return file;
    return pipeline([file, ...steps], (e) => {
      if (e) unpackError = e;
    }) as unknown as Readable;
  };
  let res: Awaited<ReturnType<typeof run>>;
  let tool: string;
  let filter: PlainDumpFilter | undefined;
  if (input.format === 'plain') {
    tool = `psql ${client.version}`;
    filter = new PlainDumpFilter({
      schemaOnly: opts.schemaOnly === true,
      owners: opts.roles === 'ignore' ? 'ignore' : opts.prepared ? 'note' : 'keep',
      ...(psqlRestricts(client.version) ? { restrictKey: randomBytes(24).toString('hex') } : {}),
    });
    const plainFilter = filter;
    if (opts.progress) opts.progress.copying = () => plainFilter.copying;
    res = await run(client.path, ['-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', target.database, '-f', '-'], {
      env,
      stdin: unpacked(filter),
    });
  } else {
    tool = `pg_restore ${client.version}`;
    const args = ['--dbname', target.database];
    if (opts.jobs > 1 && !input.wrapper && input.format !== 'tar') args.push('--jobs', String(opts.jobs));
    if (opts.roles === 'ignore') args.push('--no-owner', '--no-privileges');
    else if (opts.prepared) args.push('--no-owner');
    if (opts.schemaOnly) args.push('--schema-only');
    const progress = opts.progress;
    // --verbose names each object as it is done: counted, and kept out of the stderr classified.
    const watch: RunOptions = progress
      ? {
          onStderrLine: (l) => progress.line(l),
          keepStderrLine: (l) => !RestoreProgress.isVerbose(l),
        }
      : {};
    if (progress) args.push('--verbose');
    if (input.wrapper) res = await run(client.path, args, { env, stdin: unpacked(), ...watch });
    else res = await run(client.path, [...args, input.path], { env, ...watch });
  }
  const classified = classifyRestore(stage, res.stderr, res.code, tool, opts.prepared);
  const hazard = filter?.hazards[0];
  if (hazard) classified.findings.push(hazardFinding(stage, hazard, filter?.hazards.length ?? 1));
  if (unpackError) classified.findings.unshift(unpackFinding(stage, tool, unpackError, input.wrapper));
  return {
    exitCode: res.code,
    seconds: res.seconds,
    tool,
    errors: classified.errors,
    errorLines: classified.errorLines,
    warnings: classified.warnings,
    findings: classified.findings,
    ...(filter && opts.prepared && opts.roles !== 'ignore' ? { owned: filter.owned } : {}),
  };
}
