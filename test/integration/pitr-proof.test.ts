/**
 * The recovery point, proved: to the microsecond, in the database named, by the server's own log
 * when no marker was planted, with the changes since the target reported as such.
 * Production runs a pgbench workload in database `app` and records commit timestamps.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { plantMarker } from '../../src/pitr/marker.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { describeCoverage } from '../../src/pitr/plan.js';
import { proveFromLog, targetFindings } from '../../src/pitr/proof.js';
import { pitrOutputs, runPitr } from '../../src/pitr/run.js';
import { parseDbUrl, withClient } from '../../src/postgres/client.js';
import { removeCluster, type ScratchCluster } from '../../src/postgres/cluster.js';
import { tempDir } from '../harness/pg.js';
import {
  archiveNow,
  baseBackup,
  PROD_USER,
  query,
  serverDir,
  sleep,
  startArchiving,
} from '../harness/pitr.js';
import { startS3 } from '../harness/s3.js';

let prod: ScratchCluster;
let archive: string;
let base: string;
/** A commit's exact time (µs, not a whole millisecond) and the id of its row in events. */
let exact: string;
let exactId: number;
/** A time inside the workload, between two commits. */
let midWorkload: string;
/** A WAL segment between the base backup's end and midWorkload. */
let workloadSegment: string;
const rules = (r: { findings: { rule: string }[] }) => r.findings.map((f) => f.rule);

async function pgbench(args: string[]): Promise<void> {
  // -n on the runs: no vacuum, and pgbench_history is not truncated (it grows with each run).
  const r = await run(
    '/usr/lib/postgresql/15/bin/pgbench',
    [
      '-h',
      prod.socketDir,
      '-p',
      String(prod.port),
      '-U',
      'postgres',
      ...(args[0] === '-i' ? [] : ['-n']),
      ...args,
      'app',
    ],
    {},
  );
  if (r.code !== 0) throw new Error(`pgbench ${args.join(' ')} failed: ${r.stderr}`);
}

const utcMicros = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Insert rows one commit each until a commit's time is not a whole millisecond; its id and time. */
async function commitOffTheMillisecond(): Promise<{ id: number; at: string }> {
  for (let i = 0; i < 100; i++) {
    const [row] = await query<{ id: number; at: string }>(
      prod,
      `WITH r AS (INSERT INTO events (tag) VALUES ('exact') RETURNING id) SELECT id FROM r`,
    );
    const [ts] = await query<{ at: string }>(
      prod,
      `SELECT ${utcMicros('pg_xact_commit_timestamp(xmin)')} AS at FROM events WHERE id = ${row?.id}`,
    );
    const at = ts?.at as string;
    if (!/000Z$/.test(at)) return { id: row?.id as number, at };
  }
  throw new Error('every commit fell on a whole millisecond');
}

function config(text: string): string {
  const file = path.join(tempDir('pitr-proof-config'), 'restorable.yml');
  fs.writeFileSync(file, text);
  return file;
}

beforeAll(async () => {
  archive = serverDir('pitr-proof-archive');
  base = serverDir('pitr-proof-base');
  prod = await startArchiving('test-pitr-proof', archive, { track_commit_timestamp: 'on' });
  await query(prod, 'CREATE DATABASE app');
  await pgbench(['-i', '-s', '1', '-q']);
  await query(prod, 'CREATE TABLE events (id serial PRIMARY KEY, tag text)');
  await baseBackup(prod, path.join(base, 'b1'));
  await pgbench(['-c', '2', '-t', '200']);
  // The segment after the backup's end holds this first part of the workload alone.
  workloadSegment = await archiveNow(prod);
  const e = await commitOffTheMillisecond();
  exact = e.at;
  exactId = e.id;
  await query(prod, "INSERT INTO events (tag) VALUES ('after exact')");
  await pgbench(['-c', '2', '-t', '100']);
  await sleep(300);
  midWorkload = new Date().toISOString();
  await sleep(300);
  await pgbench(['-c', '2', '-t', '200']);
  await archiveNow(prod);
}, 180_000);

