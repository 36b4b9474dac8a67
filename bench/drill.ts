/**
 * The restore-drill numbers issue 3 asks for, side by side in one run, alternating:
 *
 *   1. Restorable's whole drill (runDrill: verify in one pass, restore into a tuned scratch cluster,
 *      exact counts, sequences and constraints, teardown) against seed 003's monthly drill done by
 *      hand: sha256sum -c, pg_restore --list, a fresh default-config cluster, pg_restore --jobs=4
 *      --create, select count(*) for every user table, stop and remove. Each step a real subprocess.
 *   2. The drill's `restore` stage against a bare pg_restore --jobs=N into the same kind of tuned
 *      cluster (ScratchCluster with BULK_LOAD_SETTINGS): what the drill adds around pg_restore.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../src/core/exec.js';
import { silentLogger } from '../src/core/log.js';
import { parseDrillOptions } from '../src/drill/options.js';
import { type DrillResult, runDrill } from '../src/drill/run.js';
import { removeKept } from '../src/drill/target.js';
import { pick } from '../src/postgres/binaries.js';
import { libpqEnv, withClient } from '../src/postgres/client.js';
import { freePort, ScratchCluster } from '../src/postgres/cluster.js';
import { cpuSince, fmtS, fmtX, median, table, timed, verdict } from './stats.js';

export const WHOLE_TARGET = 0.7;
export const RESTORE_TARGET = 1.1;
/** The issue asks for medians over at least this many rounds. */
export const MIN_ROUNDS = 3;
/** seed 003: `pg_restore --dbname=postgres --create --jobs=4`. */
const SEED_JOBS = 4;
const PG_BIN = '/usr/lib/postgresql/15/bin';
const OS_USER = 'postgres';

/** The drill's stages, in its order, as printed in the per-stage table. */
const VERIFY_STAGES = ['locate', 'age', 'retention', 'read', 'checksum', 'archive', 'schema'];
const DRILL_STAGES = ['target', 'restore', 'structure', 'volume', 'semantics', 'integrity', 'teardown'];
/** The by-hand steps, in order. */
const HAND_STEPS = [
  'sha256sum -c',
  'pg_restore --list',
  'initdb (defaults)',
  'pg_ctl start',
  `pg_restore --jobs=${SEED_JOBS} --create`,
  'count(*) every table (psql)',
  'pg_ctl stop + rm -rf',
] as const;
type HandStep = (typeof HAND_STEPS)[number];

export interface DrillBench {
  file: string;
  rounds: number;
  /** --jobs of the drill and of the bare pg_restore. */
  jobs: number;
  tables: number;
  rows: number;
  /** The drill as the action's main step runs it: up to the verdict and the server's stop. */
  drill: number[];
  /** The post step's removal of the stopped cluster (files and user). */
  removal: number[];
  hand: number[];
  bare: number[];
  /** The drill's `restore` stage, and the pg_restore subprocess inside it (result.restore.seconds). */
  drillRestore: number[];
  drillPgRestore: number[];
  /** Per round: drill with its removal / by hand (both end to end), drill restore stage / bare pg_restore. */
  wholeRatios: number[];
  restoreRatios: number[];
  stages: Map<string, number[]>;
  handSteps: Map<HandStep, number[]>;
  /**
   * Per round, while each side ran: core-seconds the whole machine spent busy, and that as a share of
   * all cores' time (empty where /proc/stat is missing). A side whose share is near 100 % is bound by
   * the CPU: it gets faster only by doing less work, not by doing it more in parallel.
   */
  cpu: { hand: { busy: number; share: number }[]; drill: { busy: number; share: number }[] };
}

/** `<dump>.sha256` in sha256sum's format, written once (and again when the dump is newer). */
export async function ensureSidecar(file: string, say: (m: string) => void): Promise<string> {
  const sidecar = `${file}.sha256`;
  const base = path.basename(file);
  try {
    const st = fs.statSync(sidecar);
    const text = fs.readFileSync(sidecar, 'utf8');
    if (st.mtimeMs >= fs.statSync(file).mtimeMs && new RegExp(`^[0-9a-f]{64}  ${base}\\n$`).test(text)) {
      return sidecar;
    }
  } catch {}
  const r = await run('sha256sum', [base], { cwd: path.dirname(file) });
  if (r.code !== 0) throw new Error(`sha256sum ${file} failed: ${r.stderr.trim()}`);
  fs.writeFileSync(sidecar, r.stdout);
  say(`wrote ${sidecar} (sha256sum, ${fmtS(r.seconds)}), for both sides to check`);
  return sidecar;
}

