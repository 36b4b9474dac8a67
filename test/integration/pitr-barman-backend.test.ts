/**
 * `backend: barman` against a real Barman 3.4 server (test/harness/barman.ts) for a scratch
 * production running a pgbench workload with a marker: drills, a clone, the plan's findings, and
 * what barman recover leaves read before anything starts on it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { PgCtl } from '../../src/postgres/pgctl.js';
import { type BarmanProduction, barmanAs, barmanChecks, startBarmanProduction } from '../harness/barman.js';
import { expectToolProgress, expectXidBothWays, progressLines, serverDir } from '../harness/pitr.js';

let f: BarmanProduction;
const rules = (r: { findings: { rule: string }[] }) => r.findings.map((x) => x.rule);

beforeAll(async () => {
  f = await startBarmanProduction('barman-backend');
}, 240_000);

afterAll(async () => {
  await f?.prod.stop();
});

const opts = (extra: Record<string, string> = {}) =>
  parsePitrOptions(
    {
      backend: 'barman',
      'barman-server': 'main',
      'barman-config': f.conf,
      'target-time': f.target,
      config: barmanChecks(),
      ...extra,
    },
    'input',
  );

describe('pitr-restore with Barman', () => {
  it('drill to target-immediate: barman recover of the latest backup, its copied WAL, proved', async () => {
    const r = await runPitr(
      opts({ 'target-time': '', 'target-immediate': 'true', backup: 'latest', config: barmanChecks(true) }),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.plan?.backup).toBe(f.backupId);
    expect(r.checks?.every((c) => c.ok)).toBe(true);
    expect(r.stopLine).toMatch(/consistency/);
    expect(r.stages.find((s) => s.name === 'teardown')?.status).toBe('ok');
  }, 180_000);

  it('drill to a time: the newest backup before it, Barman’s WAL in the plan, the point proved; progress of the fetch and the replay', async () => {
    const { lines, listener } = progressLines();
    const r = await runPitr(opts(), memoryLogger(), listener);
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.plan?.backup).toBe(f.backupId);
    expect(r.plan?.walSegments).toBeGreaterThan(1);
    expect(r.checks?.every((c) => c.ok)).toBe(true);
    expect(r.stopLine).toMatch(/recovery stopping/);
    // The backup's size as Barman tells it (show-backup's disk_usage_bytes).
    const shown = JSON.parse(await barmanAs(f.prod, f.conf, '-f', 'json', 'show-backup', 'main', f.backupId));
    expectToolProgress(lines, r, shown.main.base_backup_information.disk_usage_bytes);
  }, 180_000);

  it('drill to the marker planted on app (target-name)', async () => {
    const r = await runPitr(opts({ 'target-time': '', 'target-name': f.marker }), memoryLogger());
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.proof?.holds).toBe(true);
  }, 180_000);

  it('drill to target-xid: barman recover --target-xid lands with batch 2’s transaction, not batch 3 (inclusive), before it (exclusive)', async () => {
    await expectXidBothWays((extra) => runPitr(opts(extra), memoryLogger()), f.batch2Xid, barmanChecks(true));
  }, 240_000);

  it('side by side: the clone runs on its own port with the data at the target', async () => {
    const dir = path.join(serverDir('barman-clone'), 'clone');
    const r = await runPitr(opts({ mode: 'side-by-side', 'data-directory': dir }), memoryLogger());
    try {
      expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
      expect(r.databaseUrl).toMatch(/^postgresql:/);
      expect(fs.existsSync(path.join(dir, 'barman_wal'))).toBe(false);
      const auto = fs.readFileSync(path.join(dir, 'postgresql.auto.conf'), 'utf8');
      // Barman's recovery lines are commented out; Restorable's own did the recovery.
      expect(auto).toMatch(/^#RESTORABLE# restore_command = 'cp barman_wal\/%f %p'/m);
      expect(auto).not.toMatch(/^recovery_target/m);
    } finally {
      await new PgCtl(f.prod.bin.dir, dir, f.prod.osUser).shutdown();
    }
  }, 180_000);

  it('a target after the last WAL Barman archived is found at the plan (barman recover would say 0)', async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    const r = await runPitr(opts({ 'target-time': future }), memoryLogger());
    expect(rules(r)).toEqual(['PITR_TARGET_UNREACHED']);
    expect(r.stages.find((s) => s.name === 'fetch')?.status).toBe('skipped');
  }, 60_000);

  it('a target before the backup’s end is found at the plan', async () => {
    const r = await runPitr(opts({ 'target-time': f.beforeBackup }), memoryLogger());
    expect(rules(r)).toEqual(['PITR_TARGET_BEFORE_BACKUP']);
    expect(r.stages.find((s) => s.name === 'fetch')?.status).toBe('skipped');
  }, 60_000);

  it('a segment removed from Barman’s wals/ is a WAL_GAP naming it, at the plan', async () => {
    const wals = path.join(f.home, 'main', 'wals');
    const segs: string[] = [];
    for (const d of fs.readdirSync(wals, { withFileTypes: true }))
      if (d.isDirectory())
        for (const f of fs.readdirSync(path.join(wals, d.name)))
          if (/^[0-9A-F]{24}$/.test(f)) segs.push(path.join(wals, d.name, f));
    segs.sort();
    const victim = segs[segs.length - 2] as string;
    const aside = `${victim}.aside`;
    fs.renameSync(victim, aside);
    try {
      const r = await runPitr(opts(), memoryLogger());
      expect(rules(r)).toEqual(['WAL_GAP']);
      expect(r.findings[0]?.message).toContain(path.basename(victim));
    } finally {
      fs.renameSync(aside, victim);
    }
  }, 60_000);

  it('barman check’s archiver errors are reported at the plan, and a healthy archiver says nothing', async () => {
    const errors = path.join(f.home, 'main', 'errors');
    fs.mkdirSync(errors, { recursive: true });
    const junk = path.join(errors, '000000010000000000000001.unknown');
    fs.writeFileSync(junk, 'x');
    try {
      const r = await runPitr(opts({ 'plan-only': 'true' }), memoryLogger());
      expect(rules(r)).toEqual(['ARCHIVER_ERRORS']);
    } finally {
      fs.rmSync(junk);
    }
    const ok = await runPitr(opts({ 'plan-only': 'true' }), memoryLogger());
    expect(rules(ok)).toEqual([]);
  }, 60_000);
});

describe('what barman recover leaves is read before anything starts on it', () => {
  const data = () => f.backupData;

  it('a tablespace link in the backup pointing outside the recovery is refused, no server started', async () => {
    const link = path.join(data(), 'pg_tblspc', '99999');
    const outside = serverDir('barman-outside');
    fs.symlinkSync(outside, link);
    try {
      const r = await runPitr(opts(), memoryLogger());
      expect(rules(r), JSON.stringify(r.findings)).toEqual(['BASE_BACKUP_CORRUPT']);
      expect(r.findings[0]?.message).toContain('pg_tblspc/99999');
      expect(r.stages.find((s) => s.name === 'recover')?.status).toBe('skipped');
    } finally {
      fs.rmSync(link);
    }
  }, 120_000);

  it('a backup_label that does not start where Barman’s catalogue says is refused', async () => {
    const label = path.join(data(), 'backup_label');
    const saved = fs.readFileSync(label, 'utf8');
    fs.writeFileSync(label, saved.replace(/^START WAL LOCATION: \S+/m, 'START WAL LOCATION: 0/1000028'));
    try {
      const r = await runPitr(opts(), memoryLogger());
      expect(rules(r)).toEqual(['BASE_BACKUP_CORRUPT']);
      expect(r.findings[0]?.message).toMatch(/backup_label starts at 0\/1000028/);
    } finally {
      fs.writeFileSync(label, saved);
    }
  }, 120_000);

  it('an include and a recovery command in the backup’s configuration are commented out, not run', async () => {
    const pgconf = path.join(data(), 'postgresql.conf');
    const saved = fs.readFileSync(pgconf, 'utf8');
    const evil = path.join(serverDir('barman-evil'), 'evil.conf');
    fs.writeFileSync(evil, "shared_preload_libraries = 'no_such_library'\n");
    const touched = path.join(path.dirname(evil), 'ran');
    fs.writeFileSync(
      pgconf,
      `${saved}\ninclude_if_exists = '${evil}'\narchive_cleanup_command = 'touch ${touched}'\n`,
    );
    try {
      const r = await runPitr(opts(), memoryLogger());
      expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
      expect(fs.existsSync(touched)).toBe(false);
    } finally {
      fs.writeFileSync(pgconf, saved);
    }
  }, 180_000);
});
