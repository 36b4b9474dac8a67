/**
 * `backend: barman` in place, against a real Barman 3.4 server (test/harness/barman.ts) whose
 * backup holds a tablespace: signalled at every point through the committed CLI (npm run build
 * first; RESTORABLE_TEST_CLI=source runs its sources), a failed check, then a hand-over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { readJournal, resumeFromJournal, writeJournal } from '../../src/pitr/journal.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { withClient } from '../../src/postgres/client.js';
import { freePort } from '../../src/postgres/cluster.js';
import { PgCtl } from '../../src/postgres/pgctl.js';
import { controlData } from '../../src/postgres/recovery.js';
import { type BarmanProduction, barmanChecks, startBarmanProduction } from '../harness/barman.js';
import { PROD_USER, query, serverDir } from '../harness/pitr.js';
import {
  expectAttemptKeptWhole,
  expectNothingLeft,
  journalOf,
  PHASE_AT,
  type Point,
  signalAt,
  tablespaceLinks,
} from '../harness/signals.js';

let f: BarmanProduction;

beforeAll(async () => {
  f = await startBarmanProduction('barman-inplace', 1, true);
}, 240_000);

afterAll(async () => {
  await f?.prod.stop();
});

describe('in place with Barman, signalled at every point (the committed CLI)', () => {
  let runs = 0;
  afterAll(() => {
    process.stdout.write(`Barman in-place signal runs: ${runs}\n`);
  });
  // barman recover restores in one command: there is no unpack point of Restorable's own.
  const points = (Object.keys(PHASE_AT) as Point[]).filter((p) => p !== 'unpack');
  for (const point of points) {
    it.each(['SIGINT', 'kill -9 then --rollback'] as const)(
      `${point}: %s leaves production's original data serving`,
      async (style) => {
        const id = (await controlData(f.prod.bin, f.prod.dataDir))['Database system identifier'] as string;
        const args = ['--backend', 'barman', '--barman-server', 'main', '--barman-config', f.conf];
        const said = await signalAt(
          f.prod.dataDir,
          [...args, '--target-time', f.target, '--config', barmanChecks(), '--confirm', id],
          point,
          style,
        );
        const rows = await query<{ n: string }>(f.prod, 'select count(*) as n from orders').catch(() => []);
        expect(rows[0]?.n, said).toBe('300');
        expect(journalOf(f.prod.dataDir)?.phase, said).toBe('rolled-back');
        // Held before the fetch, there is no attempt yet; after it, the attempt and its tablespaces.
        if (point !== 'fetch') expectAttemptKeptWhole(f.prod.dataDir, said);
        expectNothingLeft(f.prod.dataDir, said);
        runs++;
      },
      120_000,
    );
  }

  const inPlace = async (config: string) => {
    const id = (await controlData(f.prod.bin, f.prod.dataDir))['Database system identifier'] as string;
    return runPitr(
      parsePitrOptions(
        {
          backend: 'barman',
          'barman-server': 'main',
          'barman-config': f.conf,
          'target-time': f.target,
          config,
          mode: 'in-place',
          'data-directory': f.prod.dataDir,
          confirm: id,
        },
        'input',
      ),
      memoryLogger(),
    );
  };

  it('rolled back (a check fails): the attempt is kept with its tablespaces, its links pointing there; a second --rollback finishes a put-back stopped midway', async () => {
    const cfg = path.join(serverDir('barman-inplace-cfg'), 'restorable.yml');
    fs.writeFileSync(
      cfg,
      `${fs.readFileSync(barmanChecks(), 'utf8')}    - { name: far, sql: "select count(*) from far", expect: "== 11" }\n`,
    );
    const r = await inPlace(cfg);
    const said = r.next.join('\n');
    expect(r.findings.map((x) => x.rule)).toContain('PITR_ROLLED_BACK');
    expect((await query<{ n: string }>(f.prod, 'select count(*) as n from orders'))[0]?.n).toBe('300');
    const kept = expectAttemptKeptWhole(f.prod.dataDir, said);
    // Production's own tablespace was never written to, nor pointed at by the attempt.
    expect(tablespaceLinks(f.prod.dataDir).map((l) => fs.realpathSync(l))).toEqual([
      fs.realpathSync(f.tablespace as string),
    ]);

    // A put-back killed after the attempt moved, before its tablespaces did: --rollback finishes.
    const j = readJournal(f.prod.dataDir);
    if (!j) throw new Error('no journal');
    const staging = `${j.staging}.tablespaces`;
    fs.renameSync(`${kept}.tablespaces`, staging);
    const tblspc = path.join(kept, 'pg_tblspc');
    for (const n of fs.readdirSync(tblspc)) {
      const to = fs.readlinkSync(path.join(tblspc, n)).replace(`${kept}.tablespaces`, staging);
      fs.rmSync(path.join(tblspc, n));
      fs.symlinkSync(to, path.join(tblspc, n));
    }
    writeJournal(j, 'promoted');
    const again = resumeFromJournal(f.prod.dataDir);
    expect(expectAttemptKeptWhole(f.prod.dataDir, again)).toBe(kept);
    expect(journalOf(f.prod.dataDir)?.phase).toBe('rolled-back');
    // The kept attempt starts on its own, and reads its tablespace from where it is kept.
    const socket = serverDir('barman-inplace-kept');
    const port = await freePort();
    const ctl = new PgCtl(f.prod.bin.dir, kept, PROD_USER);
    const started = await ctl.start({
      log: path.join(socket, 'server.log'),
      options: {
        port: String(port),
        listen_addresses: '',
        unix_socket_directories: socket,
        archive_mode: 'off',
      },
    });
    try {
      expect(started.code, started.stderr).toBe(0);
      const far = await withClient(
        { host: socket, port, user: 'postgres', database: 'postgres' },
        async (c) => c.query<{ n: string }>('select count(*) as n from far'),
      );
      expect(far.rows[0]?.n).toBe('10');
    } finally {
      await ctl.shutdown();
    }
    expectNothingLeft(f.prod.dataDir, again);
  }, 180_000);

  it('a fetch refused (a tampered backup_label): the attempt is removed, and its tablespaces with it; production never stopped', async () => {
    const label = path.join(f.backupData, 'backup_label');
    const saved = fs.readFileSync(label, 'utf8');
    fs.writeFileSync(label, saved.replace(/^START WAL LOCATION: \S+/m, 'START WAL LOCATION: 0/1000028'));
    try {
      const r = await inPlace(barmanChecks());
      expect(r.findings.map((x) => x.rule)).toEqual(['BASE_BACKUP_CORRUPT']);
    } finally {
      fs.writeFileSync(label, saved);
    }
    expect((await query<{ n: string }>(f.prod, 'select count(*) as n from orders'))[0]?.n).toBe('300');
    expect(journalOf(f.prod.dataDir)?.phase).toBe('rolled-back');
    const beside = fs.readdirSync(path.dirname(f.prod.dataDir));
    expect(beside.filter((n) => /restorable-(restore|failed)-/.test(n))).toEqual([]);
  }, 180_000);

  it('side by side, a fetch refused: the clone and the tablespace folder it made are removed; an empty one that was there is emptied, one with files is refused up front', async () => {
    const label = path.join(f.backupData, 'backup_label');
    const saved = fs.readFileSync(label, 'utf8');
    fs.writeFileSync(label, saved.replace(/^START WAL LOCATION: \S+/m, 'START WAL LOCATION: 0/1000028'));
    const parent = serverDir('barman-sbs-refused');
    const options = (dir: string) =>
      parsePitrOptions(
        {
          backend: 'barman',
          'barman-server': 'main',
          'barman-config': f.conf,
          'target-time': f.target,
          config: barmanChecks(),
          mode: 'side-by-side',
          'data-directory': dir,
        },
        'input',
      );
    const sideBySide = (dir: string) => runPitr(options(dir), memoryLogger());
    try {
      const made = path.join(parent, 'clone');
      const r = await sideBySide(made);
      expect(r.findings.map((x) => x.rule)).toEqual(['BASE_BACKUP_CORRUPT']);
      expect(fs.readdirSync(parent)).toEqual([]);
      // An empty folder of that name the user had: Barman restores into it, and it is left empty.
      const theirs = path.join(parent, 'other');
      fs.mkdirSync(`${theirs}.tablespaces`);
      const again = await sideBySide(theirs);
      expect(again.findings.map((x) => x.rule)).toEqual(['BASE_BACKUP_CORRUPT']);
      expect(fs.readdirSync(`${theirs}.tablespaces`)).toEqual([]);
      // One with something in it is refused before anything runs, and left as it is.
      fs.writeFileSync(path.join(`${theirs}.tablespaces`, 'keep-me'), 'x');
      expect(() => options(theirs)).toThrow(/other\.tablespaces is not an empty folder/);
      expect(fs.readFileSync(path.join(`${theirs}.tablespaces`, 'keep-me'), 'utf8')).toBe('x');
    } finally {
      fs.writeFileSync(label, saved);
    }
  }, 180_000);

  it('in place: barman recover into the staging folder recovers there, privately, and hands over; production is told where its tablespaces now are', async () => {
    const r = await inPlace(barmanChecks());
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.stages.find((s) => s.name === 'handover')?.status).toBe('ok');
    expect((await query<{ n: string }>(f.prod, 'select count(*) as n from orders'))[0]?.n).toBe('200');
    expect(r.safetySnapshot && fs.existsSync(path.join(r.safetySnapshot, 'PG_VERSION'))).toBe(true);
    expect(fs.existsSync(path.join(f.prod.dataDir, 'barman_wal'))).toBe(false);
    expect(r.history).toMatch(/^0000000[2-9]\.history$/);
    // The recovered tablespace serves from where Barman put it, beside the staging folder's name.
    const j = readJournal(f.prod.dataDir);
    const root = `${j?.staging}.tablespaces`;
    expect(tablespaceLinks(f.prod.dataDir).map((l) => path.dirname(l))).toEqual([root]);
    expect((await query<{ n: string }>(f.prod, 'select count(*) as n from far'))[0]?.n).toBe('10');
    expect(r.next.join('\n')).toContain(`its tablespaces at ${root}, where its pg_tblspc links point`);
    expect(resumeFromJournal(f.prod.dataDir)).toContain(`its tablespaces at ${root}`);
    // The safety snapshot keeps production's own tablespace, untouched.
    expect(tablespaceLinks(r.safetySnapshot as string).map((l) => fs.realpathSync(l))).toEqual([
      fs.realpathSync(f.tablespace as string),
    ]);
  }, 180_000);
});