/** Run a step that must succeed; its wall time. */
async function must(
  what: string,
  cmd: string,
  args: string[],
  opts: Parameters<typeof run>[2] = {},
): Promise<{ seconds: number; stdout: string }> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${what}: ${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(-800)}`,
    );
  }
  return { seconds: r.seconds, stdout: r.stdout };
}

export interface HandRun {
  seconds: number;
  steps: Record<HandStep, number>;
  counts: Map<string, number>;
}

/**
 * seed 003's monthly drill, by hand: every step a subprocess, as a shell script would run them. The
 * cluster is what `docker run postgres` gives: initdb's defaults, no tuning; only its port and socket
 * folder are chosen, so it cannot collide with anything. Stopped the way the seed's `docker kill` does
 * (immediate), then removed.
 */
export async function drillByHand(file: string): Promise<HandRun> {
  const dir = path.dirname(file);
  const bin = (t: string) => path.join(PG_BIN, t);
  const steps = {} as Record<HandStep, number>;
  const started = performance.now();
  await must('checksum', 'sha256sum', ['--check', '--quiet', `${path.basename(file)}.sha256`], { cwd: dir });
  steps['sha256sum -c'] = (performance.now() - started) / 1000;
  const list = await must('list', bin('pg_restore'), ['--list', file]);
  steps['pg_restore --list'] = list.seconds;
  const database = /^;\s+dbname: (.+)$/im.exec(list.stdout)?.[1]?.trim();
  if (!database) throw new Error('pg_restore --list did not name the dumped database');

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-by-hand-'));
  const data = path.join(root, 'data');
  const socket = path.join(root, 'socket');
  let running = false;
  try {
    fs.mkdirSync(socket);
    const ids = await must('id', 'id', ['-u', OS_USER]).then(async (u) => ({
      uid: Number(u.stdout.trim()),
      gid: Number((await must('id', 'id', ['-g', OS_USER])).stdout.trim()),
    }));
    fs.chownSync(root, ids.uid, ids.gid);
    fs.chownSync(socket, ids.uid, ids.gid);
    steps['initdb (defaults)'] = (
      await must('initdb', bin('initdb'), ['-D', data], { user: OS_USER })
    ).seconds;
    const port = await freePort();
    steps['pg_ctl start'] = (
      await must(
        'start',
        bin('pg_ctl'),
        ['-D', data, '-l', path.join(root, 'server.log'), '-o', `-p ${port} -k ${socket}`, '-w', 'start'],
        { user: OS_USER },
      )
    ).seconds;
    running = true;
    const env = { PGHOST: socket, PGPORT: String(port), PGUSER: 'postgres' };
    steps[`pg_restore --jobs=${SEED_JOBS} --create`] = (
      await must(
        'restore',
        bin('pg_restore'),
        [`--jobs=${SEED_JOBS}`, '--create', '--dbname', 'postgres', file],
        { env },
      )
    ).seconds;
    const t = performance.now();
    const tables = await must(
      'tables',
      bin('psql'),
      [
        '-X',
        '-At',
        '-d',
        database,
        '-c',
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
      ],
      { env },
    );
    const names = tables.stdout.split('\n').filter(Boolean);
    const counted = await must(
      'counts',
      bin('psql'),
      ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', database],
      {
        env,
        stdin: names.map((n) => `SELECT count(*) FROM ${n};\n`).join(''),
      },
    );
    steps['count(*) every table (psql)'] = (performance.now() - t) / 1000;
    const values = counted.stdout.split('\n').filter(Boolean).map(Number);
    if (values.length !== names.length)
      throw new Error(`psql counted ${values.length} of ${names.length} tables`);
    const counts = new Map(names.map((n, i) => [n, values[i] as number]));
    const s = performance.now();
    await must('stop', bin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { user: OS_USER });
    running = false;
    await must('rm', 'rm', ['-rf', root]);
    steps['pg_ctl stop + rm -rf'] = (performance.now() - s) / 1000;
    return { seconds: (performance.now() - started) / 1000, steps, counts };
  } finally {
    if (running) {
      await run(bin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { user: OS_USER }).catch(
        () => undefined,
      );
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Restorable's drill, end to end, as the action's main step runs it (minus the report rendering):
 * after the verdict the scratch cluster is stopped and its removal handed to the post step, which
 * is timed on its own (`removal`).
 */
export async function ourDrill(
  file: string,
  jobs: number,
): Promise<{ seconds: number; removal: number; result: DrillResult }> {
  const opts = parseDrillOptions(
    { source: file, 'max-age': '1000d', checksum: 'auto', jobs: String(jobs) },
    'input',
  );
  let handle: string | undefined;
  const { seconds, value } = await timed(() =>
    runDrill(opts, silentLogger, undefined, undefined, (h) => {
      handle = h;
    }),
  );
  if (!handle) throw new Error('the drill handed no stopped cluster to its post step');
  const left = handle;
  const removal = await timed(() => removeKept(left));
  if (!removal.value) throw new Error(`the post step's removal did not remove ${handle}`);
  if (value.verdict !== 'pass') {
    throw new Error(
      `runDrill said ${value.verdict}: ${value.findings.map((f) => `${f.rule}: ${f.message}`).join('; ')}; stages ${value.stages.map((s) => `${s.name} ${s.status}${s.reason ? ` (${s.reason})` : ''}`).join(', ')}`,
    );
  }
  const checksum = value.stages.find((s) => s.name === 'checksum');
  if (checksum?.status !== 'ok') {
    throw new Error(
      `the drill did not check the sidecar: checksum stage ${checksum?.status} ${checksum?.reason ?? ''}`,
    );
  }
  return { seconds, removal: removal.seconds, result: value };
}

