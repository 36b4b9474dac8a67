import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { OwnedEntry } from '../../archive/inspect.js';
import { CapExceeded, capped, unwrapStep } from '../../archive/wrapper.js';
import type { BackupFacts } from '../../backup/context.js';
import { restoreTools } from '../../backup/tools.js';
import { diskFull, freeBytes, isDiskFull, scratchDiskFull } from '../../core/disk.js';
import { formatBytes } from '../../core/duration.js';
import { run } from '../../core/exec.js';
import type { PgBinary } from '../../postgres/binaries.js';
import { type ConnInfo, queryRows, withClient } from '../../postgres/client.js';
import { giveOwners, RESTORER } from '../../postgres/owners.js';
import {
  classifyRestore,
  type RestoreInput,
  type RestoreOptions,
  restoreDump,
  restoreEnv,
} from '../../postgres/restore.js';
import { RestoreProgress } from '../../postgres/restore-progress.js';
import { listTables } from '../../postgres/tables.js';
import { type Finding, finding } from '../../report/findings.js';
import type { StageOutcome } from '../../report/stages.js';
import type { TargetedDrill } from '../context.js';
import { SideCounts } from '../side-counts.js';
import type { DrillTarget } from '../target.js';

const SERVER_FIX = "Free space on the target server's disk (its data directory), or drill elsewhere.";
const UNPACK_FIX =
  'Free space there, or point work-dir at a folder on a disk with room for the dump unpacked.';
/** Free space under a scratch cluster below which a failed restore is put down to its disk: a WAL segment. */
const WAL_SEGMENT = 16 * 1024 * 1024;
/** What a restore whose target's disk filled says after it: the full disk's doing, not the backup's. */
const AFTER_FULL = new Set(['RESTORE_ERROR', 'RESTORE_WARNING', 'RESTORE_FAILED', 'EXIT_CODE_LIED']);
/** A restore with one of these did not complete: the ladder has nothing to climb. */
const NOT_RESTORED = ['RESTORE_FAILED', 'EMPTY_RESTORE', 'ARCHIVE_TRUNCATED', 'DISK_FULL', 'UNPACK_CAPPED'];

type DumpFormat = RestoreInput['format'];

/**
 * The restore stage: the dump into the drill's database, through the one restore path (the sample
 * tier: the schema, then the named tables' rows). True when it completed, else the ladder is skipped.
 */
export async function restoreStage(t: TargetedDrill): Promise<boolean> {
  const restore = await t.pipe.stage('restore', async () => {
    const format = t.ins.format as DumpFormat;
    if (t.opts.tier === 'sample' && format === 'plain')
      return { notRun: 'the sample tier needs a custom or directory dump' };
    const client = await restoreTools(t.ins, t.opts.verify.pgBinDir, 'restore');
    if ('finding' in client) return { findings: [client.finding] };
    const seekable = await seekableInput(t, format);
    if ('findings' in seekable) return seekable;
    try {
      return await restoreInto(t, client.client, seekable.input);
    } finally {
      if (seekable.unpacked) t.work.discard(seekable.unpacked);
    }
  });
  const restored =
    restore.status !== 'not-run' && !restore.findings.some((f) => NOT_RESTORED.includes(f.rule));
  if (!restored) {
    for (const s of ['structure', 'volume', 'semantics', 'compare', 'integrity'])
      t.pipe.skip(s, 'the restore did not complete');
  }
  return restored;
}

/**
 * The dump as the restore reads it. pg_restore --jobs, and the sample tier's --list, need a file it
 * can seek in: a compressed custom dump is unpacked first (into the drill's folder, removed after).
 */
