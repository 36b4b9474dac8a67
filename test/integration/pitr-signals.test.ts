import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAll } from '../../src/postgres/binaries.js';
import { libpqEnv } from '../../src/postgres/client.js';
import type { ScratchCluster } from '../../src/postgres/cluster.js';
import { controlData } from '../../src/postgres/recovery.js';
import { archiveNow, baseBackup, query, serverDir, sleep, startArchiving } from '../harness/pitr.js';
import { type S3Harness, startS3 } from '../harness/s3.js';
import {
  exited,
  expectNothingLeft,
  inPlaceRun,
  journalOf,
  PHASE_AT,
  type Point,
  STYLES,
  signalAt,
} from '../harness/signals.js';

/**
 * In place, production is always recoverable: the CLI (the committed bundle, as a runner runs it)
 * is signalled at each phase of an in-place PITR, the ways a runner and a person do it, several
 * times each; every run must end with production's original data serving (nothing was handed
 * over yet), and the runs are counted.
 */
const PHASES = Object.keys(PHASE_AT) as Point[];
const ROUNDS = 2;

let live: ScratchCluster;
let arch: string;
let bases: string;
let tarBases: string;
let target: string;
let id: string;

beforeAll(async () => {
  arch = serverDir('pitr-sig-archive');
  bases = serverDir('pitr-sig-base');
  tarBases = serverDir('pitr-sig-tar');
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
  await baseBackup(live, path.join(tarBases, 'b1'), 'tar');
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

const args = (from: string) => [
  '--confirm',
  id,
  '--base-backups',
  from,
  '--wal-archive',
  arch,
  '--target-time',
  target,
];

describe('pitr-restore in place, signalled at every phase', () => {
  let runs = 0;
  afterAll(() => {
    process.stdout.write(
      `in-place signal runs: ${runs} (${PHASES.length} phases x ${STYLES.length} ways x ${ROUNDS} rounds: plain, tar)\n`,
    );
  });
  for (let round = 1; round <= ROUNDS; round++) {
    for (const point of PHASES) {
      it.each(STYLES)(
        `round ${round}, ${point}: %s leaves production's original data serving`,
        async (style) => {
          const said = await signalAt(live.dataDir, args(round === 1 ? bases : tarBases), point, style);
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
          expect(journalOf(live.dataDir)?.phase, said).toBe('rolled-back');
          expectNothingLeft(live.dataDir, said);
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
    const { child, stderr } = inPlaceRun(live.dataDir, args(big));
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
    expect(copying(), stderr()).toBe(true);
    const sent = performance.now();
    child.kill('SIGINT');
    const code = await exited(child);
    const took = performance.now() - sent;
    process.stdout.write(`cancel during a 2 GiB local copy: exited ${code} after ${Math.round(took)} ms\n`);
    expect(took, stderr()).toBeLessThan(1000);
    expect(journalOf(live.dataDir)?.phase, stderr()).toBe('rolled-back');
    expectNothingLeft(live.dataDir, stderr());
    const rows = await query<{ n: string }>(live, "SELECT count(*) AS n FROM marker WHERE phase = 'after'");
    expect(rows[0]?.n).toBe('1');
    fs.rmSync(big, { recursive: true, force: true });
  }, 120_000);
});

describe('pitr-restore in place from S3, signalled', () => {
  let s3: S3Harness;
  let runs = 0;
  beforeAll(async () => {
    s3 = await startS3();
    await s3.bucket('sig');
    const b1 = path.join(bases, 'b1');
    for (const f of fs.readdirSync(b1, { recursive: true, withFileTypes: true })) {
      if (!f.isFile()) continue;
      const file = path.join(f.parentPath, f.name);
      await s3.put('sig', `base/b1/${path.relative(b1, file)}`, fs.readFileSync(file));
    }
    for (const f of fs.readdirSync(arch))
      await s3.put('sig', `wal/${f}`, fs.readFileSync(path.join(arch, f)));
  }, 120_000);
  afterAll(async () => {
    process.stdout.write(`in-place signal runs from S3: ${runs}\n`);
    await s3?.stop();
  });
  const points: Point[] = ['unpack', 'replay', 'handover'];
  for (const point of points) {
    it.each(['SIGINT', 'kill -9 then --rollback'] as const)(
      `${point}: %s leaves production's original data serving`,
      async (style) => {
        const s3args = ['--confirm', id, '--s3-endpoint', s3.endpoint, '--base-backups', 's3://sig/base'];
        const said = await signalAt(
          live.dataDir,
          [...s3args, '--wal-archive', 's3://sig/wal', '--target-time', target],
          point,
          style,
          s3.env,
        );
        const rows = await query<{ n: string }>(
          live,
          "SELECT count(*) AS n FROM marker WHERE phase = 'after'",
        );
        expect(rows[0]?.n, said).toBe('1');
        expect(journalOf(live.dataDir)?.phase, said).toBe('rolled-back');
        expectNothingLeft(live.dataDir, said);
        // On Node 20, the CLI's oldest, stderr holds the run's own lines, no SDK notice.
        expect(said).not.toContain('NodeVersionSupportWarning');
        runs++;
      },
      120_000,
    );
  }
});
