import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as restoreDrillAction } from '../../src/actions/restore-drill.js';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { parseDrillOptions } from '../../src/drill/options.js';
import { type DrillResult, runDrill } from '../../src/drill/run.js';
import { SideCounts } from '../../src/drill/side-counts.js';
import { removeKept } from '../../src/drill/target.js';
import { queryRows } from '../../src/postgres/client.js';
import {
  findLeftovers,
  labelFile,
  leftoversToClean,
  removeCluster,
  ScratchCluster,
} from '../../src/postgres/cluster.js';
import { passwdIds } from '../../src/postgres/scratch-user.js';
import { countRows } from '../../src/postgres/tables.js';
import type { StageResult } from '../../src/report/stages.js';
import { loadChinook, sql, startCluster, tempDir } from '../harness/pg.js';
import { interruptOnceClusterUp } from '../harness/signals.js';

let src: ScratchCluster;
let dir: string;
const f: Record<string, string> = {};

beforeAll(async () => {
  dir = tempDir('overlap');
  src = await startCluster({ label: 'test-src' });
  await loadChinook(src);
  f.chinook = await dumpDatabase(src, 'chinook', path.join(dir, 'chinook.dump'));
  f.plain = await dumpDatabase(src, 'chinook', path.join(dir, 'chinook.sql'), { format: 'p' });
  // Several tables, an inheritance parent whose count grows as its child loads, and partitions.
  await sql(src, 'postgres', 'CREATE DATABASE shop');
  await sql(
    src,
    'shop',
    `CREATE TABLE orders (id int PRIMARY KEY, total int); INSERT INTO orders SELECT g, g FROM generate_series(1, 200000) g;
     CREATE TABLE lines (id int PRIMARY KEY, order_id int REFERENCES orders); INSERT INTO lines SELECT g, 1 + g % 200000 FROM generate_series(1, 400000) g;
     CREATE TABLE base (id int); CREATE TABLE child (extra text) INHERITS (base);
     INSERT INTO base SELECT generate_series(1, 10); INSERT INTO child SELECT g, 'x' FROM generate_series(1, 7) g;
     CREATE TABLE m (id int, at date) PARTITION BY RANGE (at);
     CREATE TABLE m_a PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
     CREATE TABLE m_b PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
     INSERT INTO m SELECT g, date '2025-06-01' + (g % 400) FROM generate_series(1, 1000) g;
     CREATE TABLE empty (id int);`,
  );
  f.shop = await dumpDatabase(src, 'shop', path.join(dir, 'shop.dump'));
}, 240_000);

