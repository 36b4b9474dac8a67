import path from 'node:path';
import { type ExpectedChecksum, findExpectedChecksum } from '../archive/checksum.js';
import { type Inspection, inspectDirectory, inspectStream } from '../archive/inspect.js';
import { fileChunks } from '../archive/lanes.js';
import { UNSAFE_RULES } from '../archive/plain.js';
import { diskFull, freeBytes, isDiskFull, scratchDiskFull, startedOutOfSpace } from '../core/disk.js';
import { errorMessage, ToolMissingError, UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { RunFolder } from '../core/workdir.js';
import { findAll, installHint, majorOf, type PgBinary, pick } from '../postgres/binaries.js';
import { type ConnInfo, ident, withClient } from '../postgres/client.js';
import { ScratchCluster } from '../postgres/cluster.js';
import { type RestoreInput, type RestoreResult, restoreDump } from '../postgres/restore.js';
import { tableName } from '../postgres/tables.js';
import { type Finding, finding } from '../report/findings.js';
import { Pipeline, type StageResult, type Verdict } from '../report/stages.js';
import { GrowingFile } from '../sources/growing.js';
import { LocalSource } from '../sources/local.js';
import { FetchError, parseS3Url, S3Source } from '../sources/s3.js';
import { type Candidate, candidates, choose, countTiers, looksLikeBackup } from '../sources/select.js';
import type { BackupSource } from '../sources/types.js';
import type { VerifyOptions } from './options.js';

export interface BackupFacts {
  name: string;
  time: string;
  timeFrom: 'name' | 'modified';
  ageHours: number;
  sizeBytes: number;
  localPath?: string;
  sha256?: string;
  format?: string;
  wrapper?: string | null;
  compression?: string;
  archiveVersion?: string;
  serverVersion?: string;
  pgDumpVersion?: string;
  dumpedAt?: string;
  database?: string;
  tables?: number;
  /** The archive's table of contents by entry type. */
  tocEntries?: Record<string, number>;
  extensions?: string[];
  owners?: string[];
  dataBlocks?: number;
  dataBytes?: number;
  /** Rows per table with data in the dump (schema.table), as the walk counted them. */
  tableRows?: Record<string, number>;
  checksum?: { algorithm: string; from: string; matched: boolean };
}

export interface VerifyResult {
  command: 'verify';
  verdict: Verdict;
  failOn: string;
  source: string;
  startedAt: string;
  totalSeconds: number;
  candidates: number;
  backup?: BackupFacts;
  schema?: { tool: string; server: string; seconds: number; errors: string[] };
  stages: StageResult[];
  findings: Finding[];
}

export function openSource(opts: VerifyOptions, log: Logger): BackupSource {
  if (opts.source.startsWith('s3://')) return new S3Source(parseS3Url('source', opts.source), opts.s3, log);
  return new LocalSource('source', opts.source);
}

function fetchFailed(stage: string, e: unknown, source: BackupSource): Finding[] {
  return [
    finding(
      'FETCH_FAILED',
      stage,
      e instanceof FetchError ? e.message : `${source.description}: ${errorMessage(e)}`,
    ),
  ];
}

/**
 * A remote backup into `file` and through the one-pass inspection at once: the download writes its
 * parallel ranged parts where they belong in the file, and the inspection reads the complete front of
 * the file back as it grows (from the page cache), hashing and walking it. Memory stays at the
 * sockets' chunks and the reader's, whatever the backup's size.
 */
async function downloadAndInspect(
  source: BackupSource,
  name: string,
  file: string,
  md5: boolean,
): Promise<Inspection> {
  if (!source.downloadTo) throw new Error(`${source.description} cannot download ${name}`);
  const growing = new GrowingFile(file);
  const download = source
    .downloadTo(name, file, undefined, (bytes) => growing.advance(bytes))
    .then(
      () => growing.finish(),
      (e: unknown) => {
        growing.fail(e);
        throw e;
      },
    );
  download.catch(() => {});
  const insp = await inspectStream(growing.chunks(), {
    md5,
    file,
    fileGrows: true,
  });
  await download;
  return insp;
}

const WORK_DIR_FIX = 'Free space there, or point work-dir at a folder on a disk with room for the backup.';

/**
 * A remote backup into the run's own folder (`<work-dir>/run-XXXXXX/<name>.part`, renamed whole),
 * read as it arrives. A backup larger than the free space is DISK_FULL before a byte is fetched; a
 * disk that fills during the download is DISK_FULL too, and the partial file is removed either way.
 */
async function download(
  source: BackupSource,
  backup: Candidate,
  work: RunFolder,
  md5: boolean,
): Promise<{ insp: Inspection; dest: string } | { finding: Finding }> {
  const what = `the download of ${backup.name}`;
  const full = () => diskFull('read', work.workDir, what, { needed: backup.size, fix: WORK_DIR_FIX });
  const free = freeBytes(work.workDir);
  if (free !== undefined && backup.size > free) return { finding: full() };
  const base = path.basename(backup.name);
  const part = work.partial(`${base}.part`);
  try {
    const insp = await downloadAndInspect(source, backup.name, part, md5);
    const dest = path.join(work.path(), base);
    work.keep(part, dest);
    return { insp, dest };
  } catch (e) {
    work.discard(part);
    if (!isDiskFull(e)) throw e;
    return { finding: full() };
  }
}

const hours = (ms: number) => Math.round((ms / 3_600_000) * 100) / 100;

/** What the verify stages found, for runVerify's result and for the pipelines that build on it. */
export interface VerifyState {
  source: string;
  candidates: number;
  backup?: BackupFacts;
  inspection?: Inspection;
  schema?: VerifyResult['schema'];
}

/**
 * verify-backup: locate the newest backup, check its age and retention, read it once (download,
 * hash, decompress, walk every block), compare checksums, and replay its schema.
 */
export async function runVerify(
  opts: VerifyOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): Promise<VerifyResult> {
  const pipe = new Pipeline(opts.failOn, onStage);
  const work = new RunFolder(opts.workDir);
  let state: VerifyState;
  try {
    state = await verifyStages(pipe, opts, log, work);
  } finally {
    work.close();
  }
  return pipe.settle({
    ...pipe.begin('verify'),
    source: state.source,
    candidates: state.candidates,
    ...(state.backup ? { backup: state.backup } : {}),
    ...(state.schema ? { schema: state.schema } : {}),
  });
}

/**
 * The verify stages, run into `pipe`. A download goes to `work`, the run's own folder (its caller
 * closes it when the run ends). `schemaSkip`: a reason to skip the schema replay (a drill restores
 * the whole dump instead).
 */
export async function verifyStages(
  pipe: Pipeline,
  opts: VerifyOptions,
  log: Logger,
  work: RunFolder,
  schemaSkip?: string,
): Promise<VerifyState> {
  const now = opts.now ?? new Date();
  const source = openSource(opts, log);
  const result: VerifyState = { source: source.description, candidates: 0 };

  let all: Awaited<ReturnType<BackupSource['list']>> = [];
  let chosen: Candidate | undefined;
  const located = await pipe.stage('locate', async () => {
    try {
      all = await source.list();
    } catch (e) {
      if (e instanceof UserError) throw e;
      return { findings: fetchFailed('locate', e, source) };
    }
    // A source that names one file is that backup, whatever its name looks like.
    const single = source.single;
    const list =
      single && !opts.pattern
        ? candidates(
            all.filter((o) => o.name === single),
            '*',
          )
        : candidates(all, opts.pattern);
    result.candidates = list.length;
    chosen = choose(list, opts.select);
    if (chosen) {
      log.info(`backup: ${chosen.name} (${list.length} candidate${list.length === 1 ? '' : 's'})`);
      return {};
    }
    const what = opts.pattern ? `matching "${opts.pattern}"` : 'that looks like a dump';
    const message =
      opts.select !== 'latest' && list.length > 0
        ? `no backup named "${opts.select}" under ${source.description}; the newest is ${list[0]?.name}`
        : `no backup ${what} under ${source.description} (${all.length} object${all.length === 1 ? '' : 's'} there)`;
    return {
      findings: [finding('BACKUP_MISSING', 'locate', message, { evidence: { objects: all.length } })],
    };
  });
  if (!chosen) {
    const why =
      located.status === 'not-run' || located.findings.some((f) => f.rule === 'FETCH_FAILED')
        ? 'the source could not be listed'
        : 'no backup was found';
    for (const s of ['age', 'retention', 'read', 'checksum', 'archive', 'schema']) pipe.skip(s, why);
    return result;
  }
  const backup = chosen;
  const ageMs = now.getTime() - backup.time.getTime();
  const facts: BackupFacts = {
    name: backup.name,
    time: backup.time.toISOString(),
    timeFrom: backup.timeFrom,
    ageHours: hours(ageMs),
    sizeBytes: backup.size,
  };
  result.backup = facts;

  await pipe.stage('age', async () => {
    if (ageMs <= opts.maxAgeSeconds * 1000) return {};
    return {
      findings: [
        finding(
          'BACKUP_TOO_OLD',
          'age',
          `the newest backup, ${backup.name}, is ${facts.ageHours} hours old (max-age is ${hours(opts.maxAgeSeconds * 1000)} hours; time from its ${backup.timeFrom === 'name' ? 'name' : 'modification time'})`,
          { evidence: { ageHours: facts.ageHours, maxAgeHours: hours(opts.maxAgeSeconds * 1000) } },
        ),
      ],
    };
  });

  const expect = opts.expect;
  if (expect) {
    await pipe.stage('retention', async () => {
      const counts = countTiers(all.filter(looksLikeBackup), Object.keys(expect));
      return {
        findings: Object.entries(expect)
          .filter(([tier, want]) => (counts[tier] ?? 0) < want)
          .map(([tier, want]) =>
            finding(
              'RETENTION_SHORT',
              'retention',
              `the ${tier} tier holds ${counts[tier] ?? 0} backups; ${want} expected`,
              {
                evidence: { tier, found: counts[tier] ?? 0, expected: want },
              },
            ),
          ),
      };
    });
  } else pipe.skip('retention', 'no `expect` given');

  // One pass: download (S3), hash, undo compression, parse, walk every block.
  let expected: ExpectedChecksum | undefined;
  let insp: Inspection | undefined;
  const names = new Set(all.map((o) => o.name));
  const read = await pipe.stage('read', async () => {
    try {
      if (opts.checksum.mode === 'literal') {
        expected = { algorithm: 'sha256', value: opts.checksum.sha256, from: 'the checksum input' };
      } else if (opts.checksum.mode !== 'skip' && backup.kind === 'file') {
        expected = await findExpectedChecksum(source, backup.name, names);
      }
      const local = source.localPath(backup.name);
      if (backup.kind === 'directory' && local) {
        insp = await inspectDirectory(local);
        facts.localPath = local;
      } else if (local) {
        insp = await inspectStream(fileChunks(local), {
          md5: expected?.algorithm === 'md5',
          file: local,
        });
        facts.localPath = local;
      } else {
        const got = await download(source, backup, work, expected?.algorithm === 'md5');
        if ('finding' in got) return { findings: [got.finding] };
        insp = got.insp;
        facts.localPath = got.dest;
        log.info(`downloaded ${backup.name} to ${got.dest}`);
      }
    } catch (e) {
      if (e instanceof UserError) throw e;
      return { findings: fetchFailed('read', e, source) };
    }
    return {};
  });
  if (!insp) {
    const why = read.findings.length
      ? 'the backup could not be read'
      : `reading failed: ${read.reason ?? ''}`;
    for (const s of ['checksum', 'archive', 'schema']) pipe.skip(s, why);
    return result;
  }
  const ins = insp;
  result.inspection = ins;
  Object.assign(facts, {
    sizeBytes: ins.size,
    ...(ins.format !== 'directory' ? { sha256: ins.sha256 } : {}),
    format: ins.format,
    wrapper: ins.wrapper,
    ...(ins.compression ? { compression: ins.compression } : {}),
    ...(ins.header
      ? {
          archiveVersion: ins.header.archiveVersion,
          dumpedAt: ins.header.dumpedAt,
          database: ins.header.database,
        }
      : {}),
    ...(ins.serverVersion ? { serverVersion: ins.serverVersion } : {}),
    ...(ins.pgDumpVersion ? { pgDumpVersion: ins.pgDumpVersion } : {}),
    ...(ins.toc ? { tables: ins.toc.tables } : {}),
    ...(ins.toc && ins.toc.entries > 0
      ? { tocEntries: ins.toc.byType, extensions: ins.toc.extensions, owners: ins.toc.owners }
      : {}),
    dataBlocks: ins.dataBlocks,
    dataBytes: ins.dataBytes,
    ...(ins.tableRows
      ? { tableRows: Object.fromEntries(ins.tableRows.map((t) => [tableName(t.schema, t.table), t.rows])) }
      : {}),
  });

  if (opts.checksum.mode === 'skip') pipe.skip('checksum', 'checksum: skip');
  else {
    await pipe.stage('checksum', async () => {
      if (!expected) {
        const required = opts.checksum.mode === 'required';
        const message =
          ins.format === 'directory'
            ? 'a directory-format dump has no single checksum to compare'
            : `no checksum found for ${backup.name}: no ${backup.name}.sha256 or .md5 beside it, no sha256/md5 object metadata`;
        return {
          findings: [
            finding('CHECKSUM_UNVERIFIED', 'checksum', message, required ? { severity: 'high' } : {}),
          ],
        };
      }
      const actual = expected.algorithm === 'sha256' ? ins.sha256 : ins.md5;
      const matched = actual === expected.value;
      facts.checksum = { algorithm: expected.algorithm, from: expected.from, matched };
      if (matched) return {};
      return {
        findings: [
          finding(
            'CHECKSUM_MISMATCH',
            'checksum',
            `${expected.algorithm} of ${backup.name} is ${actual}, but ${expected.from} says ${expected.value}`,
            {
              evidence: {
                algorithm: expected.algorithm,
                expected: expected.value,
                actual: actual ?? null,
                from: expected.from,
              },
            },
          ),
        ],
      };
    });
  }

  await pipe.stage('archive', async () => ({
    findings: ins.problems.map((p) => ({
      ...finding(p.rule, 'archive', p.message, { evidence: p.evidence ?? {} }),
    })),
  }));

  if (schemaSkip) pipe.skip('schema', schemaSkip);
  else if (!opts.schemaCheck) pipe.skip('schema', 'schema-check: false');
  else if (ins.problems.some((p) => UNSAFE_RULES.has(p.rule)))
    pipe.skip(
      'schema',
      `NOT RUN: the dump runs programs, touches server files or acts outside its database when restored (${ins.problems.find((p) => UNSAFE_RULES.has(p.rule))?.rule}), so nothing of it was run`,
    );
  else if (
    ins.problems.some((p) => ['ARCHIVE_UNREADABLE', 'FORMAT_UNSUPPORTED'].includes(p.rule)) ||
    !ins.format ||
    ins.format === 'unknown' ||
    ins.format === 'tar'
  ) {
    pipe.skip('schema', 'the archive could not be read');
  } else {
    await pipe.stage('schema', async () => {
      const tools = await restoreTools(ins, opts.pgBinDir, 'schema');
      if ('finding' in tools) return { findings: [tools.finding] };
      const client = tools.client;
      const serverMajor = majorOf(ins.serverVersion ?? '') ?? 0;
      let cluster: ScratchCluster;
      try {
        cluster = await ScratchCluster.start({
          minMajor: serverMajor,
          binDir: opts.pgBinDir,
          label: 'verify',
          logger: log,
        });
      } catch (e) {
        if (startedOutOfSpace(e))
          return { findings: [scratchDiskFull('schema', 'a scratch cluster', errorMessage(e))] };
        if (!(e instanceof ToolMissingError)) throw e;
        return { findings: [await serverMissing(ins, opts.pgBinDir, 'schema', e)] };
      }
      let replay: RestoreResult;
      try {
        // The one restore path, structure only and without owners: what is checked is that it loads.
        const input = {
          format: ins.format as RestoreInput['format'],
          path: facts.localPath as string,
          gzip: ins.wrapper === 'gzip',
        };
        replay = await restoreDump(client, await replayTarget(cluster, ins), input, {
          jobs: 1,
          roles: 'ignore',
          schemaOnly: true,
          stage: 'schema',
          unprivileged: true,
        });
      } finally {
        await cluster.stop();
      }
      result.schema = {
        tool: replay.tool,
        server: cluster.version,
        seconds: Math.round(replay.seconds * 100) / 100,
        errors: replay.errorLines,
      };
      const notes = replay.findings.filter((x) => x.rule === 'RESTORE_NEEDS_SUPERUSER');
      // A gzip wrapper that failed under the replay: it loaded only part of the schema.
      const cut = replay.findings.filter((x) => x.rule === 'COMPRESSION_CORRUPT');
      if (replay.exitCode === 0 && replay.errors === 0) return { findings: [...cut, ...notes] };
      const full = replay.findings.find((f) => f.rule === 'DISK_FULL');
      if (full) return { findings: [scratchDiskFull('schema', 'the schema replay', full.message)] };
      if (replay.errors === 0 && notes.length > 0) return { findings: [...cut, ...notes] };
      const first = replay.errorLines[0];
      return {
        findings: [
          ...cut,
          finding(
            'SCHEMA_REPLAY_FAILED',
            'schema',
            `loading the schema into PostgreSQL ${cluster.version} with ${replay.tool} failed: ${replay.errors} error${replay.errors === 1 ? '' : 's'}${first ? `, the first: ${first}` : ` (exit ${replay.exitCode})`}`,
            { evidence: { errors: replay.errors, exitCode: replay.exitCode, first: first ?? null } },
          ),
          ...notes,
        ],
      };
    });
  }
  return result;
}

/**
 * Where the schema is replayed: a database of its own, owned by a role that is not a superuser, so
 * that a dump's SQL has none of a superuser's powers (COPY ... TO PROGRAM, server files). The
 * extensions the dump names are made first, as a superuser, from the server's own files, as an
 * administrator would make them before a restore.
 */
async function replayTarget(cluster: ScratchCluster, ins: Inspection): Promise<ConnInfo> {
  const role = 'restorable_replay';
  await withClient(cluster.conn(), async (c) => {
    await c.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
    await c.query(`CREATE DATABASE ${role} OWNER ${role} TEMPLATE template0`);
  });
  await withClient(cluster.conn(role), async (c) => {
    for (const ext of ins.toc?.extensions ?? [])
      await c.query(`CREATE EXTENSION IF NOT EXISTS ${ident(ext)} CASCADE`).catch(() => undefined);
  });
  return { ...cluster.conn(role), user: role };
}

/**
 * The client that can read this dump: pg_restore of at least the archive's pg_dump major, or psql for
 * plain dumps. None is VERSION_UNSUPPORTED (naming the major and how to install it).
 */
export async function restoreTools(
  ins: Inspection,
  binDir: string | undefined,
  stage: string,
): Promise<{ client: PgBinary } | { finding: Finding }> {
  const plain = ins.format === 'plain';
  const dumpMajor = majorOf(ins.pgDumpVersion ?? '') ?? 0;
  // psql of at least the dump's major (a newer pg_dump writes what an older psql may not know),
  // else the newest there is: a plain dump is SQL, which an older psql often still loads.
  const client = plain
    ? ((await pick('psql', dumpMajor, binDir)) ?? (await findAll('psql', binDir))[0])
    : await pick('pg_restore', dumpMajor, binDir);
  if (client) return { client };
  if (plain) {
    return {
      finding: finding(
        'SCHEMA_REPLAY_NOT_RUN',
        stage,
        'psql is not installed, so the dump could not be loaded',
        {
          fix: `Install the PostgreSQL client: ${installHint(15, 'client')}`,
        },
      ),
    };
  }
  return {
    finding: finding(
      'VERSION_UNSUPPORTED',
      stage,
      `the archive was written by pg_dump ${ins.pgDumpVersion?.trim()}; reading it needs pg_restore ${dumpMajor} or newer, and none is installed`,
      {
        fix: `Install the PostgreSQL ${dumpMajor} client: ${installHint(dumpMajor, 'client')}`,
        evidence: { needMajor: dumpMajor },
      },
    ),
  };
}

/** No server new enough for the dump: VERSION_UNSUPPORTED when an older one exists, else no server at all. */
export async function serverMissing(
  ins: Inspection,
  binDir: string | undefined,
  stage: string,
  e: Error,
): Promise<Finding> {
  const serverMajor = majorOf(ins.serverVersion ?? '') ?? 0;
  const newest = serverMajor > 0 ? await pick('initdb', 0, binDir) : undefined;
  return newest
    ? finding(
        'VERSION_UNSUPPORTED',
        stage,
        `the dump comes from PostgreSQL ${ins.serverVersion?.trim()}; it needs a PostgreSQL ${serverMajor} (or newer) server, and the newest installed is ${newest.major}`,
        {
          fix: `Install the PostgreSQL ${serverMajor} server: ${installHint(serverMajor, 'server')}`,
          evidence: { needMajor: serverMajor },
        },
      )
    : finding('SCHEMA_REPLAY_NOT_RUN', stage, `no PostgreSQL server binaries: ${e.message}`);
}

/** The action's outputs, also printed by the CLI with --json. */
export function verifyOutputs(r: VerifyResult, reportPath?: string): Record<string, string> {
  const b = r.backup;
  return {
    verdict: r.verdict,
    backup: b?.name ?? '',
    'local-path': b?.localPath ?? '',
    'size-bytes': b ? String(b.sizeBytes) : '',
    'age-hours': b ? String(b.ageHours) : '',
    sha256: b?.sha256 ?? '',
    'server-version': b?.serverVersion ?? '',
    'dump-format': b?.format ?? '',
    tables: b?.tables !== undefined ? String(b.tables) : '',
    findings: JSON.stringify(r.findings),
    report: reportPath ?? '',
  };
}