async function seekableInput(
  t: TargetedDrill,
  format: DumpFormat,
): Promise<{ input: RestoreInput; unpacked?: string } | { findings: Finding[] }> {
  const file = t.backup.localPath;
  const wrapper = t.ins.wrapper;
  const seeks = t.opts.tier === 'sample' || (format === 'custom' && t.opts.jobs > 1);
  if (!(wrapper && format !== 'plain' && seeks)) return { input: { format, path: file, wrapper } };
  const unpacked = t.work.partial(`${path.basename(file).replace(/\.(gz|zst|lz4|xz|bz2)$/, '')}.unpacked`);
  const cap = unpackCap(t.backup.sizeBytes, freeBytes(t.work.workDir));
  const written = fs.createWriteStream(unpacked);
  t.pipe.progress(() => `unpacking for pg_restore: ${formatBytes(written.bytesWritten)} written`);
  try {
    await pipeline(fs.createReadStream(file), unwrapStep(wrapper), capped(cap.limit, cap.why), written);
  } catch (e) {
    t.work.discard(unpacked);
    const stopped = e instanceof CapExceeded;
    if (stopped && !cap.byDisk) return { findings: [finding('UNPACK_CAPPED', 'restore', e.message)] };
    if (!stopped && !isDiskFull(e)) throw e;
    const what = `the unpacked copy of ${t.backup.name}`;
    const cause = stopped ? { cause: e.message } : {};
    return { findings: [diskFull('restore', t.work.workDir, what, { fix: UNPACK_FIX, ...cause })] };
  }
  return { input: { format, path: unpacked, wrapper: null }, unpacked };
}

/** How much larger than the file its unpacked copy may be: more than any real dump compresses. */
export const UNPACK_MAX_RATIO = 1000;

/**
 * The cap on a dump's unpacked copy: the smaller of 1000× its compressed size (past it, the file is
 * suspect: UNPACK_CAPPED) and half the free space in the work folder (the rest is the restore's, and
 * whatever else is on that disk: past it, DISK_FULL before the disk is full), with why.
 */
export function unpackCap(
  size: number,
  free: number | undefined,
): { limit: number; byDisk: boolean; why: string } {
  const byRatio = Math.max(size, 1) * UNPACK_MAX_RATIO;
  const half = free === undefined ? Number.POSITIVE_INFINITY : Math.floor(free / 2);
  const byDisk = half < byRatio;
  const limit = byDisk ? half : byRatio;
  const why = byDisk
    ? `it unpacks to more than ${formatBytes(limit)}, half of the ${formatBytes(free ?? 0)} free when it began: stopped there, the copy removed, so the disk does not fill`
    : `the dump decompresses to more than ${formatBytes(limit)} (${UNPACK_MAX_RATIO}× its ${formatBytes(size)} compressed size), the cap on its unpacked copy: a crafted file that expands without end, or a dump compressed past any real one; the copy was removed`;
  return { limit, byDisk, why };
}