afterAll(async () => {
  await src?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const mine = () => findLeftovers().filter((c) => c.label.pid === process.pid && c.label.label === 'drill');
/** A process still running: not gone, and not a zombie (killed, its parent, this test, yet to reap it). */
const running = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};
const stage = (r: DrillResult, name: string) => r.stages.find((s) => s.name === name);

/** A drill whose log and stage ends land in one list, in the order they happened. */
async function drill(
  source: string,
  extra: Record<string, string> = {},
  verdict?: (r: DrillResult) => void | Promise<void>,
): Promise<{ r: DrillResult; lines: string[] }> {
  const opts = parseDrillOptions(
    { source, 'max-age': '1000d', checksum: 'skip', jobs: '2', ...extra },
    'input',
  );
  const log = memoryLogger();
  const onStage = (s: StageResult) => log.lines.push(`stage ${s.name} ${s.status}`);
  const r = await runDrill(opts, log, onStage, verdict);
  return { r, lines: log.lines };
}

describe('the target starts while the backup is read', () => {
  for (const kind of ['chinook', 'plain']) {
    it(`a ${kind} dump: the scratch cluster starts before the read ends, and its time is the target stage's`, async () => {
      const { r, lines } = await drill(f[kind] as string);
      expect(r.verdict).toBe('pass');
      const started = lines.indexOf('debug: starting the scratch cluster while the backup is read');
      expect(started).toBeGreaterThanOrEqual(0);
      expect(started).toBeLessThan(lines.indexOf('stage read ok'));
      expect(stage(r, 'target')?.reason).toMatch(/started while the backup was read/);
      // initdb and pg_ctl start take more than this, wherever they overlapped.
      expect(stage(r, 'target')?.seconds).toBeGreaterThan(0.3);
      expect(r.rows).toBe(15607);
      expect(mine()).toEqual([]);
    });
  }

  it('a backup that does not verify: the early cluster is removed, the report reads as before', async () => {
    const { r, lines } = await drill(f.chinook as string, { checksum: 'a'.repeat(64) });
    expect(lines).toContain('debug: starting the scratch cluster while the backup is read');
    expect(r.findings.map((x) => x.rule)).toContain('CHECKSUM_MISMATCH');
    const after = r.stages.slice(r.stages.findIndex((s) => s.name === 'target'));
    expect(after.map((s) => `${s.name}:${s.status}:${s.reason}`)).toEqual(
      ['target', 'restore', 'structure', 'volume', 'semantics', 'compare', 'integrity', 'teardown'].map(
        (s) => `${s}:skipped:the backup did not verify (CHECKSUM_MISMATCH)`,
      ),
    );
    expect(r.target).toBeUndefined();
    expect(mine()).toEqual([]);
  });

  it('restore-into older than the dump: the one line the target stage said before, nothing left', async () => {
    await expect(drill(f.chinook as string, { 'restore-into': '13' })).rejects.toThrow(
      /is 13, older than the PostgreSQL \d+ the dump comes from/,
    );
    expect(mine()).toEqual([]);
  });

  it('SIGINT while the drill runs (its sources): exit 130, the scratch cluster removed', async () => {
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(root, 'src/cli/index.ts'),
        'drill',
        '--source',
        f.shop as string,
        '--max-age',
        '1000d',
        '--checksum',
        'skip',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: root },
    );
    expect(await interruptOnceClusterUp(child, findLeftovers)).toEqual({
      code: 130,
      removed: true,
      userRemoved: true,
    });
  }, 90_000);

  it('a sample naming a table the dump lacks: refused in one line, the early cluster removed', async () => {
    const opts = { tier: 'sample', 'sample-tables': 'public.nope' };
    await expect(drill(f.chinook as string, opts)).rejects.toThrow(/has no rows for/);
    expect(mine()).toEqual([]);
  });
});

