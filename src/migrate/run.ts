import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { runSmokeQueries, type SmokeResult } from '../checks/semantics.js';
import { diffStructure, structureLines } from '../checks/structure.js';
import { formatBytes, formatSeconds } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import { run, userCommandEnv } from '../core/exec.js';
import type { Logger } from '../core/log.js';
import { type ConnInfo, libpqEnv, MARKER, maskedUrl, withClient } from '../postgres/client.js';
import { readLabel, SCRATCH_PREFIX } from '../postgres/cluster.js';
import { tableName } from '../postgres/tables.js';
import { type Finding, finding } from '../report/findings.js';
import type { Reportable } from '../report/render.js';
import { Pipeline, type StageResult } from '../report/stages.js';
import type { MigrateOptions } from './options.js';

export interface MigrateResult extends Reportable {
  command: 'migrate';
  /** The database migrated, password masked. */
  database: string;
  server?: string;
  /** Exit status of the migrate command; null when it was killed or did not run. */
  exitCode: number | null;
  signal?: string;
  migrateSeconds?: number;
  /** The end of the command's stderr when it failed: secrets masked, lines that may quote rows withheld. */
  stderrTail?: string;
  /** Tables whose relfilenode changed, with their size before. */
  rewritten: { table: string; bytes: number }[];
  /** Per table, the longest ACCESS EXCLUSIVE lock seen held, longest first. */
  locks: { table: string; seconds: number }[];
  /** How many times pg_locks was read while the command ran. */
  lockSamples: number;
  schemaDiff: { added: string[]; removed: string[] };
  smoke?: SmokeResult[];
}

/** A user relation before the migration: a table, or an index or TOAST table that belongs to one. */
interface Relation {
  oid: string;
  kind: string;
  /** The table it belongs to (itself for a table). */
  table: string;
  filenode: string | null;
  bytes: number;
}

const USER_NS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;

/** Every user table with its indexes and TOAST table, each mapped to the table by OID. */
const RELATIONS_SQL = `
  WITH rel AS (
    SELECT c.oid, c.relkind, coalesce(i.indrelid, t.oid, c.oid) AS owner
      FROM pg_class c
      LEFT JOIN pg_index i ON i.indexrelid = c.oid
      LEFT JOIN pg_class t ON t.reltoastrelid = c.oid
     WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I', 't'))
  SELECT rel.oid::text AS oid, rel.relkind::text AS kind, n.nspname AS schema, o.relname AS name,
         pg_relation_filenode(rel.oid)::text AS filenode, pg_relation_size(rel.oid)::text AS bytes
    FROM rel JOIN pg_class o ON o.oid = rel.owner JOIN pg_namespace n ON n.oid = o.relnamespace
   WHERE o.relkind IN ('r', 'p', 'm') AND ${USER_NS}
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = o.oid AND d.deptype = 'e')`;

async function relations(c: pg.Client): Promise<Map<string, Relation>> {
  const rows = (
    await c.query<{
      oid: string;
      kind: string;
      schema: string;
      name: string;
      filenode: string | null;
      bytes: string | null;
    }>(RELATIONS_SQL)
  ).rows;
  return new Map(
    rows.map((r) => [
      r.oid,
      {
        oid: r.oid,
        kind: r.kind,
        table: tableName(r.schema, r.name),
        filenode: r.filenode,
        bytes: Number(r.bytes ?? 0),
      },
    ]),
  );
}

/**
 * Is this a database Restorable made, so running a migration on it harms nothing? A database a
 * drill created on a server carries the drill's marker; a scratch cluster's data directory is a
 * Restorable folder on this machine with its label in it. Returns why not, or undefined.
 */
async function notDisposable(c: pg.Client): Promise<string | undefined> {
  const comment = (
    await c.query<{ d: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS d FROM pg_database WHERE datname = current_database()",
    )
  ).rows[0]?.d;
  if (comment === MARKER) return undefined;
  let dataDir: string | undefined;
  try {
    dataDir = (await c.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]?.d;
  } catch {
    return 'it is not a database a drill created, and its data directory cannot be read (not a superuser) to tell whether it is a Restorable scratch cluster';
  }
  const root = dataDir ? path.dirname(dataDir) : '';
  if (root && path.basename(root).startsWith(SCRATCH_PREFIX) && readLabel(root)) return undefined;
  return 'it is neither a Restorable scratch cluster on this machine nor a database a drill created';
}