/** pg_restore --jobs=N alone into a fresh tuned scratch cluster's empty database; only pg_restore is timed. */
export async function barePgRestore(file: string, jobs: number): Promise<number> {
  const pgRestore = await pick('pg_restore', 0, PG_BIN);
  if (!pgRestore) throw new Error(`no pg_restore in ${PG_BIN}`);
  const cluster = await ScratchCluster.start({ label: 'bench', binDir: PG_BIN });
  try {
    const db = 'bench_bare';
    await withClient(cluster.conn(), (c) => c.query(`CREATE DATABASE ${db} TEMPLATE template0`));
    const r = await must('bare restore', pgRestore.path, ['--jobs', String(jobs), '--dbname', db, file], {
      env: libpqEnv(cluster.conn(db)),
    });
    return r.seconds;
  } finally {
    await cluster.stop();
  }
}

/**
 * `rounds` rounds; in each, the by-hand drill, our drill and the bare pg_restore, in an order that
 * rotates from round to round so no side always runs first (or right after the disk got busy).
 */
export async function benchDrill(
  file: string,
  rounds: number,
  jobs: number,
  say: (m: string) => void,
): Promise<DrillBench> {
  await ensureSidecar(file, say);
  const r: DrillBench = {
    file,
    rounds,
    jobs,
    tables: 0,
    rows: 0,
    drill: [],
    removal: [],
    hand: [],
    bare: [],
    drillRestore: [],
    drillPgRestore: [],
    wholeRatios: [],
    restoreRatios: [],
    stages: new Map(),
    handSteps: new Map(HAND_STEPS.map((s) => [s, []])),
    cpu: { hand: [], drill: [] },
  };
  type Side = 'hand' | 'drill' | 'bare';
  const order: Side[] = ['hand', 'drill', 'bare'];
  for (let i = 1; i <= rounds; i++) {
    const sides = [...order.slice((i - 1) % 3), ...order.slice(0, (i - 1) % 3)];
    let hand: HandRun | undefined;
    let ours: Awaited<ReturnType<typeof ourDrill>> | undefined;
    let bare = 0;
    for (const side of sides) {
      const cpu = cpuSince();
      if (side === 'hand') hand = await drillByHand(file);
      else if (side === 'drill') ours = await ourDrill(file, jobs);
      else bare = await barePgRestore(file, jobs);
      if (cpu && side !== 'bare') r.cpu[side].push(cpu());
    }
    if (!hand || !ours) throw new Error('a side did not run');
    const res = ours.result;
    const byStage = new Map(res.stages.map((s) => [s.name, s.seconds]));
    for (const [name, s] of byStage) {
      const xs = r.stages.get(name) ?? [];
      xs.push(s);
      r.stages.set(name, xs);
    }
    for (const step of HAND_STEPS) r.handSteps.get(step)?.push(hand.steps[step]);
    // Both sides must have restored the same thing: compare the exact counts.
    for (const c of res.counts ?? []) {
      const n = hand.counts.get(c.table);
      if (n !== c.rows) throw new Error(`counts differ for ${c.table}: drill ${c.rows}, by hand ${n}`);
    }
    r.tables = res.tables ?? 0;
    r.rows = res.rows ?? 0;
    const restoreStage = byStage.get('restore') ?? Number.NaN;
    r.drill.push(ours.seconds);
    r.removal.push(ours.removal);
    r.hand.push(hand.seconds);
    r.bare.push(bare);
    r.drillRestore.push(restoreStage);
    r.drillPgRestore.push(res.restore?.seconds ?? Number.NaN);
    r.wholeRatios.push((ours.seconds + ours.removal) / hand.seconds);
    r.restoreRatios.push(restoreStage / bare);
    say(
      `round ${i}/${rounds} (${sides.join(', ')}): by hand ${fmtS(hand.seconds)}, drill ${fmtS(ours.seconds)} + post step ${fmtS(ours.removal)} (${fmtX((ours.seconds + ours.removal) / hand.seconds)}); ` +
        `drill restore stage ${fmtS(restoreStage)} vs bare pg_restore ${fmtS(bare)} (${fmtX(restoreStage / bare)}); ` +
        `drill read stage ${fmtS(byStage.get('read') ?? 0)} vs sha256sum -c ${fmtS(hand.steps['sha256sum -c'])}; ` +
        `load average ${os.loadavg()[0]?.toFixed(1)} on ${os.availableParallelism()} cores`,
    );
  }
  return r;
}