describe('teardown follows the verdict', () => {
  it('the verdict is handed out while the cluster is up; it is removed after, and the report says so', async () => {
    let during: unknown[] = [];
    let told: DrillResult | undefined;
    const { r } = await drill(f.chinook as string, {}, (res) => {
      told = res;
      during = mine();
    });
    expect(told).toBe(r);
    expect(r.verdict).toBe('pass');
    expect(during).toHaveLength(1);
    expect(mine()).toEqual([]);
    expect(stage(r, 'teardown')).toMatchObject({ status: 'ok' });
    expect(stage(r, 'teardown')?.reason).toMatch(/after the verdict: the scratch cluster is removed/);
  });

  it('the action publishes its outputs and report, then stops the cluster; its post step removes it', async () => {
    const work = fs.mkdtempSync(path.join(dir, 'action-'));
    const env = { GITHUB_OUTPUT: 'out', GITHUB_STEP_SUMMARY: 'summary.md', GITHUB_STATE: 'state' };
    for (const [k, v] of Object.entries(env)) {
      fs.writeFileSync(path.join(work, v), '');
      vi.stubEnv(k, path.join(work, v));
    }
    const report = path.join(work, 'report.json');
    const inputs = {
      source: f.chinook as string,
      'max-age': '1000d',
      checksum: 'skip',
      report,
      'work-dir': work,
    };
    const seen: { report: boolean; outputs: string; up: boolean }[] = [];
    // What a backup's SQL may have started as the server's user, still running at the verdict.
    let straggler: number | undefined;
    const handOff = vi.spyOn(ScratchCluster.prototype, 'handOff').mockImplementation(async function (
      this: ScratchCluster,
    ) {
      const ids = passwdIds(this.osUser as string);
      const child = spawn('sleep', ['600'], { ...ids, detached: true, stdio: 'ignore' });
      child.unref();
      straggler = child.pid;
      seen.push({
        report: fs.existsSync(report),
        outputs: fs.readFileSync(path.join(work, 'out'), 'utf8'),
        up: fs.existsSync(path.join(this.dataDir, 'postmaster.pid')),
      });
      handOff.mockRestore();
      return this.handOff();
    });
    const stop = vi.spyOn(ScratchCluster.prototype, 'stop');
    let left: ReturnType<typeof mine>;
    try {
      await restoreDrillAction(inputs);
      expect(stop).not.toHaveBeenCalled();
      // The main step ends with its server stopped and its folder left for the post step.
      left = mine();
      expect(left).toHaveLength(1);
      const root = left[0]?.root as string;
      expect(fs.existsSync(path.join(root, 'data', 'postmaster.pid'))).toBe(false);
      expect(straggler).toBeDefined();
      expect(running(straggler as number)).toBe(false);
      const saved = /stopped-target<<(\S+)\n(.*)\n\1/.exec(fs.readFileSync(path.join(work, 'state'), 'utf8'));
      expect(JSON.parse(saved?.[2] as string)).toEqual({ kind: 'scratch', root });
      vi.stubEnv('STATE_is-post', 'true');
      vi.stubEnv('STATE_stopped-target', saved?.[2] as string);
      await restoreDrillAction(inputs);
    } finally {
      handOff.mockRestore();
      stop.mockRestore();
      vi.unstubAllEnvs();
      process.exitCode = undefined;
    }
    expect(seen).toEqual([
      { report: true, outputs: expect.stringMatching(/verdict<<\S+\npass\n/), up: true },
    ]);
    // The report says what the step did: stopped after the verdict, removed by the post step.
    const teardown = JSON.parse(fs.readFileSync(report, 'utf8')).stages.find(
      (s: { name: string }) => s.name === 'teardown',
    );
    expect(teardown?.reason).toBe(
      'after the verdict: the scratch cluster is stopped once the report is written, and the post step removes it',
    );
    expect(mine()).toEqual([]);
    expect(fs.existsSync(left[0]?.root as string)).toBe(false);
    const user = left[0]?.label.osUser;
    expect(user && left[0]?.label.ownUser ? passwdIds(user) : undefined).toBeUndefined();
  });

  it('a main step whose post step never ran: its stopped cluster is what restorable clean removes', async () => {
    let handle: string | undefined;
    const opts = parseDrillOptions(
      { source: f.chinook as string, 'max-age': '1000d', checksum: 'skip' },
      'input',
    );
    const r = await runDrill(opts, memoryLogger(), undefined, undefined, (h) => {
      handle = h;
    });
    expect(r.verdict).toBe('pass');
    const root = JSON.parse(handle as string).root as string;
    const label = mine().find((c) => c.root === root)?.label;
    expect(label).toBeDefined();
    expect(label?.kept).toBeUndefined();
    // Once the drill's process is gone its label is an orphan's, which plain `clean` takes.
    expect(leftoversToClean(false).map((c) => c.root)).not.toContain(root);
    const gone = spawnSync('true').pid as number; // a process that has exited: its pid is free
    const file = labelFile(root);
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), pid: gone }));
    expect(leftoversToClean(false).map((c) => c.root)).toContain(root);
    expect(await removeCluster(root)).toBe(true);
    expect(fs.existsSync(root)).toBe(false);
  });

  it('SIGTERM as the action publishes its verdict (3 runs): nothing left running, nothing the post step cannot remove', async () => {
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
    for (let round = 1; round <= 3; round++) {
      const work = fs.mkdtempSync(path.join(dir, 'sigterm-'));
      const files = { out: path.join(work, 'out'), state: path.join(work, 'state') };
      for (const file of Object.values(files)) fs.writeFileSync(file, '');
      const inputs = { source: f.chinook as string, 'max-age': '1000d', checksum: 'skip', 'work-dir': work };
      const env: Record<string, string> = {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(INPUT|STATE)_/.test(k))),
        GITHUB_OUTPUT: files.out,
        GITHUB_STATE: files.state,
        GITHUB_STEP_SUMMARY: path.join(work, 'summary.md'),
        ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
      };
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(root, 'src/entries/restore-drill.ts')],
        {
          env,
          cwd: root,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let made: ReturnType<typeof findLeftovers>[number] | undefined;
      const deadline = Date.now() + 90_000;
      while (!fs.readFileSync(files.out, 'utf8').includes('verdict<<') && Date.now() < deadline) {
        made ??= findLeftovers().find((c) => c.label.pid === child.pid);
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(made, `round ${round}: no cluster was seen`).toBeDefined();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      const at = made?.root as string;
      // Either the signal removed it, or the main step had stopped it and handed it on.
      expect(fs.existsSync(path.join(at, 'data', 'postmaster.pid')), `round ${round}`).toBe(false);
      const saved = /stopped-target<<(\S+)\n(.*)\n\1/.exec(fs.readFileSync(files.state, 'utf8'))?.[2];
      if (fs.existsSync(at)) {
        if (saved) {
          // What the post step does with it.
          expect(JSON.parse(saved)).toEqual({ kind: 'scratch', root: at });
          expect(await removeKept(saved)).toBe(at);
        } else {
          // Without a handle, its label is an orphan's, which plain `clean` takes.
          expect(leftoversToClean(false).map((c) => c.root)).toContain(at);
          expect(await removeCluster(at)).toBe(true);
        }
      }
      expect(fs.existsSync(at), `round ${round}`).toBe(false);
      const user = made?.label.osUser;
      expect(user && made?.label.ownUser ? passwdIds(user) : undefined, `round ${round}`).toBeUndefined();
    }
  }, 300_000);

  it('a verdict step that throws still removes the cluster', async () => {
    await expect(
      drill(f.chinook as string, {}, () => {
        throw new Error('publish failed');
      }),
    ).rejects.toThrow('publish failed');
    expect(mine()).toEqual([]);
  });

  it('keep: the target is left, with its handle in the result the verdict step sees', async () => {
    let handle: string | undefined;
    const { r } = await drill(f.chinook as string, { keep: 'true' }, (res) => {
      handle = res.target?.handle;
    });
    expect(handle).toBeDefined();
    const kept = mine();
    expect(kept).toHaveLength(1);
    expect(r.target?.url).toMatch(/^postgres/);
    for (const c of kept) await removeCluster(c.root);
  });
});