/**
 * Reads pg_locks on its own connection every `intervalMs` while the migration runs, and keeps, per
 * table, the longest stretch during which some session held an ACCESS EXCLUSIVE lock on the table,
 * one of its indexes or its TOAST table. A stretch runs from the first sample that saw it to the
 * last: a lower bound, exact to one interval. Relations made by the migration itself are left out:
 * a table nobody could see yet blocks nobody.
 */
class LockSampler {
  samples = 0;
  error?: string;
  private readonly open = new Map<string, { first: number; last: number }>();
  private readonly longest = new Map<string, number>();
  private stopped = false;
  private loop?: Promise<void>;
  private client?: pg.Client;

  constructor(
    private readonly conn: ConnInfo,
    private readonly tables: Map<string, Relation>,
    private readonly intervalMs: number,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({
      ...this.conn,
      connectionTimeoutMillis: 10_000,
      application_name: 'restorable lock sampler',
      statement_timeout: 5000,
    });
    await client.connect();
    this.client = client;
    await this.sample();
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await new Promise((r) => setTimeout(r, this.intervalMs));
      if (this.stopped) break;
      try {
        await this.sample();
      } catch (e) {
        this.error = errorMessage(e);
        break;
      }
    }
  }

  private async sample(): Promise<void> {
    const r = await (this.client as pg.Client).query<{ oid: string }>(
      `SELECT DISTINCT relation::text AS oid FROM pg_locks
        WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' AND granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    const now = performance.now();
    this.samples++;
    const held = new Set<string>();
    for (const row of r.rows) {
      const t = this.tables.get(row.oid)?.table;
      if (t) held.add(t);
    }
    for (const t of held) {
      const o = this.open.get(t);
      if (o) o.last = now;
      else this.open.set(t, { first: now, last: now });
    }
    for (const [t, o] of this.open) {
      if (held.has(t)) continue;
      this.close(t, o);
    }
  }

  private close(t: string, o: { first: number; last: number }): void {
    this.longest.set(t, Math.max(this.longest.get(t) ?? 0, (o.last - o.first) / 1000));
    this.open.delete(t);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    if (!this.error) {
      // One last look: a lock still held when the command has ended belongs to someone else's session.
      await this.sample().catch((e) => {
        this.error = errorMessage(e);
      });
    }
    for (const [t, o] of this.open) this.close(t, o);
    await this.client?.end().catch(() => {});
  }

  result(): { table: string; seconds: number }[] {
    return [...this.longest]
      .map(([table, s]) => ({ table, seconds: Math.round(s * 100) / 100 }))
      .sort((a, b) => b.seconds - a.seconds || (a.table < b.table ? -1 : 1));
  }
}

/** PostgreSQL's DETAIL lines (and a few others) can quote row values: a report never carries them. */
const ROW_VALUES = /DETAIL:|Failing row contains|Key \(.*\)=\(/;

/** The last lines of the command's stderr, fit for a report: secrets masked, row values withheld. */
export function stderrTail(stderr: string, secrets: string[], lines = 12, chars = 1500): string {
  let text = stderr;
  for (const s of secrets.filter(Boolean).sort((a, b) => b.length - a.length))
    text = text.split(s).join('***');
  const kept = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .map((l) => (ROW_VALUES.test(l) ? '[a line that may quote row values, withheld]' : l))
    .slice(-lines)
    .join('\n');
  return kept.length > chars ? `…${kept.slice(kept.length - chars)}` : kept;
}

/** migrate-check: run the migration on a restored copy and report what it did and what it held. */
export async function runMigrate(
  opts: MigrateOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): Promise<MigrateResult> {
  const pipe = Pipeline.withConfig(opts.failOn, opts.config.ignore, onStage);
  const result: MigrateResult = {
    ...pipe.begin('migrate'),
    database: maskedUrl(opts.database),
    exitCode: null,
    rewritten: [],
    locks: [],
    lockSamples: 0,
    schemaDiff: { added: [], removed: [] },
  };
  const conn = opts.database;
  let before: { structure: string[]; relations: Map<string, Relation> } | undefined;
  await pipe.stage('target', async () => {
    try {
      const out = await withClient(conn, async (c) => {
        result.server = (
          await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")
        ).rows[0]?.v;
        const refused = opts.allowAnyDatabase ? undefined : await notDisposable(c);
        if (refused) return { refused };
        return { structure: await structureLines(c), relations: await relations(c) };
      });
      if ('refused' in out) {
        return {
          findings: [
            finding('TARGET_REFUSED', 'target', `${result.database} was not migrated: ${out.refused}`, {
              fix: "Point database-url at restore-drill's database-url (keep: true); for another disposable database, set allow-any-database: true knowingly.",
            }),
          ],
        };
      }
      before = out;
      log.info(
        `${result.database}: PostgreSQL ${result.server}, ${[...out.relations.values()].filter((r) => ['r', 'p', 'm'].includes(r.kind)).length} tables, ${out.structure.length} objects`,
      );
      return {};
    } catch (e) {
      return {
        findings: [
          finding('TARGET_UNREACHABLE', 'target', `could not read ${result.database}: ${errorMessage(e)}`, {
            fix: 'Check database-url (restore-drill outputs database-url with keep: true) and that the step runs on the runner that holds it.',
          }),
        ],
      };
    }
  });
  const later = ['migrate', 'locks', 'rewrites', 'structure', 'semantics'];
  if (!before) {
    for (const s of later) pipe.skip(s, 'the database could not be used');
    return pipe.settle(result);
  }
  const snapshot = before;

  const sampler = new LockSampler(conn, snapshot.relations, opts.sampleMs);
  let samplerError: string | undefined;
  let ran = false;
  await pipe.stage('migrate', async () => {
    try {
      await sampler.start();
    } catch (e) {
      samplerError = `the lock sampler could not connect: ${errorMessage(e)}`;
    }
    const secrets = conn.password ? [opts.databaseUrl, conn.password, encodeURIComponent(conn.password)] : [];
    let res: Awaited<ReturnType<typeof run>>;
    try {
      log.info(`running the migrate command in ${opts.cwd}`);
      res = await run('sh', ['-c', opts.command], {
        cwd: opts.cwd,
        env: userCommandEnv({ ...libpqEnv(conn), DATABASE_URL: opts.databaseUrl }),
        timeoutMs: opts.timeoutSeconds * 1000,
        onStderrLine: (l) => log.info(`migrate: ${l}`),
        maxCapture: 256 * 1024,
        group: true,
      });
    } finally {
      await sampler.stop();
    }
    ran = true;
    for (const l of res.stdout.split('\n').filter(Boolean).slice(-200)) log.info(`migrate: ${l}`);
    result.exitCode = res.code;
    if (res.signal) result.signal = res.signal;
    result.migrateSeconds = Math.round(res.seconds * 100) / 100;
    const findings: Finding[] = [];
    if (res.code !== 0) {
      const timedOut = res.signal !== null && res.seconds >= opts.timeoutSeconds - 0.5;
      const how = timedOut
        ? `was stopped after the timeout of ${formatSeconds(opts.timeoutSeconds)}`
        : res.signal
          ? `was killed by ${res.signal}`
          : `exited ${res.code}`;
      const tail = stderrTail(res.stderr, secrets);
      if (tail) result.stderrTail = tail;
      findings.push(
        finding(
          'MIGRATION_FAILED',
          'migrate',
          `the migrate command ${how} after ${formatSeconds(res.seconds)}${tail ? `; the end of its stderr:\n${tail}` : ' with nothing on stderr'}`,
          {
            evidence: {
              exitCode: res.code,
              signal: res.signal,
              seconds: result.migrateSeconds,
            },
          },
        ),
      );
    }
    if (opts.maxMigrationSeconds !== undefined && res.seconds > opts.maxMigrationSeconds) {
      findings.push(
        finding(
          'MIGRATION_SLOW',
          'migrate',
          `the migration took ${formatSeconds(res.seconds)}, over max-migration-seconds (${formatSeconds(opts.maxMigrationSeconds)})`,
          { evidence: { seconds: result.migrateSeconds, limit: opts.maxMigrationSeconds } },
        ),
      );
    }
    return { findings };
  });
  if (!ran) {
    for (const s of later.slice(1)) pipe.skip(s, 'the migrate command did not run');
    return pipe.settle(result);
  }

  await pipe.stage('locks', async () => {
    result.locks = sampler.result();
    result.lockSamples = sampler.samples;
    const why = samplerError ?? (sampler.error ? `the lock sampler stopped: ${sampler.error}` : undefined);
    if (why) return { notRun: why };
    const findings: Finding[] = [];
    const limit = opts.maxLockSeconds;
    for (const l of result.locks) {
      if (limit === undefined || l.seconds <= limit) continue;
      findings.push(
        finding(
          'LOCK_HELD_TOO_LONG',
          'locks',
          `an ACCESS EXCLUSIVE lock on ${l.table} was held for ${formatSeconds(l.seconds)}, over max-lock-seconds (${formatSeconds(limit)}): every read and write of the table waits that long`,
          { evidence: { table: l.table, seconds: l.seconds, limit } },
        ),
      );
    }
    return { findings };
  });

  let after: { structure: string[]; relations: Map<string, Relation> } | undefined;
  await pipe.stage('rewrites', async () => {
    try {
      after = await withClient(conn, async (c) => ({
        structure: await structureLines(c),
        relations: await relations(c),
      }));
    } catch (e) {
      return { notRun: `could not read the database after the migration: ${errorMessage(e)}` };
    }
    const findings: Finding[] = [];
    for (const [oid, b] of snapshot.relations) {
      if (b.kind !== 'r' && b.kind !== 'm') continue;
      const a = after.relations.get(oid);
      if (!a || a.filenode === null || b.filenode === null || a.filenode === b.filenode) continue;
      result.rewritten.push({ table: b.table, bytes: b.bytes });
      findings.push(
        finding(
          'TABLE_REWRITTEN',
          'rewrites',
          `the migration rewrote ${b.table} (${formatBytes(b.bytes)} before; its relfilenode changed): in production that copies the table under an ACCESS EXCLUSIVE lock`,
          { evidence: { table: b.table, bytes: b.bytes } },
        ),
      );
    }
    result.rewritten.sort((x, y) => (x.table < y.table ? -1 : 1));
    return { findings };
  });

  if (!after) pipe.skip('structure', 'the database could not be read after the migration');
  else {
    const now = after;
    await pipe.stage('structure', async () => {
      const { missing, unexpected } = diffStructure(snapshot.structure, now.structure);
      result.schemaDiff = { added: unexpected, removed: missing };
      log.info(
        `structure: ${unexpected.length} object(s) added or changed, ${missing.length} removed or changed`,
      );
      return {};
    });
  }

  const queries = opts.config.semantics ?? [];
  if (queries.length === 0) pipe.skip('semantics', 'no smoke queries in config');
  else {
    await pipe.stage('semantics', async () => {
      try {
        const r = await withClient(conn, (c) => runSmokeQueries(c, queries));
        result.smoke = r.results;
        return { findings: r.findings };
      } catch (e) {
        return { notRun: `could not connect for the smoke queries: ${errorMessage(e)}` };
      }
    });
  }
  return pipe.settle(result);
}

/** Structure before and after, one line per object: `+ added`, `- removed` (a change is both). */
export function schemaDiffText(r: MigrateResult): string {
  return [...r.schemaDiff.removed.map((l) => `- ${l}`), ...r.schemaDiff.added.map((l) => `+ ${l}`)].join(
    '\n',
  );
}

export function migrateOutputs(
  r: MigrateResult,
  reportPath: string,
  comment: { text: string; file: string },
): Record<string, string> {
  return {
    verdict: r.verdict,
    'migrate-exit-code': r.exitCode === null ? '' : String(r.exitCode),
    'migrate-seconds': r.migrateSeconds === undefined ? '' : String(r.migrateSeconds),
    'tables-rewritten': JSON.stringify(r.rewritten),
    locks: JSON.stringify(Object.fromEntries(r.locks.map((l) => [l.table, l.seconds]))),
    'schema-diff': schemaDiffText(r),
    comment: comment.text,
    'comment-file': comment.file,
    findings: JSON.stringify(r.findings),
    report: reportPath,
  };
}

/** Write the PR comment beside the report; returns its path. */
export function writeComment(text: string, dir: string): string {
  const file = path.resolve(dir, 'migrate-check-comment.md');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}
