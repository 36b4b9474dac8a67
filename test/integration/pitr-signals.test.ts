import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAll } from '../../src/postgres/binaries.js';
import { libpqEnv } from '../../src/postgres/client.js';
import type { ScratchCluster } from '../../src/postgres/cluster.js';
import { controlData } from '../../src/postgres/recovery.js';
import { archiveNow, baseBackup, query, serverDir, sleep, startArchiving } from '../harness/pitr.js';

/**
 * In place, production is always recoverable: the CLI (the committed bundle, as a runner runs it)
 * is signalled at each phase of an in-place PITR, the ways a runner and a person do it, several
 * times each; every run must end with production's original data serving (nothing was handed
 * over yet), and the runs are counted.
 */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const cli = path.join(root, 'dist/cli/index.js');
const PHASES = ['fetch', 'replay', 'verify', 'handover'] as const;
const STYLES = ['SIGINT', 'SIGTERM', 'runner', 'kill -9 then --rollback'] as const;
const ROUNDS = 2;

let live: ScratchCluster;
let arch: string;
let bases: string;
let target: string;
let id: string;

beforeAll(async () => {
  arch = serverDir('pitr-sig-archive');
  bases = serverDir('pitr-sig-base');
  live = await startArchiving('test-pitr-signals', arch);
  const pgbench = (await findAll('pgbench'))[0];
  expect(pgbench, 'pgbench is missing: apt-get install postgresql-contrib (or postgresql)').toBeDefined();
  const bench = (args: string[]) => {
    const r = spawnSync((pgbench as { path: string }).path, args, {
      env: { ...process.env, ...libpqEnv(live.conn()) },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
  };
  bench(['-i', '-s', '2', '-q']);
  await query(live, 'CREATE TABLE marker (phase text)');
  await baseBackup(live, path.join(bases, 'b1'));
  bench(['-c', '2', '-T', '2']);
  await query(live, "INSERT INTO marker VALUES ('before')");
  await sleep(1100);
  target = new Date().toISOString();
  await sleep(1100);
  await query(live, "INSERT INTO marker VALUES ('after')");
  bench(['-c', '2', '-T', '2']);
  await archiveNow(live);
  id = (await controlData(live.bin, live.dataDir))['Database system identifier'] as string;
}, 180_000);

afterAll(async () => {
  await live?.stop();
});

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.on('exit', (c) => resolve(c));
  });