/** The restore itself, its findings read for a full disk, and the restored tables counted. */
async function restoreInto(t: TargetedDrill, client: PgBinary, input: RestoreInput): Promise<StageOutcome> {
  const { opts, conn } = t;
  const findings: Finding[] = [];
  // A plain dump's owners, read as it loaded (a TOC's are in the inspection).
  let owned: OwnedEntry[] | undefined;
  if (opts.tier === 'sample') {
    // The schema's objects are the TOC's entries that are not data.
    const byType = t.ins.toc?.byType ?? {};
    const data = (byType['TABLE DATA'] ?? 0) + (byType['SEQUENCE SET'] ?? 0) + (byType.BLOBS ?? 0);
    const progress = new RestoreProgress((t.ins.toc?.entries ?? 0) - data, 0, t.ins.tableRows);
    t.pipe.progress(() => `schema: ${progress.describe() ?? 'starting'}`);
    const schema = await restoreDump(client, conn, input, {
      ...asRestorer(t),
      jobs: opts.jobs,
      roles: opts.roles,
      schemaOnly: true,
      progress,
    });
    const rows = await countingAlong(t, (counter) => restoreSampleData(client, t, input, counter));
    findings.push(...schema.findings, ...rows.findings);
    owned = schema.owned;
    t.result.restore = {
      tool: schema.tool,
      seconds: schema.seconds + rows.seconds,
      exitCode: schema.exitCode ?? rows.exitCode,
      // The rows' load, as it ran: one item at a time for a role whose load must keep an order.
      jobs: rows.jobs,
    };
  } else {
    const progress = new RestoreProgress(t.ins.toc?.entries ?? 0, t.backup.sizeBytes, t.ins.tableRows);
    t.pipe.progress(() => progress.describe());
    const r = await countingAlong(t, (counter) => {
      if (counter) progress.onData = counter;
      return restoreDump(client, conn, input, {
        ...asRestorer(t),
        jobs: opts.jobs,
        roles: opts.roles,
        schemaOnly: opts.tier === 'schema',
        progress,
      });
    });
    findings.push(...r.findings);
    owned = r.owned;
    t.result.restore = {
      tool: r.tool,
      seconds: r.seconds,
      exitCode: r.exitCode,
      jobs: input.wrapper || input.format === 'tar' ? 1 : opts.jobs,
    };
  }
  const out = restoreDiskFull(findings, t.target.kind, t.backup);
  const full = out.some((f) => f.rule === 'DISK_FULL');
  if (!out.some((f) => NOT_RESTORED.includes(f.rule))) out.push(...(await ownersBack(t, owned, out)));
  // A server whose disk filled may have stopped (a PANIC writing WAL): no tables to count then.
  const tables = await withClient(conn, async (c) => (await listTables(c)).length).catch((e: unknown) => {
    if (!full) throw e;
    return undefined;
  });
  if (tables !== undefined) t.result.tables = tables;
  if (tables === 0 && !full)
    out.push(finding('EMPTY_RESTORE', 'restore', `the restored database ${t.database} has no user tables`));
  return { findings: out };
}

/** A scratch drill's restore, as the restorer: without owners, with what was made for it first. */
function asRestorer(t: TargetedDrill): Pick<RestoreOptions, 'prepared'> {
  return t.prepared ? { prepared: t.prepared } : {};
}

/**
 * After a restore as the restorer: the owners the dump names given back (by the superuser, matched
 * in the catalog), the restorer a member of each so the checks after read what it made. `plain`:
 * a plain dump's owners, read from it as it loaded. roles: strict says each absent owner (once:
 * `said` may have named it already, as a grantee).
 */
async function ownersBack(
  t: TargetedDrill,
  plain: OwnedEntry[] | undefined,
  said: Finding[],
): Promise<Finding[]> {
  if (!t.prepared || t.opts.roles === 'ignore') return [];
  const entries = plain ?? t.ins.toc?.owned ?? [];
  const r = await giveOwners(t.target.conn(t.database), entries);
  t.log.debug(`owners given back: ${r.given} objects, to ${r.owners.join(', ') || 'no role'}`);
  const findings: Finding[] = [];
  const named = new Set(said.filter((f) => f.rule === 'ROLE_ABSENT').map((f) => f.evidence?.role));
  if (t.opts.roles === 'strict')
    for (const role of r.absent.filter((x) => !named.has(x)))
      findings.push(
        finding(
          'ROLE_ABSENT',
          'restore',
          `role "${role}" does not exist on the target: it owns objects of the dump`,
          {
            evidence: { role },
          },
        ),
      );
  const first = r.unmatched[0];
  if (first)
    findings.push(
      finding(
        'OWNERS_NOT_RESTORED',
        'restore',
        `${r.unmatched.length} object${r.unmatched.length === 1 ? '' : 's'} stay ${RESTORER}'s, not found by the name the dump gives; the first: ${first.desc} ${first.namespace ? `${first.namespace}.` : ''}${first.tag} (owner ${first.owner})`,
        { evidence: { objects: r.unmatched.length } },
      ),
    );
  return findings;
}

/**
 * A restore with its tables counted as their data finishes (SideCounts), for the volume stage:
 * pg_restore's tiers with rows (a plain dump's psql says nothing per table), when the walk knows the
 * dump's tables. The counts are kept on the drill when the restore ends, whatever its outcome.
 */
