import type { Inspection } from '../../archive/inspect.js';
import { UNSAFE_RULES } from '../../archive/plain.js';
import { scratchDiskFull, startedOutOfSpace } from '../../core/disk.js';
import { errorMessage, ToolMissingError } from '../../core/errors.js';
import { majorOf } from '../../postgres/binaries.js';
import { type ConnInfo, withClient } from '../../postgres/client.js';
import { ScratchCluster } from '../../postgres/cluster.js';
import { makeRestorer, type Prepared, precreateExtensions } from '../../postgres/owners.js';
import { type RestoreInput, type RestoreResult, restoreDump } from '../../postgres/restore.js';
import { type Finding, finding } from '../../report/findings.js';
import type { StageOutcome } from '../../report/stages.js';
import type { ReadBackup } from '../context.js';
import { restoreTools, serverMissing } from '../tools.js';

/** Why the schema replay does not run, or undefined when it does. */
function schemaNotRun(b: ReadBackup, schemaSkip: string | undefined): string | undefined {
  const { ins } = b;
  if (schemaSkip) return schemaSkip;
  if (!b.opts.schemaCheck) return 'schema-check: false';
  const unsafe = ins.problems.find((p) => UNSAFE_RULES.has(p.rule));
  if (unsafe)
    return `NOT RUN: the dump runs programs, touches server files or acts outside its database when restored (${unsafe.rule}), so nothing of it was run`;
  if (
    ins.problems.some((p) => ['ARCHIVE_UNREADABLE', 'FORMAT_UNSUPPORTED'].includes(p.rule)) ||
    !ins.format ||
    ins.format === 'unknown'
  )
    return 'the archive could not be read';
  return undefined;
}

/**
 * The schema stage: the dump's structure replayed into a scratch cluster, without owners and as a
 * role that is not a superuser. `schemaSkip`: a reason to skip it (a drill restores the whole dump).
 */
export async function schemaStage(b: ReadBackup, schemaSkip: string | undefined): Promise<void> {
  const skip = schemaNotRun(b, schemaSkip);
  if (skip) b.pipe.skip('schema', skip);
  else await b.pipe.stage('schema', () => replaySchema(b));
}

async function replaySchema(b: ReadBackup): Promise<StageOutcome> {
  const { ins, opts } = b;
  const tools = await restoreTools(ins, opts.pgBinDir, 'schema');
  if ('finding' in tools) return { findings: [tools.finding] };
  let cluster: ScratchCluster;
  try {
    cluster = await ScratchCluster.start({
      minMajor: majorOf(ins.serverVersion ?? '') ?? 0,
      binDir: opts.pgBinDir,
      label: 'verify',
      logger: b.log,
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
      path: b.facts.localPath as string,
      wrapper: ins.wrapper,
    };
    const target = await replayTarget(cluster, ins);
    replay = await restoreDump(tools.client, target.conn, input, {
      prepared: target.prepared,
      jobs: 1,
      roles: 'ignore',
      schemaOnly: true,
      stage: 'schema',
    });
  } finally {
    await cluster.stop();
  }
  b.state.schema = {
    tool: replay.tool,
    server: cluster.version,
    seconds: Math.round(replay.seconds * 100) / 100,
    errors: replay.errorLines,
  };
  return { findings: replayFindings(replay, cluster.version) };
}

/** What the replay's outcome says: nothing, the notes it made, a full disk, or SCHEMA_REPLAY_FAILED. */
function replayFindings(replay: RestoreResult, version: string): Finding[] {
  const notes = replay.findings.filter((x) => x.rule === 'RESTORE_NEEDS_SUPERUSER');
  // A wrapper that failed under the replay: it loaded only part of the schema.
  const cut = replay.findings.filter((x) => x.rule === 'COMPRESSION_CORRUPT');
  if (replay.exitCode === 0 && replay.errors === 0) return [...cut, ...notes];
  const full = replay.findings.find((f) => f.rule === 'DISK_FULL');
  if (full) return [scratchDiskFull('schema', 'the schema replay', full.message)];
  if (replay.errors === 0 && notes.length > 0) return [...cut, ...notes];
  const first = replay.errorLines[0];
  return [
    ...cut,
    finding(
      'SCHEMA_REPLAY_FAILED',
      'schema',
      `loading the schema into PostgreSQL ${version} with ${replay.tool} failed: ${replay.errors} error${replay.errors === 1 ? '' : 's'}${first ? `, the first: ${first}` : ` (exit ${replay.exitCode})`}`,
      { evidence: { errors: replay.errors, exitCode: replay.exitCode, first: first ?? null } },
    ),
    ...notes,
  ];
}

/**
 * Where the schema is replayed: a database of its own, owned by the restorer, a role that is not a
 * superuser, so that a dump's SQL has none of a superuser's powers (COPY ... TO PROGRAM, server
 * files). The untrusted extensions the dump names are made first, as a superuser, from the
 * server's own files, as an administrator would make them before a restore (postgres/owners.ts).
 */
async function replayTarget(
  cluster: ScratchCluster,
  ins: Inspection,
): Promise<{ conn: ConnInfo; prepared: Prepared }> {
  const database = 'restorable_replay';
  await withClient(cluster.conn(), (c) => c.query(`CREATE DATABASE ${database} TEMPLATE template0`));
  const conn = await makeRestorer(cluster.conn(), database);
  const prepared = await precreateExtensions(cluster.conn(database), ins.toc?.extensionSchemas ?? []);
  return { conn, prepared };
}