afterAll(async () => {
  await prod?.stop();
});

const native = (extra: Record<string, string> = {}) =>
  parsePitrOptions({ 'base-backups': base, 'wal-archive': archive, ...extra }, 'input');

describe('pitr-restore: the recovery point to the microsecond', () => {
  it('a target equal to a commit’s exact time keeps that commit (inclusive), and drops it (exclusive)', async () => {
    const checks = (n: number) =>
      config(`pitr:
  checks:
    - { name: the exact commit, sql: "select count(*) from events where id = ${exactId}", expect: "== ${n}", asserts: before-target }
    - { name: nothing after it, sql: "select count(*) from events where id > ${exactId}", expect: "== 0", asserts: after-target }
`);
    const r = await runPitr(native({ 'target-time': exact, config: checks(1) }), memoryLogger());
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.target).toBe(`time ${exact}`);
    // The last replayed commit is the target's own, to the microsecond.
    expect(r.recoveredTo).toBe(exact);
    expect(r.proof?.holds).toBe(true);
    expect(r.rpoSeconds).toBe(0);
    const x = await runPitr(
      native({ 'target-time': exact, 'target-inclusive': 'false', config: checks(0) }),
      memoryLogger(),
    );
    expect(x.verdict, JSON.stringify(x.findings)).toBe('pass');
    expect(x.proof?.stoppedAt).toBe(exact);
    expect((x.recoveredTo as string) < exact).toBe(true);
  }, 180_000);
});

