/**
 * pitr-restore (issue 5): replay of >= 1 GiB of WAL served from S3 through the prefetching spool,
 * against replay of the same segments from local disk with `restore_command = 'cp ...'`; and the
 * per-segment cost of the spool's restore_command itself.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DRILL_RECOVERY_TUNING } from '../src/pitr/modes.js';
import { parsePitrOptions } from '../src/pitr/options.js';
import { runPitr } from '../src/pitr/run.js';
import { WalSpool } from '../src/pitr/spool.js';
import { WalArchive } from '../src/pitr/wal-archive.js';
import { pick } from '../src/postgres/binaries.js';
import { withClient } from '../src/postgres/client.js';
import { freePort, ownerOf } from '../src/postgres/cluster.js';
import { PgCtl } from '../src/postgres/pgctl.js';
import { chownTree, runRecovery, writeRecoveryConfig } from '../src/postgres/recovery.js';
import { LocalSource } from '../src/sources/local.js';
import { archiveNow, baseBackup, serverDir, startArchiving } from '../test/harness/pitr.js';
import { fmtMiB, fmtS, fmtX, MiB, median, verdict } from './stats.js';

export const PITR_RATIO_TARGET = 1.15;
export const SEGMENT_MS_TARGET = 5;

export interface PitrBench {
  walBytes: number;
  segments: number;
  s3: number[];
  local: number[];
  ratios: number[];
  segmentMs: number;
}

const silent = { info() {}, warn() {}, debug() {}, secret() {} };

/** A source with >= `mib` MiB of WAL after a base backup, archived with cp, ending at a restore point. */
async function makeWal(mib: number, say: (m: string) => void) {
  const archive = serverDir('bench-wal');
  const base = serverDir('bench-base');
  const src = await startArchiving('bench-pitr', archive, {
    max_wal_size: '4GB',
    checkpoint_timeout: '30min',
  });
  await withClient(src.conn(), async (c) => {
    await c.query('CREATE TABLE events (id bigint, at timestamptz, pad text)');
  });
  await baseBackup(src, path.join(base, 'b1'));
  const start = Date.now();
  const walBytes = await withClient(src.conn(), async (c) => {
    const from = (await c.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]?.l;
    for (let batch = 0; ; batch++) {
      await c.query(
        `INSERT INTO events SELECT g, clock_timestamp(), repeat(md5(g::text), 6) FROM generate_series(${batch * 500_000}, ${(batch + 1) * 500_000 - 1}) g`,
      );
      const done = Number(
        (await c.query<{ d: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${from}') AS d`)).rows[0]
          ?.d,
      );
      if (done >= mib * MiB) {
        await c.query("SELECT pg_create_restore_point('bench-end')");
        return done;
      }
    }
  });
  await archiveNow(src);
  await src.stop();
  const segments = fs.readdirSync(archive).filter((n) => /^[0-9A-F]{24}$/.test(n)).length;
  say(
    `${fmtMiB(walBytes)} of WAL in ${segments} segments, written and archived in ${fmtS((Date.now() - start) / 1000)}`,
  );
  return { archive, base, walBytes, segments };
}

/** Replay from the local archive with restore_command = 'cp', with the drill's own settings otherwise. */
async function replayWithCp(base: string, archive: string): Promise<number> {
  const root = serverDir('bench-cp');
  const data = path.join(root, 'data');
  const socket = path.join(root, 'socket');
  fs.cpSync(path.join(base, 'b1'), data, { recursive: true });
  fs.mkdirSync(socket);
  fs.chmodSync(data, 0o700);
  const osUser = process.getuid?.() === 0 ? 'postgres' : undefined;
  const owner = ownerOf(osUser);
  fs.writeFileSync(path.join(data, 'pg_hba.conf'), 'local all all trust\n');
  writeRecoveryConfig(
    data,
    {
      restore_command: `cp ${archive}/%f %p`,
      recovery_target_name: 'bench-end',
      recovery_target_action: 'promote',
      recovery_target_timeline: 'latest',
      archive_mode: 'off',
      hot_standby: 'on',
      timezone: 'UTC',
      log_timezone: 'UTC',
      port: String(await freePort()),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: socket,
      logging_collector: 'off',
      ...DRILL_RECOVERY_TUNING,
    },
    owner,
  );
  chownTree(root, owner);
  const major = Number(fs.readFileSync(path.join(data, 'PG_VERSION'), 'utf8'));
  const bin = await pick('pg_ctl', major);
  if (!bin || bin.major !== major) throw new Error(`PostgreSQL ${major} server binaries are missing`);
  try {
    const out = await runRecovery({
      dataDir: data,
      bin,
      osUser,
      logFile: path.join(root, 'server.log'),
      expectStopLine: true,
    });
    if (out.status !== 'promoted')
      throw new Error(`cp replay did not reach the target: ${out.reason}\n${out.logTail}`);
    return out.seconds;
  } finally {
    await new PgCtl(bin.dir, data, osUser).shutdown();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * The spool's restore_command per segment, as the server runs it (system(): `sh -c` with %f and %p
 * filled in), the segment already in the spool. Timed inside one shell loop, so that this process's
 * own fork cost is not counted: the loop with the command, less the same loop without it.
 */
function segmentOverhead(calls: number): number {
  const dir = serverDir('bench-spool');
  const spool = new WalSpool(
    new WalArchive(new LocalSource('bench', dir), []),
    path.join(dir, 'spool'),
    [],
    1,
    undefined,
    silent,
  );
  const seg = '000000010000000000000001';
  const command = spool.restoreCommand.replaceAll('%f', seg).replaceAll('%p', path.join(dir, 'RECOVERYXLOG'));
  const loop = (body: string) => {
    const t0 = performance.now();
    const r = spawnSync(
      '/bin/sh',
      ['-c', `i=0; while [ $i -lt ${calls} ]; do : > '${spool.dir}/${seg}'; ${body}; i=$((i+1)); done`],
      {
        env: { ...process.env, CMD: command },
      },
    );
    if (r.status !== 0) throw new Error(`the restore_command loop failed: ${r.stderr}`);
    return performance.now() - t0;
  };
  const times: number[] = [];
  for (let round = 0; round < 5; round++) times.push((loop('sh -c "$CMD"') - loop(':')) / calls);
  fs.rmSync(dir, { recursive: true, force: true });
  return median(times);
}

/** user + system CPU seconds of a process, from /proc (0 where there is none). */
export function cpuSecondsOf(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** s3rver in a child process; puts go through the SDK like any client's. */
export async function s3rverChild(): Promise<{
  endpoint: string;
  env: Record<string, string>;
  pid: number;
  stop: () => void;
}> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(path.dirname(new URL(import.meta.url).pathname), 's3rver-child.ts')],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    },
  );
  const ready = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const line = out.split('\n').find((l) => l.startsWith('READY '));
      if (line) resolve(line.slice(6));
    });
    child.on('error', reject);
    child.on('close', (code) => reject(new Error(`s3rver child exited ${code}`)));
  });
  const info = JSON.parse(ready) as { endpoint: string; env: Record<string, string> };
  return { ...info, pid: child.pid as number, stop: () => child.stdin.end() };
}