const sum = (xs: (number | undefined)[]) => xs.reduce<number>((a, b) => a + (b ?? 0), 0);

export function printDrill(r: DrillBench, say: (m: string) => void): void {
  const row = (name: string, xs: number[]) => [
    name,
    fmtS(median(xs)),
    `min ${fmtS(Math.min(...xs))}`,
    `max ${fmtS(Math.max(...xs))}`,
  ];
  say(
    table([
      ['', 'median', '', ''],
      row('seed 003 by hand (whole)', r.hand),
      row('restorable drill (main step, to the verdict)', r.drill),
      row('  its post step (the removal)', r.removal),
      row('drill restore stage', r.drillRestore),
      row('  of which pg_restore itself', r.drillPgRestore),
      row(`bare pg_restore --jobs=${r.jobs}, tuned cluster`, r.bare),
    ]),
  );
  say(
    `ratios (median of per-round ratios): drill with its post step/by hand ${fmtX(median(r.wholeRatios))}, drill restore/bare ${fmtX(median(r.restoreRatios))}; ` +
      `ratio of medians: ${fmtX((median(r.drill) + median(r.removal)) / median(r.hand))}, ${fmtX(median(r.drillRestore) / median(r.bare))}`,
  );
  say(`restored ${r.tables} tables, ${r.rows} rows (exact counts; both sides agree)`);
  if (r.cpu.drill.length > 0 && r.cpu.hand.length > 0) {
    const cores = os.availableParallelism();
    const pct = (xs: { share: number }[]) => `${(100 * median(xs.map((x) => x.share))).toFixed(0)} %`;
    const coreS = (xs: { busy: number }[]) => fmtS(median(xs.map((x) => x.busy)));
    say(
      `CPU while each side ran (whole machine, ${cores} cores, medians): ` +
        `drill ${pct(r.cpu.drill)} busy, ${coreS(r.cpu.drill)} of core time; ` +
        `by hand ${pct(r.cpu.hand)} busy, ${coreS(r.cpu.hand)} of core time`,
    );
    const budget = WHOLE_TARGET * median(r.hand);
    say(
      `${fmtX(WHOLE_TARGET)} of by hand is ${fmtS(budget)}: on ${cores} cores, at most ${fmtS(budget * cores)} of core time ` +
        `even with every core busy throughout; the drill used ${coreS(r.cpu.drill)}`,
    );
  }

  say('\nwhere our drill spends its time (median seconds per stage; skipped stages count 0):');
  const rounds = r.drill.length;
  const perRound = (names: string[]) =>
    Array.from({ length: rounds }, (_, i) => sum(names.map((n) => r.stages.get(n)?.[i])));
  const all = [...VERIFY_STAGES, ...DRILL_STAGES];
  const stageRow = (name: string, xs: number[]) => [
    name,
    fmtS(median(xs)),
    `${((100 * median(xs)) / median(r.drill)).toFixed(1)} %`,
  ];
  const accounted = perRound(all);
  say(
    table([
      ['stage', 'median', 'of the drill'],
      ...VERIFY_STAGES.filter((n) => r.stages.has(n)).map((n) => stageRow(`  ${n}`, r.stages.get(n) ?? [])),
      stageRow('verify stages together', perRound(VERIFY_STAGES)),
      ...DRILL_STAGES.filter((n) => r.stages.has(n)).map((n) => stageRow(`  ${n}`, r.stages.get(n) ?? [])),
      stageRow(
        'outside any stage',
        r.drill.map((d, i) => d - (accounted[i] ?? 0)),
      ),
    ]),
  );

  say('\nwhere seed 003 by hand spends its time (median seconds per step):');
  say(
    table([
      ['step', 'median', 'of the by-hand drill'],
      ...HAND_STEPS.map((s) => {
        const m = median(r.handSteps.get(s) ?? []);
        return [`  ${s}`, fmtS(m), `${((100 * m) / median(r.hand)).toFixed(1)} %`];
      }),
    ]),
  );
}

