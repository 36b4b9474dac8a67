import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { UNSAFE_RULES } from '../archive/plain.js';
import {
  checkCollation,
  checkIndexes,
  checkSequences,
  type TargetCollation,
  validateConstraints,
} from '../checks/integrity.js';
import { rowsLost } from '../checks/rows.js';
import { runSmokeQueries, type SmokeResult } from '../checks/semantics.js';
import { diffStructure, parseReference, renderReference, structureLines } from '../checks/structure.js';
import { type CompareSummary, compareRung } from '../compare/run.js';
import { onCancel } from '../core/cancel.js';
import { diskFull, freeBytes, isDiskFull, scratchDiskFull, startedOutOfSpace } from '../core/disk.js';
import { formatBytes, formatSeconds } from '../core/duration.js';
import { errorMessage, ToolMissingError, UserError } from '../core/errors.js';
import { run } from '../core/exec.js';
import type { Logger } from '../core/log.js';
import { RunFolder } from '../core/workdir.js';
import { majorOf, type PgBinary } from '../postgres/binaries.js';
import { ident, withClient } from '../postgres/client.js';
import { ScratchCluster } from '../postgres/cluster.js';
import { classifyRestore, restoreDump, restoreEnv } from '../postgres/restore.js';
import { countRows, listTables, type TableCount } from '../postgres/tables.js';
import { type Finding, finding } from '../report/findings.js';
import {
  appendHistory,
  type HistoryEntry,
  lastGood,
  readHistory,
  trend,
  trendChart,
} from '../report/history.js';
import { junitXml } from '../report/junit.js';
import type { Reportable } from '../report/render.js';
import { Pipeline, type StageResult } from '../report/stages.js';
import { type BackupFacts, restoreTools, serverMissing, verifyStages } from '../verify/run.js';
import { parseTolerance } from './config.js';
import type { DrillOptions } from './options.js';
import {
  type DrillTarget,
  drillDatabaseName,
  dropCreatedDatabaseSync,
  markDatabase,
  parseTargetUrl,
  scratchTarget,
  serverTarget,
} from './target.js';

export interface DrillResult extends Reportable {
  command: 'drill';
  source: string;
  tier: string;
  backup?: BackupFacts;
  target?: {
    kind: 'scratch' | 'server';
    version: string;
    major: number;
    database: string;
    settings: Record<string, string>;
    url?: string;
    /** With keep: what the post step (or clean) needs to remove the target. */
    handle?: string;
  };
  restore?: { tool: string; seconds: number; exitCode: number | null; jobs: number };
  tables?: number;
  rows?: number;
  counts?: TableCount[];
  smoke?: SmokeResult[];
  compare?: CompareSummary;
  /** What a partial tier did not check, for a pass that is not the whole story. */
  notChecked: string[];
  trend?: string;
  chart?: string;
  junitPath?: string;
}

/**
 * Verify findings that make a restore pointless (the bytes are wrong or absent) or unsafe (the dump
 * would act outside its database): nothing of the dump is run.
 */
const BLOCKING = new Set([
  ...UNSAFE_RULES,
  'BACKUP_MISSING',
  'FETCH_FAILED',
  'ARCHIVE_UNREADABLE',
  'ARCHIVE_CORRUPT',
  'DUMP_SERVER_ACCESS',
  'CHECKSUM_MISMATCH',
  'FORMAT_UNSUPPORTED',
  'COMPRESSION_CORRUPT',
  'ARCHIVE_TRUNCATED',
  'VERSION_UNSUPPORTED',
  'DISK_FULL',
]);

const DRILL_STAGES = [
  'target',
  'restore',
  'structure',
  'volume',
  'semantics',
  'compare',
  'integrity',
  'teardown',
];

const SERVER_FIX = "Free space on the target server's disk (its data directory), or drill elsewhere.";
const UNPACK_FIX =
  'Free space there, or point work-dir at a folder on a disk with room for the dump unpacked.';

function safeDbName(name: string | undefined): string {
  return name &&
    /^[A-Za-z_][\w$-]{0,62}$/.test(name) &&
    !['postgres', 'template0', 'template1'].includes(name)
    ? name
    : 'restorable_drill';
}

