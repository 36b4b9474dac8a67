/**
 * Seed 001's monthly Barman drill (issue 18): done by hand as the runbook does it (barman recover
 * --target-immediate into a scratch folder, start it on another port, count, stop, remove) against
 * Restorable's `backend: barman` drill to target-immediate, on the same Barman server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../src/core/exec.js';
import { parsePitrOptions } from '../src/pitr/options.js';
import { runPitr } from '../src/pitr/run.js';
import { withClient } from '../src/postgres/client.js';
import { freePort } from '../src/postgres/cluster.js';
import { PgCtl } from '../src/postgres/pgctl.js';
import { barmanAs, startBarmanProduction } from '../test/harness/barman.js';
import { serverDir } from '../test/harness/pitr.js';
import { fmtS, fmtX, median } from './stats.js';

export interface BarmanBench {
  byHand: number[];
  restorable: number[];
}

const silent = { info() {}, warn() {}, debug() {}, secret() {} };

async function byHand(
  f: Awaited<ReturnType<typeof startBarmanProduction>>,
): Promise<{ seconds: number; rows: number }> {
  const dir = path.join(serverDir('bench-barman-hand'), 'data');
  fs.mkdirSync(dir, { mode: 0o700 });
  const t0 = performance.now();
  const owner = fs.statSync(f.home);
  fs.chownSync(dir, owner.uid, owner.gid);
  await barmanAs(
    f.prod,
    f.conf,
    'recover',
    '--target-immediate',
    '--target-action',
    'promote',
    'main',
    'latest',
    dir,
  );
  const port = await freePort();
  fs.appendFileSync(
    path.join(dir, 'postgresql.auto.conf'),
    `port = ${port}\nunix_socket_directories = '${dir}'\nlisten_addresses = ''\n`,
  );
  const ctl = new PgCtl(f.prod.bin.dir, dir, f.prod.osUser);
  const log = path.join(path.dirname(dir), 'server.log');
  fs.writeFileSync(log, '');
  fs.chownSync(log, owner.uid, owner.gid);
  const r = await run(
    path.join(f.prod.bin.dir, 'pg_ctl'),
    ['start', '-w', '-t', '300', '-D', dir, '-l', log],
    {
      user: f.prod.osUser,
    },
  );
  if (r.code !== 0) throw new Error(`pg_ctl start failed: ${r.stderr}${fs.readFileSync(log, 'utf8')}`);
  // Wait for the promotion (target-immediate, then promote): the count is read from a primary.
  const rows = await withClient({ host: dir, port, user: 'postgres', database: 'app' }, async (c) => {
    for (let i = 0; i < 600; i++) {
      const rec = (await c.query<{ r: boolean }>('select pg_is_in_recovery() as r')).rows[0]?.r;
      if (!rec) break;
      await new Promise((x) => setTimeout(x, 100));
    }
    return Number((await c.query<{ n: string }>('select count(*) as n from pgbench_accounts')).rows[0]?.n);
  });
  await ctl.shutdown();
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  return { seconds: (performance.now() - t0) / 1000, rows };
}

export async function benchBarman(
  rounds: number,
  scale: number,
  say: (m: string) => void,
): Promise<BarmanBench> {
  const f = await startBarmanProduction('bench-barman', scale);
  const out: BarmanBench = { byHand: [], restorable: [] };
  try {
    for (let i = 0; i < rounds; i++) {
      const h = await byHand(f);
      if (h.rows !== scale * 100_000) throw new Error(`by hand: ${h.rows} accounts, not ${scale * 100_000}`);
      out.byHand.push(h.seconds);
      const t0 = performance.now();
      const r = await runPitr(
        parsePitrOptions(
          { backend: 'barman', 'barman-server': 'main', 'barman-config': f.conf, 'target-immediate': 'true' },
          'input',
        ),
        silent,
      );
      const s = (performance.now() - t0) / 1000;
      if (r.verdict === 'fail')
        throw new Error(`Restorable's Barman drill failed: ${JSON.stringify(r.findings)}`);
      out.restorable.push(s);
      say(`round ${i + 1}: by hand ${fmtS(h.seconds)}, Restorable ${fmtS(s)} (${r.verdict})`);
    }
  } finally {
    await f.prod.stop();
  }
  return out;
}

export function barmanSummaryRows(b: BarmanBench): string[][] {
  const hand = median(b.byHand);
  const ours = median(b.restorable);
  return [
    [
      'Barman drill (seed 001): by hand vs Restorable, target-immediate',
      `${fmtS(hand)} vs ${fmtS(ours)}`,
      `${fmtX(ours / hand)} (seed: 8.6-11.6 s by hand)`,
      'reported',
    ],
  ];
}