async function countingAlong<R>(t: TargetedDrill, restore: (counter?: SideCounts) => Promise<R>): Promise<R> {
  const rows = t.opts.tier !== 'schema' && t.ins.format !== 'plain' && t.ins.tableRows !== undefined;
  if (!rows) return restore();
  const counter = new SideCounts(t.conn, t.log);
  try {
    return await restore(counter);
  } finally {
    t.counted = await counter.close();
  }
}

/**
 * A restore whose target's disk filled is DISK_FULL, not a bad backup: as PostgreSQL said it (from
 * stderr), or, on a scratch cluster, a restore that failed with less than a WAL segment left free
 * under it (a server that PANICked writing WAL may tell the client nothing about space). The errors
 * and warnings after it are left out; roles, extensions and truncation stay.
 */
function restoreDiskFull(findings: Finding[], kind: DrillTarget['kind'], backup: BackupFacts): Finding[] {
  const said = findings.find((f) => f.rule === 'DISK_FULL');
  const failed = findings.find((f) => AFTER_FULL.has(f.rule) && f.rule !== 'RESTORE_WARNING');
  const free = kind === 'scratch' ? freeBytes(os.tmpdir()) : undefined;
  const nearlyFull = failed !== undefined && free !== undefined && free < WAL_SEGMENT;
  if (!said && !nearlyFull) return findings;
  const rest = findings.filter((f) => f.rule !== 'DISK_FULL' && !AFTER_FULL.has(f.rule));
  if (kind === 'server') return [{ ...(said as Finding), fix: SERVER_FIX }, ...rest];
  const what = `the scratch cluster restoring ${backup.name} (a ${formatBytes(backup.sizeBytes)} dump)`;
  const cause = said?.message ?? `the restore failed with ${formatBytes(free ?? 0)} left: ${failed?.message}`;
  return [scratchDiskFull('restore', what, cause), ...rest];
}

/**
 * The sample list's table data with each table after those it references by a foreign key (as the
 * restored schema has them), for a role whose load keeps the checks: pg_dump orders data by name,
 * so a sampled child would load before its sampled parent and fail. `moved`: some order matters,
 * which pg_restore keeps only loading one item at a time. (Tables in a cycle of keys cannot load
 * with their checks in any order.)
 */