describe('pitr-restore: proof without markers, from the server log', () => {
  it('a side-by-side clone at a time inside the workload passes on the log’s proof, with the RPO; it restarts on its own port', async () => {
    const dir = path.join(serverDir('pitr-proof-sbs'), 'clone');
    const r = await runPitr(
      native({ mode: 'side-by-side', 'data-directory': dir, 'target-time': midWorkload }),
      memoryLogger(),
    );
    try {
      expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
      expect(rules(r)).toEqual([]);
      const p = r.proof;
      expect(p?.holds).toBe(true);
      expect((p?.lastCommit as string) <= midWorkload).toBe(true);
      expect((p?.stoppedAt as string) > midWorkload).toBe(true);
      expect(r.rpoSeconds).toBeGreaterThanOrEqual(0);
      expect(r.rpoSeconds).toBeLessThan(2);
      expect(pitrOutputs(r, '')['rpo-seconds']).toBe(String(r.rpoSeconds));
      // The same real log facts against a target they contradict: PITR_WRONG_POINT, not a pass.
      const earlier = native({ 'target-time': p?.lastCommit as string, 'target-inclusive': 'false' });
      const wrong = proveFromLog(earlier.target, false, {
        stopLine: p?.stopLine as string,
        lastCommit: p?.lastCommit as string,
      });
      expect(targetFindings(wrong, () => false, 'x').map((f) => f.rule)).toEqual(['PITR_WRONG_POINT']);
      // A plain pg_ctl restart keeps the clone's own port and socket (not production's).
      const ctl = path.join(prod.bin.dir, 'pg_ctl');
      expect((await run(ctl, ['-D', dir, '-m', 'fast', '-w', 'stop'], { user: PROD_USER })).code).toBe(0);
      const started = await run(ctl, ['-D', dir, '-l', `${dir}.log`, '-w', '-t', '30', 'start'], {
        user: PROD_USER,
      });
      expect(started.code, fs.existsSync(`${dir}.log`) ? fs.readFileSync(`${dir}.log`, 'utf8') : '').toBe(0);
      const port = Number(/:(\d+)\//.exec(r.databaseUrl as string)?.[1]);
      const n = await withClient(
        { host: `${dir}.restorable-socket`, port, user: 'postgres', database: 'postgres' },
        async (c) => Number((await c.query('select count(*) as n from events')).rows[0].n),
      );
      expect(n).toBeGreaterThanOrEqual(exactId);
    } finally {
      await run(path.join(prod.bin.dir, 'pg_ctl'), ['-D', dir, '-m', 'immediate', '-w', 'stop'], {
        user: PROD_USER,
      });
    }
  }, 180_000);

  it('target-immediate has no point to prove: still PITR_UNASSERTED', async () => {
    const r = await runPitr(native({ 'target-immediate': 'true' }), memoryLogger());
    expect(rules(r)).toEqual(['PITR_UNASSERTED']);
    expect(r.proof).toBeUndefined();
  }, 120_000);

  it('refuses a clone folder the server’s user cannot write, before anything is fetched', async () => {
    const locked = tempDir('pitr-proof-locked');
    fs.chmodSync(locked, 0o700);
    const dir = path.join(locked, 'clone');
    const opts = native({ mode: 'side-by-side', 'data-directory': dir, 'target-time': midWorkload });
    await expect(runPitr(opts, memoryLogger())).rejects.toThrow(
      new RegExp(`^data-directory: ${locked} is not writable by ${PROD_USER ?? 'this user'}`),
    );
    expect(fs.readdirSync(locked)).toEqual([]);
    expect(
      fs.readdirSync(path.dirname(locked)).filter((n) => n.startsWith(`${path.basename(locked)}.`)),
    ).toEqual([]);
  });
});

describe('pitr-restore: checks, markers and compare in the database they name', () => {
  it('a marker planted on app is found and asserted there; compare against live app reports what changed since the target', async () => {
    const marker = await plantMarker(prod.url('app'), memoryLogger());
    await pgbench(['-c', '2', '-t', '50']);
    await archiveNow(prod);
    const cfg = config(`pitr:
  checks:
    - { name: accounts in app, sql: "select count(*) from pgbench_accounts", expect: "== 100000", database: app }
`);
    const r = await runPitr(
      native({ 'target-name': marker.name, config: cfg, 'compare-source-url': prod.url('app') }),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.checks?.map((c) => c.ok)).toEqual([true, true, true]);
    expect(r.proof?.holds).toBe(true);
    // pgbench_history grew after the marker, the marker lost its "after" row; accounts, branches and
    // tellers kept their counts and are not listed.
    const changed = r.findings.filter((f) => f.rule === 'PITR_CHANGED_SINCE_TARGET');
    expect(changed.map((f) => f.evidence?.table).sort()).toEqual([
      'public.pgbench_history',
      'restorable.pitr_marker',
    ]);
    expect(changed.every((f) => f.severity === 'info')).toBe(true);
    const h = r.changedSinceTarget?.find((c) => c.table === 'public.pgbench_history');
    expect((h?.now as number) - (h?.atTarget as number)).toBe(100);
    expect(r.compare?.compared).toBe(5);
    expect(r.compare?.missing).toBe(0);
  }, 180_000);
});

describe('pitr-restore: WAL continuity by segment names, along the chosen timeline', () => {
  it('an archive copied with fresh file times: a hole is still WAL_GAP naming the segment; whole, the plan says it cannot tell', async () => {
    const fresh = serverDir('pitr-proof-fresh');
    fs.cpSync(archive, fresh, { recursive: true });
    const holed = serverDir('pitr-proof-holed');
    fs.cpSync(archive, holed, { recursive: true });
    fs.rmSync(path.join(holed, workloadSegment));
    const r = await runPitr(native({ 'wal-archive': holed, 'target-time': midWorkload }), memoryLogger());
    expect(rules(r)).toEqual(['WAL_GAP']);
    expect(r.findings[0]?.message).toContain(workloadSegment);
    const ok = await runPitr(
      native({ 'wal-archive': fresh, 'target-time': midWorkload, 'plan-only': 'true' }),
      memoryLogger(),
    );
    expect(rules(ok)).toEqual([]);
    expect(ok.plan?.reachesTarget).toBe('cannot tell');
    expect(describeCoverage(ok.plan ?? {})).toMatch(/continuous by name .*cannot tell before replay/);
    expect(r.stages.find((s) => s.name === 'fetch')?.status).toBe('skipped');
  }, 60_000);

  it('WAL uploaded to S3 after the workload (every object newer than the target): a hole is WAL_GAP naming the segment', async () => {
    const s3 = await startS3();
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    try {
      await s3.bucket('late');
      for (const f of fs.readdirSync(archive))
        if (f !== workloadSegment) await s3.put('late', `wal/${f}`, fs.readFileSync(path.join(archive, f)));
      const r = await runPitr(
        native({
          'wal-archive': 's3://late/wal',
          's3-endpoint': s3.endpoint,
          'target-time': midWorkload,
          'plan-only': 'true',
        }),
        memoryLogger(),
      );
      expect(rules(r)).toEqual(['WAL_GAP']);
      expect(r.findings[0]?.message).toContain(workloadSegment);
    } finally {
      process.env = saved;
      await s3.stop();
    }
  }, 60_000);

  it('target-timeline: latest follows a fork, current stays on the backup’s, a number picks one, an unknown one is refused', async () => {
    // A fork: a kept drill is timeline 2; its rows and its WAL go into a copy of the archive.
    const kept = await runPitr(native({ 'target-time': midWorkload, keep: 'true' }), memoryLogger());
    const fork = serverDir('pitr-proof-fork');
    fs.cpSync(archive, fork, { recursive: true, preserveTimestamps: true });
    let forkTarget = '';
    try {
      const conn = parseDbUrl('x', kept.databaseUrl as string, () => {});
      await withClient(conn, async (c) => {
        await c.query('CREATE TABLE fork_rows (id int)');
        await c.query('INSERT INTO fork_rows VALUES (1)');
        await sleep(300);
        forkTarget = new Date().toISOString();
        await sleep(300);
        await c.query('INSERT INTO fork_rows VALUES (2)');
        await c.query('SELECT pg_switch_wal()');
      });
      const walDir = path.join(kept.handle as string, 'data', 'pg_wal');
      const names = fs
        .readdirSync(walDir)
        .filter((n) => /^00000002[0-9A-F]{16}$/.test(n))
        .sort();
      for (const n of [...names.slice(0, -1), '00000002.history'])
        fs.copyFileSync(path.join(walDir, n), path.join(fork, n));
    } finally {
      expect(await removeCluster(kept.handle as string)).toBe(true);
    }
    const plan = (tl: string) =>
      runPitr(
        native({
          'wal-archive': fork,
          'target-time': forkTarget,
          'target-timeline': tl,
          'plan-only': 'true',
        }),
        memoryLogger(),
      );
    const latest = await plan('latest');
    expect([latest.plan?.timeline, latest.plan?.walLast?.slice(0, 8)]).toEqual([2, '00000002']);
    const current = await plan('current');
    expect([current.plan?.timeline, current.plan?.walLast?.slice(0, 8)]).toEqual([1, '00000001']);
    expect((await plan('2')).plan?.timeline).toBe(2);
    const unknown = await plan('9');
    expect(rules(unknown)).toEqual(['PITR_TIMELINE_UNKNOWN']);
    expect(() => native({ 'target-time': forkTarget, 'target-timeline': 'newest' })).toThrow(
      /target-timeline: "newest" is not a timeline/,
    );
    // Recovery follows the chosen one: on timeline 2 the fork's first row is there.
    const cfg = config(`pitr:
  checks:
    - { name: the fork's row, sql: "select count(*) from fork_rows where id = 1", expect: "== 1", asserts: before-target }
    - { name: not the later one, sql: "select count(*) from fork_rows where id = 2", expect: "== 0", asserts: after-target }
`);
    const r = await runPitr(
      native({ 'wal-archive': fork, 'target-time': forkTarget, 'target-timeline': '2', config: cfg }),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
  }, 180_000);
});