describe('tables are counted as their data finishes', () => {
  const cases = [
    { file: 'chinook', tier: 'full', jobs: '2', sample: '' },
    { file: 'chinook', tier: 'full', jobs: '1', sample: '' },
    { file: 'shop', tier: 'full', jobs: '2', sample: '' },
    { file: 'shop', tier: 'full', jobs: '1', sample: '' },
    { file: 'chinook', tier: 'sample', jobs: '2', sample: 'public.track,public.album,public.artist' },
    { file: 'shop', tier: 'sample', jobs: '1', sample: 'public.orders,public.base,public.lines' },
  ];
  for (const c of cases) {
    it(`${c.file}, tier ${c.tier}, jobs ${c.jobs}: the counts are those counted after the restore`, async () => {
      const sample: Record<string, string> = c.sample ? { 'sample-tables': c.sample } : {};
      const { r, lines } = await drill(f[c.file] as string, {
        tier: c.tier,
        jobs: c.jobs,
        keep: 'true',
        ...sample,
      });
      const root = JSON.parse(r.target?.handle as string).root as string;
      try {
        expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
        const port = Number(/:(\d+)\//.exec(r.target?.url as string)?.[1]);
        const conn = {
          host: path.join(root, 'socket'),
          port,
          user: 'postgres',
          database: r.target?.database as string,
        };
        const wanted = c.sample ? c.sample.split(',') : undefined;
        const after = (await countRows(conn, 1)).filter((x) => !wanted || wanted.includes(x.table));
        expect(r.counts).toEqual(after);
        const during = Number(
          /^debug: counted (\d+) tables? while the restore ran$/m.exec(lines.join('\n'))?.[1],
        );
        if (c.tier === 'full') {
          // The restore builds indexes and keys after the data: tables are counted meanwhile.
          expect(during).toBeGreaterThan(0);
          expect(stage(r, 'volume')?.reason).toMatch(/^\d+ of \d+ counted as the restore ran$/);
        } else expect(during).toBeGreaterThanOrEqual(0);
      } finally {
        await removeCluster(root);
      }
    });
  }

  it('a target-url role that is not a superuser (CREATEDB only): counted as the restore ran, exact, nothing left', async () => {
    const server = await startCluster({ label: 'test-side-nonsuper' });
    try {
      await sql(server, 'postgres', "CREATE ROLE driller LOGIN CREATEDB NOSUPERUSER PASSWORD 'dr1ller'");
      const target = `postgresql://driller:dr1ller@127.0.0.1:${server.port}/postgres`;
      const source = await countRows(src.conn('shop'), 1);
      for (const c of [
        { tier: 'full', jobs: '2', sample: '', used: 2 },
        // lines references orders, and pg_dump puts its data first: the checks stay on for this role,
        // and the rows load one item at a time, parents first (the report says 1 job, not 2).
        { tier: 'sample', jobs: '1', sample: 'public.lines,public.orders', used: 1 },
        { tier: 'sample', jobs: '2', sample: 'public.lines,public.orders', used: 1 },
        // No key among the sampled tables: nothing to order, the jobs asked for are used.
        { tier: 'sample', jobs: '2', sample: 'public.orders,public.child', used: 2 },
      ]) {
        const sample: Record<string, string> = c.sample ? { 'sample-tables': c.sample } : {};
        const { r, lines } = await drill(f.shop as string, {
          'target-url': target,
          tier: c.tier,
          jobs: c.jobs,
          ...sample,
        });
        expect(r.findings, `${c.tier}, jobs ${c.jobs}`).toEqual([]);
        expect(r.verdict).toBe('pass');
        expect(r.restore?.jobs, `${c.tier}, jobs ${c.jobs}: the jobs the restore used`).toBe(c.used);
        expect(r.target?.database).toMatch(/^restorable_drill_[0-9a-f]{8}$/);
        // The counts are the source's, exactly: every table, or the sampled ones.
        const wanted = c.sample ? c.sample.split(',') : undefined;
        expect(r.counts).toEqual(source.filter((x) => !wanted || wanted.includes(x.table)));
        const log = lines.join('\n');
        // A count may wait out a lock the restore holds (lock_timeout, by design), never a permission.
        expect(log).not.toMatch(
          /side counts stopped|counted after the restore \((?!canceling statement due to lock timeout\))/,
        );
        const during = Number(/^debug: counted (\d+) tables? while the restore ran$/m.exec(log)?.[1]);
        if (c.tier === 'full') {
          expect(during).toBeGreaterThan(0);
          expect(stage(r, 'volume')?.reason).toMatch(/^\d+ of \d+ counted as the restore ran$/);
        } else expect(during).toBeGreaterThanOrEqual(0);
      }
      // Nothing left: the drill databases dropped, no session of the role, nothing it owns.
      const dbs = await queryRows<{ datname: string }>(
        server.conn(),
        'SELECT datname FROM pg_database ORDER BY 1',
      );
      expect(dbs.map((x) => x.datname)).toEqual(['postgres', 'template0', 'template1']);
      const sessions = await queryRows<{ n: number }>(
        server.conn(),
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'driller'",
      );
      expect(sessions).toEqual([{ n: 0 }]);
      const owned = await queryRows<{ n: number }>(
        server.conn(),
        "SELECT count(*)::int AS n FROM pg_shdepend WHERE refobjid = 'driller'::regrole",
      );
      expect(owned).toEqual([{ n: 0 }]);
      await sql(server, 'postgres', 'DROP ROLE driller');
    } finally {
      await server.stop();
    }
  });

  it('a table whose data item starts again, and a count that fails, are left to the volume stage', async () => {
    await sql(src, 'postgres', 'CREATE DATABASE side');
    await sql(
      src,
      'side',
      'CREATE TABLE a (id int); INSERT INTO a SELECT generate_series(1, 5); CREATE TABLE b (id int)',
    );
    const counter = new SideCounts(src.conn('side'), memoryLogger());
    const a = { schema: 'public', name: 'a', table: 'public.a' };
    const b = { schema: 'public', name: 'b', table: 'public.b' };
    const gone = { schema: 'public', name: 'gone', table: 'public.gone' };
    counter.started(a);
    counter.finished(a);
    counter.started(b);
    counter.finished(b);
    counter.started(gone);
    counter.finished(gone);
    await new Promise((res) => setTimeout(res, 500));
    counter.started(b); // b's data again: its count no longer holds
    const counts = await counter.close();
    expect([...counts]).toEqual([['public.a', 5]]);
  });
});