export async function benchPitr(rounds: number, mib: number, say: (m: string) => void): Promise<PitrBench> {
  const wal = await makeWal(mib, say);
  const s3 = await s3rverChild();
  Object.assign(process.env, s3.env);
  const client = new S3Client({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: s3.env.AWS_REGION ?? 'us-east-1',
  });
  await client.send(new CreateBucketCommand({ Bucket: 'bench-wal' }));
  const t0 = Date.now();
  for (const f of fs.readdirSync(wal.archive))
    await client.send(
      new PutObjectCommand({
        Bucket: 'bench-wal',
        Key: `wal/${f}`,
        Body: fs.readFileSync(path.join(wal.archive, f)),
      }),
    );
  say(`uploaded the archive to s3rver (a child process) in ${fmtS((Date.now() - t0) / 1000)}`);
  try {
    return await replayRounds(rounds, wal, s3.endpoint, s3.pid, say);
  } finally {
    s3.stop();
    fs.rmSync(wal.archive, { recursive: true, force: true });
    fs.rmSync(wal.base, { recursive: true, force: true });
  }
}

async function replayRounds(
  rounds: number,
  wal: { archive: string; base: string; walBytes: number; segments: number },
  endpoint: string,
  serverPid: number,
  say: (m: string) => void,
): Promise<PitrBench> {
  const result: PitrBench = {
    walBytes: wal.walBytes,
    segments: wal.segments,
    s3: [],
    local: [],
    ratios: [],
    segmentMs: 0,
  };
  for (let i = 0; i < rounds; i++) {
    const local = await replayWithCp(wal.base, wal.archive);
    const opts = parsePitrOptions(
      {
        'base-backups': wal.base,
        'wal-archive': 's3://bench-wal/wal',
        's3-endpoint': endpoint,
        'target-name': 'bench-end',
      },
      'input',
    );
    // CPU of this process and of s3rver while the server replays (the recover stage).
    let cpu0 = process.cpuUsage();
    let server0 = 0;
    let during = '';
    const onStage = Object.assign(
      (st: { name: string }) => {
        if (st.name !== 'recover') return;
        const cpu = process.cpuUsage(cpu0);
        during = `restorable ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (user ${(cpu.user / 1e6).toFixed(1)}), s3rver ${(cpuSecondsOf(serverPid) - server0).toFixed(1)} s`;
      },
      {
        start: (name: string) => {
          if (name !== 'recover') return;
          cpu0 = process.cpuUsage();
          server0 = cpuSecondsOf(serverPid);
        },
      },
    );
    const r = await runPitr(opts, silent, onStage);
    say(`  CPU during replay: ${during}`);
    if (r.replaySeconds === undefined || r.stages.find((s) => s.name === 'recover')?.status !== 'ok')
      throw new Error(`the S3 replay failed: ${JSON.stringify(r.stages)}`);
    result.local.push(local);
    result.s3.push(r.replaySeconds);
    result.ratios.push(r.replaySeconds / local);
    say(
      `round ${i + 1}: replay waited for ${r.wal?.waits} of ${r.wal?.fetched} segments; S3 with prefetch ${fmtS(r.replaySeconds)}, local cp ${fmtS(local)}, ratio ${fmtX(r.replaySeconds / local)}`,
    );
  }
  result.segmentMs = segmentOverhead(200);
  say(
    `restore_command per segment (spool hit, 5 loops of 200 calls): median ${result.segmentMs.toFixed(2)} ms`,
  );
  return result;
}

export function pitrSummaryRows(b: PitrBench): string[][] {
  const ratio = median(b.ratios);
  return [
    [
      `pitr replay of ${fmtMiB(b.walBytes)} WAL: S3 + prefetch / local cp`,
      `median ${fmtX(ratio)}`,
      `<= ${PITR_RATIO_TARGET}x`,
      verdict(ratio <= PITR_RATIO_TARGET),
    ],
    [
      'pitr restore_command per segment',
      `median ${b.segmentMs.toFixed(2)} ms`,
      `<= ${SEGMENT_MS_TARGET} ms`,
      verdict(b.segmentMs <= SEGMENT_MS_TARGET),
    ],
  ];
}