/**
 * restore-drill: every verify check, then a restore into a throwaway version-matched cluster, then
 * the ladder (structure, volume, semantics, integrity), each stage timed, against the RTO. The drill
 * has its own folder beneath the work-dir: the download lives until the drill ends (the restore
 * reads it); partial files (.part, .unpacked, the sample's list) are removed on every way out.
 */
export async function runDrill(
  opts: DrillOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): Promise<DrillResult> {
  const work = new RunFolder(opts.verify.workDir);
  try {
    return await drillIn(work, opts, log, onStage);
  } finally {
    work.close();
  }
}

async function drillIn(
  work: RunFolder,
  opts: DrillOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): Promise<DrillResult> {
  const pipe = Pipeline.withConfig(opts.verify.failOn, opts.config.ignore, onStage);
  const result: DrillResult = {
    ...pipe.begin('drill'),
    source: '',
    tier: opts.tier,
    notChecked: [],
  };
  const history = opts.history ? readHistory(opts.history) : [];
  const previous = lastGood(history, 'drill', opts.tier);

  const state = await verifyStages(
    pipe,
    opts.verify,
    log,
    work,
    'the restore stage loads the whole dump instead',
  );
  result.source = state.source;
  if (state.backup) result.backup = state.backup;
  const ins = state.inspection;
  const blocking = pipe.findings.filter((f) => BLOCKING.has(f.rule));
  let target: DrillTarget | undefined;
  // A database made on an existing server is dropped also when the run is cancelled.
  let forgetCreated: (() => void) | undefined;

  if (!ins || !state.backup?.localPath || blocking.length > 0) {
    const why = blocking[0] ? `the backup did not verify (${blocking[0].rule})` : 'no backup to restore';
    for (const s of DRILL_STAGES) pipe.skip(s, why);
  } else {
    const backup = state.backup;
    const dumpMajor = majorOf(ins.serverVersion ?? '') ?? 0;
    const dbName = opts.targetUrl ? drillDatabaseName() : safeDbName(ins.header?.database);
    let targetCollation: TargetCollation | undefined;
    // A sample of tables the dump has no rows for would check nothing: say so before any target exists.
    const dumped = ins.toc?.dataTables;
    const unknown =
      opts.tier === 'sample' && dumped ? opts.sampleTables.filter((t) => !dumped.includes(t)) : [];
    if (unknown.length > 0) {
      throw new UserError(
        opts.sampleInput,
        `names ${unknown.join(', ')}, which ${backup.name} has no rows for`,
        `Name tables as schema.table, as pg_restore --list shows them; this dump has rows for ${dumped?.slice(0, 12).join(', ')}${(dumped?.length ?? 0) > 12 ? ', ...' : ''}`,
      );
    }
    try {
      const targetStage = await pipe.stage('target', async () => {
        const findings: Finding[] = [];
        const tools = await restoreTools(ins, opts.verify.pgBinDir, 'target');
        if ('finding' in tools) return { findings: [tools.finding] };
        if (opts.targetUrl) {
          const admin = parseTargetUrl('target-url', opts.targetUrl, log);
          let opened: Awaited<ReturnType<typeof serverTarget>>;
          try {
            opened = await serverTarget(admin, opts.allowTargetServer);
          } catch (e) {
            return {
              findings: [
                finding('TARGET_FAILED', 'target', `could not reach the target server: ${errorMessage(e)}`),
              ],
            };
          }
          if ('refused' in opened) {
            return { findings: [finding('TARGET_REFUSED', 'target', opened.refused)] };
          }
          if (dumpMajor && opened.major < dumpMajor) {
            return {
              findings: [
                finding(
                  'VERSION_UNSUPPORTED',
                  'target',
                  `the dump comes from PostgreSQL ${dumpMajor}; the target server runs ${opened.version}`,
                  {
                    evidence: { needMajor: dumpMajor },
                  },
                ),
              ],
            };
          }
          target = opened;
        } else {
          try {
            target = scratchTarget(
              await ScratchCluster.start({
                minMajor: dumpMajor,
                ...(opts.verify.pgBinDir ? { binDir: opts.verify.pgBinDir } : {}),
                ...(opts.osUser ? { osUser: opts.osUser } : {}),
                label: 'drill',
                logger: log,
              }),
            );
          } catch (e) {
            if (e instanceof UserError) throw e;
            if (e instanceof ToolMissingError)
              return { findings: [await serverMissing(ins, opts.verify.pgBinDir, 'target', e)] };
            if (startedOutOfSpace(e))
              return { findings: [scratchDiskFull('target', 'a scratch cluster', errorMessage(e))] };
            return {
              findings: [
                finding(
                  'TARGET_FAILED',
                  'target',
                  `could not start a scratch PostgreSQL: ${errorMessage(e)}`,
                ),
              ],
            };
          }
        }
        const c = target;
        if (dumpMajor && c.major !== dumpMajor) {
          findings.push(
            finding(
              'TARGET_VERSION_NEWER',
              'target',
              `the dump comes from PostgreSQL ${dumpMajor}; the drill runs on ${c.version}${c.kind === 'scratch' ? `, as no ${dumpMajor} server is installed` : ''}`,
              { evidence: { dumped: dumpMajor, target: c.major } },
            ),
          );
        }
        const loc = ins.toc?.database;
        const wantCollate = loc?.collate ?? loc?.locale;
        await withClient(c.admin, async (client) => {
          if (opts.roles === 'create-missing') {
            const roles = [...new Set([...(ins.toc?.owners ?? []), ...(ins.toc?.grantees ?? [])])];
            const have = new Set(
              (await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map(
                (r) => r.rolname,
              ),
            );
            const created = roles.filter((r) => !have.has(r));
            for (const r of created) await client.query(`CREATE ROLE ${ident(r)} NOLOGIN`);
            if (created.length) {
              findings.push(
                finding(
                  'ROLES_CREATED',
                  'target',
                  `created ${created.length} role${created.length === 1 ? '' : 's'} the dump names and the target lacked, as NOLOGIN: ${created.join(', ')}`,
                  { evidence: { roles: created.join(', ') } },
                ),
              );
            }
          }
          const enc = loc?.encoding && /^\w+$/.test(loc.encoding) ? ` ENCODING '${loc.encoding}'` : '';
          const lc = wantCollate && /^[\w.@-]+$/.test(wantCollate) ? ` LOCALE '${wantCollate}'` : '';
          // A database that sorts by ICU gets the same ICU locale (PostgreSQL 15 and newer).
          const icu =
            loc?.provider?.toLowerCase() === 'icu' &&
            loc.icuLocale &&
            /^[\w.@=;-]+$/.test(loc.icuLocale) &&
            c.major >= 15
              ? ` LOCALE_PROVIDER icu ICU_LOCALE '${loc.icuLocale}'`
              : '';
          try {
            await client.query(`CREATE DATABASE ${ident(dbName)} TEMPLATE template0${enc}${lc}${icu}`);
          } catch (e) {
            log.warn(
              `the dump's locale ${[wantCollate, loc?.icuLocale].filter(Boolean).join(' / ')} is not available here (${errorMessage(e)}); using the cluster default`,
            );
            await client.query(`CREATE DATABASE ${ident(dbName)} TEMPLATE template0${enc}`);
          }
          if (c.kind === 'server') {
            const psql = path.join(tools.client.dir, 'psql');
            forgetCreated = onCancel(() => dropCreatedDatabaseSync(psql, c.admin, dbName));
            await markDatabase(c.admin, dbName);
          }
          // datlocprovider and daticulocale came in 15, and daticulocale is datlocale from 17.
          const row = (
            await client.query<{ c: string; p: string | null; icu: string | null }>(
              `SELECT datcollate AS c, to_jsonb(d) ->> 'datlocprovider' AS p,
                      coalesce(to_jsonb(d) ->> 'daticulocale', to_jsonb(d) ->> 'datlocale') AS icu
                 FROM pg_database d WHERE datname = $1`,
              [dbName],
            )
          ).rows[0];
          targetCollation = {
            ...(row?.c ? { collate: row.c } : {}),
            provider: row?.p === 'i' ? 'icu' : 'libc',
            ...(row?.icu ? { icuLocale: row.icu } : {}),
          };
        });
        result.target = {
          kind: c.kind,
          version: c.version,
          major: c.major,
          database: dbName,
          settings: c.settings,
        };
        return { findings };
      });
      if (
        !target ||
        targetStage.status === 'not-run' ||
        targetStage.status === 'failed' ||
        targetStage.findings.some((f) => f.severity !== 'info')
      ) {
        for (const s of DRILL_STAGES.slice(1, -1)) pipe.skip(s, 'there is no target to restore into');
      } else {
        const conn = target.conn(dbName);
        const restore = await pipe.stage('restore', async () => {
          const format = ins.format as 'custom' | 'directory' | 'plain';
          if (opts.tier === 'sample' && format === 'plain')
            return { notRun: 'the sample tier needs a custom or directory dump' };
          const client = await restoreTools(ins, opts.verify.pgBinDir, 'restore');
          if ('finding' in client) return { findings: [client.finding] };
          let file = backup.localPath as string;
          let gzip = ins.wrapper === 'gzip';
          let unpacked: string | undefined;
          // pg_restore --jobs, and the sample tier's --list, need a file it can seek in: unpack a
          // gzip'd custom dump first.
          if (gzip && format === 'custom' && (opts.jobs > 1 || opts.tier === 'sample')) {
            unpacked = work.partial(`${path.basename(file).replace(/\.gz$/, '')}.unpacked`);
            try {
              await pipeline(fs.createReadStream(file), zlib.createGunzip(), fs.createWriteStream(unpacked));
            } catch (e) {
              work.discard(unpacked);
              if (!isDiskFull(e)) throw e;
              const what = `the unpacked copy of ${backup.name}`;
              return { findings: [diskFull('restore', work.workDir, what, { fix: UNPACK_FIX })] };
            }
            file = unpacked;
            gzip = false;
          }
          try {
            const input = { format, path: file, gzip };
            const findings: Finding[] = [];
            if (opts.tier === 'sample') {
              const schema = await restoreDump(client.client, conn, input, {
                jobs: opts.jobs,
                roles: opts.roles,
                schemaOnly: true,
              });
              const rows = await restoreSampleData(client.client, conn, file, opts, work);
              findings.push(...schema.findings, ...rows.findings);
              result.restore = {
                tool: schema.tool,
                seconds: schema.seconds + rows.seconds,
                exitCode: schema.exitCode ?? rows.exitCode,
                jobs: opts.jobs,
              };
            } else {
              const r = await restoreDump(client.client, conn, input, {
                jobs: opts.jobs,
                roles: opts.roles,
                schemaOnly: opts.tier === 'schema',
              });
              findings.push(...r.findings);
              result.restore = {
                tool: r.tool,
                seconds: r.seconds,
                exitCode: r.exitCode,
                jobs: gzip ? 1 : opts.jobs,
              };
            }
            const out = restoreDiskFull(findings, target?.kind ?? 'scratch', backup);
            const full = out.some((f) => f.rule === 'DISK_FULL');
            // A server whose disk filled may have stopped (a PANIC writing WAL): no tables to count then.
            const tables = await withClient(conn, async (client) => (await listTables(client)).length).catch(
              (e: unknown) => {
                if (!full) throw e;
                return undefined;
              },
            );
            if (tables !== undefined) result.tables = tables;
            if (tables === 0 && !full)
              out.push(
                finding('EMPTY_RESTORE', 'restore', `the restored database ${dbName} has no user tables`),
              );
            return { findings: out };
          } finally {
            if (unpacked) work.discard(unpacked);
          }
        });
        const restored =
          restore.status !== 'not-run' &&
          !restore.findings.some((f) =>
            ['RESTORE_FAILED', 'EMPTY_RESTORE', 'ARCHIVE_TRUNCATED', 'DISK_FULL'].includes(f.rule),
          );
        if (!restored) {
          for (const s of ['structure', 'volume', 'semantics', 'compare', 'integrity'])
            pipe.skip(s, 'the restore did not complete');
        } else {
          await ladder(pipe, opts, conn, result, previous, ins.toc?.database, targetCollation, log);
        }
      }
    } finally {
      await pipe.stage('teardown', async () => {
        if (!target) return {};
        if (opts.keep) {
          forgetCreated?.(); // kept on purpose: a cancellation from here on leaves it
          const handle = target.keep(dbName);
          if (result.target) Object.assign(result.target, { url: target.url(dbName), handle });
          log.info(
            `kept: ${target.url(dbName)} (${target.kind === 'scratch' ? `remove it with: restorable clean --root ${JSON.parse(handle).root}` : `drop it when done: DROP DATABASE ${ident(dbName)} WITH (FORCE)`})`,
          );
          return {};
        }
        await target.teardown(dbName);
        forgetCreated?.();
        return {};
      });
    }
  }
  if (opts.rtoBudgetSeconds !== undefined) {
    const budget = opts.rtoBudgetSeconds;
    const elapsed = (Date.now() - pipe.started) / 1000;
    await pipe.stage('rto', async () =>
      elapsed > budget
        ? {
            findings: [
              finding(
                'RTO_EXCEEDED',
                'rto',
                `the drill took ${formatSeconds(elapsed)}, over the RTO budget of ${formatSeconds(budget)}`,
                {
                  evidence: { seconds: Math.round(elapsed), budget },
                },
              ),
            ],
          }
        : {},
    );
  }
  if (opts.tier !== 'full') {
    result.notChecked =
      opts.tier === 'schema'
        ? ['row counts', 'smoke queries', 'sequences', 'NOT VALID constraints']
        : ['rows of tables outside sample-tables', 'smoke queries', 'NOT VALID constraints'];
  }
  pipe.settle(result);
  const t = trend(result.totalSeconds, previous);
  if (t) result.trend = t;
  if (opts.history) {
    const entry: HistoryEntry = {
      at: result.startedAt,
      command: 'drill',
      tier: opts.tier,
      verdict: result.verdict,
      backup: result.backup?.name ?? '',
      ...(result.backup?.serverVersion ? { serverVersion: result.backup.serverVersion } : {}),
      ...(result.target ? { targetVersion: result.target.version } : {}),
      totalSeconds: Math.round(result.totalSeconds * 100) / 100,
      stages: Object.fromEntries(pipe.stages.map((s) => [s.name, Math.round(s.seconds * 100) / 100])),
      rows: Object.fromEntries((result.counts ?? []).map((c) => [c.table, c.rows])),
    };
    appendHistory(opts.history, entry);
    const chart = trendChart([...history, entry], 'drill', opts.tier);
    if (chart) result.chart = chart;
  }
  if (opts.junit) {
    fs.mkdirSync(path.dirname(path.resolve(opts.junit)), { recursive: true });
    fs.writeFileSync(opts.junit, junitXml(result, 'restorable drill'));
    result.junitPath = path.resolve(opts.junit);
  }
  return result;
}

/** Free space under a scratch cluster below which a failed restore is put down to its disk: a WAL segment. */
const WAL_SEGMENT = 16 * 1024 * 1024;
/** What a restore whose target's disk filled says after it: the full disk's doing, not the backup's. */
const AFTER_FULL = new Set(['RESTORE_ERROR', 'RESTORE_WARNING', 'RESTORE_FAILED', 'EXIT_CODE_LIED']);

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

/** The rungs after the restore: structure, volume, semantics, integrity. */
async function ladder(
  pipe: Pipeline,
  opts: DrillOptions,
  conn: ReturnType<ScratchCluster['conn']>,
  result: DrillResult,
  previous: HistoryEntry | undefined,
  dumpedLocale: { locale?: string; collate?: string; provider?: string } | undefined,
  targetCollation: TargetCollation | undefined,
  log: Logger,
): Promise<void> {
  const cfg = opts.config;
  const reference = cfg.structure?.reference;
  const writeTo = opts.writeReference;
  if (writeTo) {
    await pipe.stage('structure', async () => {
      const lines = await withClient(conn, structureLines);
      fs.writeFileSync(
        writeTo,
        renderReference(lines, `structure of ${result.backup?.name ?? 'the restored backup'}`),
      );
      return {};
    });
  } else if (!reference) pipe.skip('structure', 'no structure reference in config');
  else {
    await pipe.stage('structure', async () => {
      const base = opts.configPath ? path.dirname(path.resolve(opts.configPath)) : process.cwd();
      const file = path.resolve(base, reference);
      if (!fs.existsSync(file)) {
        return {
          notRun: `the structure reference ${reference} does not exist; write it with restorable drill --write-reference ${reference}`,
        };
      }
      const actual = await withClient(conn, structureLines);
      const { missing, unexpected } = diffStructure(parseReference(fs.readFileSync(file, 'utf8')), actual);
      const findings: Finding[] = [];
      const list = (xs: string[]) =>
        xs.slice(0, 5).join('; ') + (xs.length > 5 ? `; and ${xs.length - 5} more` : '');
      if (missing.length) {
        findings.push(
          finding(
            'STRUCTURE_MISSING',
            'structure',
            `${missing.length} object(s) of the reference are missing or differ: ${list(missing)}`,
            { evidence: { missing: missing.length } },
          ),
        );
      }
      if (unexpected.length) {
        findings.push(
          finding(
            'STRUCTURE_UNEXPECTED',
            'structure',
            `${unexpected.length} object(s) are not in the reference: ${list(unexpected)}`,
            { evidence: { unexpected: unexpected.length } },
          ),
        );
      }
      return { findings };
    });
  }

  if (opts.tier === 'schema') {
    pipe.skip('volume', 'NOT RUN: tier SCHEMA restores no rows');
    pipe.skip('semantics', 'NOT RUN: tier SCHEMA restores no rows');
  } else {
    await pipe.stage('volume', async () => {
      let counts = await countRows(conn, opts.jobs);
      // The sample tier counts, and holds to their minimums, only the tables it restored rows for.
      const sampled = (table: string) => opts.tier !== 'sample' || opts.sampleTables.includes(table);
      counts = counts.filter((c) => sampled(c.table));
      result.counts = counts;
      result.rows = counts.reduce((n, c) => n + c.rows, 0);
      const byTable = new Map(counts.map((c) => [c.table, c.rows]));
      const findings: Finding[] = [];
      // Only tier full restores every row the dump holds.
      const dumped = result.backup?.tableRows;
      if (opts.tier === 'full' && dumped)
        findings.push(...(await withClient(conn, (c) => rowsLost(c, dumped, counts, 'volume'))));
      for (const [table, rule] of Object.entries(opts.config.volume?.tables ?? {})) {
        if (!sampled(table)) continue;
        const n = byTable.get(table);
        if (n === undefined)
          findings.push(
            finding(
              'VOLUME_TABLE_MISSING',
              'volume',
              `table ${table} (named in the config) is not in the restored database`,
              { evidence: { table } },
            ),
          );
        else if (n < rule.min) {
          findings.push(
            finding(
              'VOLUME_BELOW_MINIMUM',
              'volume',
              `table ${table} has ${n} rows; at least ${rule.min} expected`,
              { evidence: { table, rows: n, min: rule.min } },
            ),
          );
        }
      }
      if (previous && opts.tier === 'full') {
        const tol = opts.config.volume?.tolerance ?? parseTolerance('5%');
        for (const [table, before] of Object.entries(previous.rows)) {
          const now = byTable.get(table);
          if (now === undefined) {
            findings.push(
              finding(
                'VOLUME_TABLE_MISSING',
                'volume',
                `table ${table} was in the last good run (${previous.at.slice(0, 10)}) and is gone`,
                { evidence: { table, before } },
              ),
            );
            continue;
          }
          const allowed = tol?.kind === 'percent' ? (before * tol.value) / 100 : (tol?.value ?? 0);
          if (before - now > allowed) {
            findings.push(
              finding(
                'VOLUME_DRIFT',
                'volume',
                `table ${table} has ${now} rows, ${before - now} fewer than the last good run (${before} on ${previous.at.slice(0, 10)})`,
                {
                  evidence: { table, rows: now, before },
                },
              ),
            );
          }
        }
      }
      return { findings };
    });
    const queries = opts.config.semantics ?? [];
    if (queries.length === 0) pipe.skip('semantics', 'no smoke queries in config');
    else if (opts.tier === 'sample')
      pipe.skip('semantics', 'NOT RUN: tier SAMPLE restores only the rows of sample-tables');
    else {
      await pipe.stage('semantics', async () => {
        const r = await withClient(conn, (c) => runSmokeQueries(c, queries));
        result.smoke = r.results;
        return { findings: r.findings };
      });
    }
  }

  if (opts.compare && opts.tier !== 'full')
    pipe.skip('compare', `NOT RUN: tier ${opts.tier.toUpperCase()} does not restore every row`);
  else {
    const summary = await compareRung(pipe, opts.compare, conn, log);
    if (summary) result.compare = summary;
  }

  await pipe.stage('integrity', async () => {
    const integ = opts.config.integrity ?? {};
    const findings: Finding[] = [];
    let notRun: string | undefined;
    await withClient(conn, async (c) => {
      if (opts.tier !== 'schema' && integ.sequences !== false)
        findings.push(...(await checkSequences(c)).findings);
      if (opts.tier === 'full' && integ['validate-constraints'] !== false)
        findings.push(...(await validateConstraints(c)).findings);
      if (integ.amcheck) {
        const r = await checkIndexes(c);
        if (r) findings.push(...r.findings);
        else notRun = 'amcheck: true, but the amcheck extension is not available on the target';
      }
    });
    if (integ.collation !== false) findings.push(...checkCollation(dumpedLocale, targetCollation));
    return { findings, ...(notRun ? { notRun } : {}) };
  });
}

/**
 * The sample tier: rows of the named tables only, and every sequence's value, through a pg_restore
 * list. The schema is in place with its foreign keys, so a sampled table whose parent is not sampled
 * would fail them: as a superuser, the load disables triggers (pg_restore --disable-triggers).
 */
async function restoreSampleData(
  pgRestore: PgBinary,
  conn: ReturnType<ScratchCluster['conn']>,
  file: string,
  opts: DrillOptions,
  work: RunFolder,
): Promise<{ seconds: number; exitCode: number | null; findings: Finding[] }> {
  const list = await run(pgRestore.path, ['--list', file]);
  const wanted = new Set(opts.sampleTables);
  const lines = list.stdout.split('\n').filter((l) => {
    if (/^\d+; \d+ \d+ SEQUENCE SET /.test(l)) return true;
    const m = / TABLE DATA (\S+) (\S+) /.exec(l);
    return m !== null && wanted.has(`${m[1]}.${m[2]}`);
  });
  const superuser = await withClient(
    conn,
    async (c) =>
      (await c.query<{ s: boolean }>('SELECT rolsuper AS s FROM pg_roles WHERE rolname = current_user'))
        .rows[0]?.s === true,
  );
  const listFile = work.partial('sample.list');
  fs.writeFileSync(listFile, `${lines.join('\n')}\n`);
  try {
    const res = await run(
      pgRestore.path,
      [
        '--data-only',
        ...(superuser ? ['--disable-triggers'] : []),
        '--dbname',
        conn.database,
        '--use-list',
        listFile,
        ...(opts.jobs > 1 ? ['--jobs', String(opts.jobs)] : []),
        file,
      ],
      {
        env: await restoreEnv(conn),
      },
    );
    return {
      seconds: res.seconds,
      exitCode: res.code,
      findings: classifyRestore('restore', res.stderr, res.code, `pg_restore ${pgRestore.version}`).findings,
    };
  } finally {
    work.discard(listFile);
  }
}

export function drillOutputs(r: DrillResult, reportPath: string): Record<string, string> {
  return {
    verdict: r.verdict,
    backup: r.backup?.name ?? '',
    'local-path': r.backup?.localPath ?? '',
    'total-seconds': r.totalSeconds.toFixed(1),
    'restore-seconds': r.restore ? r.restore.seconds.toFixed(1) : '',
    tables: r.tables !== undefined ? String(r.tables) : '',
    rows: r.rows !== undefined ? String(r.rows) : '',
    'database-url': r.target?.url ?? '',
    findings: JSON.stringify(r.findings),
    report: reportPath,
    junit: r.junitPath ?? '',
  };
}