/** Issue 20: the whole drill against a bare `pg_restore --jobs` into the same tuned scratch cluster. */
const BARE_WHOLE_TARGET = 1.08;

/** Each stage's median time per GB of dump at this size: the figures a 1 TB projection scales. */
function stagePerGbRows(r: DrillBench): string[][] {
  const gb = fs.statSync(r.file).size / 1024 ** 3;
  return [...r.stages].map(([stage, secs]) => [
    `drill stage ${stage} per GB, ${(gb * 1024).toFixed(0)} MiB dump`,
    `${(median(secs) / gb).toFixed(2)} s/GB (median ${fmtS(median(secs))})`,
    '',
    '',
  ]);
}

export function drillSummaryRows(r: DrillBench): string[][] {
  const whole = median(r.wholeRatios);
  const restore = median(r.restoreRatios);
  const bareWhole = median(r.drill.map((d, i) => d / (r.bare[i] as number)));
  const few =
    r.rounds < MIN_ROUNDS ? `  (${r.rounds} round${r.rounds === 1 ? '' : 's'} < ${MIN_ROUNDS})` : '';
  return [
    [
      'drill / seed-003 by hand',
      `median ${fmtX(whole)}`,
      `<= ${fmtX(WHOLE_TARGET)}`,
      `${verdict(whole <= WHOLE_TARGET)}${few}`,
    ],
    [
      'drill restore / bare pg_restore',
      `median ${fmtX(restore)}`,
      `<= ${fmtX(RESTORE_TARGET)}`,
      `${verdict(restore <= RESTORE_TARGET)}${few}`,
    ],
    [
      'drill whole / bare pg_restore --jobs (same tuned cluster)',
      `${fmtS(median(r.drill))} / ${fmtS(median(r.bare))} = median ${fmtX(bareWhole)} (the action's main step, to the verdict; the removal is its post step's)`,
      `<= ${fmtX(BARE_WHOLE_TARGET)}`,
      `${verdict(bareWhole <= BARE_WHOLE_TARGET)}${few}`,
    ],
    ...stagePerGbRows(r),
    ['drill, whole', `median ${fmtS(median(r.drill))}`, '', ''],
    ['drill, its post step (the stopped cluster removed)', `median ${fmtS(median(r.removal))}`, '', ''],
    ['seed-003 by hand, whole', `median ${fmtS(median(r.hand))}`, '', ''],
  ];
}