function journal(): { phase: string } | undefined {
  try {
    return JSON.parse(fs.readFileSync(`${live.dataDir}.restorable-journal.json`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The CLI's in-place PITR of `live` from `from`, as a person or a runner starts it. */
function inPlace(from: string, env: Record<string, string> = {}): ChildProcess {
  fs.rmSync(`${live.dataDir}.restorable-journal.json`, { force: true });
  const args = ['--data-directory', live.dataDir, '--confirm', id, '--base-backups', from];
  return spawn(
    process.execPath,
    [cli, 'pitr', '--mode', 'in-place', ...args, '--wal-archive', arch, '--target-time', target],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
}

/** What is left beside production's data directory, and no private recovery server running. */
function expectNothingLeft(said: string): void {
  const beside = fs.readdirSync(path.dirname(live.dataDir));
  expect(
    beside.filter((n) => n.includes('restorable-safety')),
    said,
  ).toEqual([]);
  expect(
    beside.filter((n) => n.includes('restorable-restore-')),
    said,
  ).toEqual([]);
  for (const n of beside.filter((x) => x.includes('restorable-failed'))) {
    const dir = path.join(path.dirname(live.dataDir), n);
    expect(fs.existsSync(path.join(dir, 'postmaster.pid')), said).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Wait until the run is paused at `point` (its journal says the phase it pauses in), then signal it. */
async function signalAt(point: (typeof PHASES)[number], style: (typeof STYLES)[number]): Promise<string> {
  const child = inPlace(bases, { RESTORABLE_PAUSE_AT: point });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const want = { fetch: 'fetching', replay: 'stopped', verify: 'promoted', handover: 'swapped' }[point];
  for (let i = 0; i < 600 && child.exitCode === null; i++) {
    if (journal()?.phase === want) break;
    await sleep(50);
  }
  expect(journal()?.phase, err).toBe(want);
  if (point !== 'fetch') await sleep(300); // inside the pause
  if (style === 'SIGINT' || style === 'SIGTERM') child.kill(style);
  else if (style === 'runner') {
    child.kill('SIGINT');
    await Promise.race([exited(child), sleep(7500)]);
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited(child), sleep(2500)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  } else child.kill('SIGKILL');
  await exited(child);
  if (style === 'kill -9 then --rollback') {
    const r = spawnSync(process.execPath, [cli, 'pitr', '--rollback', '--data-directory', live.dataDir], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    err += r.stdout;
  }
  return err;
}

describe('pitr-restore in place, signalled at every phase', () => {
  let runs = 0;
  afterAll(() => {
    process.stdout.write(
      `in-place signal runs: ${runs} (${PHASES.length} phases x ${STYLES.length} ways x ${ROUNDS} rounds)\n`,
    );
  });
  for (let round = 1; round <= ROUNDS; round++) {
    for (const point of PHASES) {
      it.each(STYLES)(
        `round ${round}, ${point}: %s leaves production's original data serving`,
        async (style) => {
          const said = await signalAt(point, style);
          // Production answers on its own port and socket, with the row written after the target.
          let rows: { n: string }[] = [];
          for (let i = 0; i < 100; i++) {
            rows = await query<{ n: string }>(
              live,
              "SELECT count(*) AS n FROM marker WHERE phase = 'after'",
            ).catch(() => []);
            if (rows.length) break;
            await sleep(100);
          }
          expect(rows[0]?.n, said).toBe('1');
          expect(journal()?.phase, said).toBe('rolled-back');
          expectNothingLeft(said);
          runs++;
        },
        120_000,
      );
    }
  }
});

describe('pitr-restore in place, cancelled while a large local base backup is copied', () => {
  it('exits within a second, leaving nothing beside production', async () => {
    // The base backup with a 2 GiB file in it (written, not sparse): copying it takes seconds.
    const big = serverDir('pitr-sig-big');
    fs.cpSync(path.join(bases, 'b1'), path.join(big, 'b1'), { recursive: true });
    const fd = fs.openSync(path.join(big, 'b1', 'zz-big.bin'), 'w');
    const mib = Buffer.alloc(1 << 20, 7);
    for (let i = 0; i < 2048; i++) fs.writeSync(fd, mib);
    fs.closeSync(fd);
    const child = inPlace(big);
    let err = '';
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const copying = () => {
      for (const n of fs
        .readdirSync(path.dirname(live.dataDir))
        .filter((x) => x.includes('restorable-restore-'))) {
        const f = path.join(path.dirname(live.dataDir), n, 'zz-big.bin');
        if (fs.existsSync(f) && fs.statSync(f).size > 64 << 20) return true;
      }
      return false;
    };
    for (let i = 0; i < 600 && child.exitCode === null && !copying(); i++) await sleep(20);
    expect(copying(), err).toBe(true);
    const sent = performance.now();
    child.kill('SIGINT');
    const code = await exited(child);
    const took = performance.now() - sent;
    process.stdout.write(`cancel during a 2 GiB local copy: exited ${code} after ${Math.round(took)} ms\n`);
    expect(took, err).toBeLessThan(1000);
    expect(journal()?.phase, err).toBe('rolled-back');
    expectNothingLeft(err);
    const rows = await query<{ n: string }>(live, "SELECT count(*) AS n FROM marker WHERE phase = 'after'");
    expect(rows[0]?.n).toBe('1');
    fs.rmSync(big, { recursive: true, force: true });
  }, 120_000);
});