async function parentsFirst(conn: ConnInfo, lines: string[]): Promise<{ lines: string[]; moved: boolean }> {
  const nameOf = (l: string) => {
    const m = / TABLE DATA (\S+) (\S+) /.exec(l);
    return m ? `${m[1]}.${m[2]}` : undefined;
  };
  const names = new Set(lines.map(nameOf).filter((n) => n !== undefined));
  const fks = await queryRows<{ child: string; parent: string }>(
    conn,
    `SELECT DISTINCT cn.nspname || '.' || cc.relname AS child, pn.nspname || '.' || pc.relname AS parent
       FROM pg_constraint k
       JOIN pg_class cc ON cc.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
       JOIN pg_class pc ON pc.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE k.contype = 'f' AND k.conrelid <> k.confrelid`,
  );
  const among = fks.filter((k) => names.has(k.child) && names.has(k.parent));
  if (among.length === 0) return { lines, moved: false };
  // Each table's depth: 1 + its deepest sampled parent's, settled in at most as many rounds as tables.
  const depth = new Map([...names].map((n) => [n, 0]));
  for (let round = 0; round < names.size; round++) {
    let changed = false;
    for (const { child, parent } of among) {
      const d = (depth.get(parent) ?? 0) + 1;
      if (d > (depth.get(child) ?? 0) && d <= names.size) {
        depth.set(child, d);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const rank = (l: string) => {
    const n = nameOf(l);
    return n === undefined ? -1 : (depth.get(n) ?? 0);
  };
  const sorted = lines.map((l, i) => ({ l, i })).sort((a, b) => rank(a.l) - rank(b.l) || a.i - b.i);
  return { lines: sorted.map((x) => x.l), moved: true };
}

/**
 * Every user table's triggers (its foreign keys' among them) off or on again, as the superuser of
 * `superuser`, for a load as the restorer (pg_restore --disable-triggers needs a superuser's
 * connection): the tables named by the catalog, nothing of the dump run.
 */
async function switchTriggers(superuser: ConnInfo, how: 'DISABLE' | 'ENABLE'): Promise<void> {
  await withClient(superuser, async (c) => {
    await c.query('SET search_path = pg_catalog');
    const tables = await c.query<{ t: string }>(
      `SELECT c.oid::regclass::text AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relhastriggers
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
    );
    for (const { t } of tables.rows) await c.query(`ALTER TABLE ${t} ${how} TRIGGER ALL`);
  });
}

/**
 * The sample tier: rows of the named tables only, and every sequence's value, through a pg_restore
 * list. The schema is in place with its foreign keys, so a sampled table whose parent is not sampled
 * would fail them: as a superuser, the load disables triggers (pg_restore --disable-triggers).
 */
async function restoreSampleData(
  pgRestore: PgBinary,
  t: TargetedDrill,
  input: RestoreInput,
  counter?: SideCounts,
): Promise<{ seconds: number; exitCode: number | null; findings: Finding[]; jobs: number }> {
  const { conn, opts, work } = t;
  const file = input.path;
  const list = await run(pgRestore.path, ['--list', file]);
  const wanted = new Set(opts.sampleTables);
  const sampled = list.stdout.split('\n').filter((l) => {
    if (/^\d+; \d+ \d+ SEQUENCE SET /.test(l)) return true;
    const m = / TABLE DATA (\S+) (\S+) /.exec(l);
    return m !== null && wanted.has(`${m[1]}.${m[2]}`);
  });
  // As the restorer, the scratch cluster's superuser turns the triggers off around the load.
  const switched = t.prepared !== undefined;
  const superuser =
    !switched &&
    (await withClient(
      conn,
      async (c) =>
        (
          await c.query<{ s: boolean }>('SELECT rolsuper AS s FROM pg_roles WHERE rolname = current_user')
        ).rows[0]?.s === true,
    ));
  // A role that cannot disable triggers loads referenced tables first, one item at a time.
  const ordered =
    superuser || switched ? { lines: sampled, moved: false } : await parentsFirst(conn, sampled);
  const { lines } = ordered;
  const jobs = opts.jobs > 1 && input.format !== 'tar' && !ordered.moved ? opts.jobs : 1;
  const listFile = work.partial('sample.list');
  fs.writeFileSync(listFile, `${lines.join('\n')}\n`);
  // The list's items done, and the sampled table loading (with its rows in the dump), from --verbose.
  const progress = new RestoreProgress(lines.length, 0, t.ins.tableRows);
  if (counter) progress.onData = counter;
  t.pipe.progress(() => `sample rows: ${progress.describe() ?? 'starting'}`);
  if (switched) await switchTriggers(t.target.conn(t.database), 'DISABLE');
  try {
    const res = await run(
      pgRestore.path,
      [
        '--verbose',
        '--data-only',
        ...(superuser ? ['--disable-triggers'] : []),
        '--dbname',
        conn.database,
        '--use-list',
        listFile,
        // pg_restore restores a tar dump one object at a time only.
        ...(jobs > 1 ? ['--jobs', String(jobs)] : []),
        file,
      ],
      {
        env: await restoreEnv(conn),
        onStderrLine: (l) => progress.line(l),
        keepStderrLine: (l) => !RestoreProgress.isVerbose(l),
      },
    );
    return {
      seconds: res.seconds,
      exitCode: res.code,
      findings: classifyRestore(
        'restore',
        res.stderr,
        res.code,
        `pg_restore ${pgRestore.version}`,
        t.prepared,
      ).findings,
      jobs,
    };
  } finally {
    // A server a full disk stopped has nothing to turn on again: the load's own error is the finding.
    if (switched) await switchTriggers(t.target.conn(t.database), 'ENABLE').catch(() => undefined);
    work.discard(listFile);
  }
}
