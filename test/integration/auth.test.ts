/**
 * Who gets into the servers Restorable starts: over TCP on 127.0.0.1 only with the cluster's own
 * password (scram-sha-256), over the socket only its folder's owner; a backup's pg_hba.conf opens
 * nothing; the password never reaches a log, a report, a summary or an output unmasked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { createSampleDatabase, dumpDatabase } from '../../src/demo/sample.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { inlinePassword } from '../../src/postgres/auth.js';
import { findAll } from '../../src/postgres/binaries.js';
import { parseDbUrl, withClient } from '../../src/postgres/client.js';
import { removeCluster, type ScratchCluster } from '../../src/postgres/cluster.js';
import { runBundle } from '../harness/actions.js';
import { startCluster, tempDir } from '../harness/pg.js';
import { archiveNow, baseBackup, query, serverDir, startArchiving } from '../harness/pitr.js';

const root = process.getuid?.() === 0;
let psql: string;
const cleanup: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  psql = (await findAll('psql'))[0]?.path as string;
});
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

/** psql with no password from anywhere: no PGPASSWORD, no ~/.pgpass (HOME is an empty folder), never a prompt. */
async function psqlAs(args: string[], user?: string) {
  const home = tempDir('auth-home');
  fs.chmodSync(home, 0o755);
  return run(psql, ['-X', '-w', '-At', ...args, '-c', 'SELECT 42'], {
    env: { HOME: home, PGPASSWORD: undefined, PGPASSFILE: path.join(home, 'none') },
    ...(user ? { user } : {}),
  });
}

const tcp = (port: number, user = 'postgres') => [
  '-h',
  '127.0.0.1',
  '-p',
  String(port),
  '-U',
  user,
  'postgres',
];

describe('a scratch cluster', () => {
  let c: ScratchCluster;
  beforeAll(async () => {
    c = await startCluster({ label: 'test-auth' });
    cleanup.push(() => c.stop());
  });

  it('refuses TCP on 127.0.0.1 without its password, for postgres and any other role', async () => {
    const r = await psqlAs(tcp(c.port));
    expect(r.code, r.stdout).not.toBe(0);
    expect(r.stderr).toMatch(/password/);
    await withClient(c.conn(), (q) => q.query('CREATE ROLE nopw LOGIN SUPERUSER'));
    const other = await psqlAs(tcp(c.port, 'nopw'));
    expect(other.code, other.stdout).not.toBe(0);
  });

  it('takes TCP with the password of url(), and its shown URL (passfile=, no password) works as it is', async () => {
    const url = c.url();
    expect(url).toMatch(/^postgresql:\/\/postgres:[0-9a-f]{64}@127\.0\.0\.1:\d+\/postgres$/);
    const password = c.secret();
    expect(url).toContain(password);
    const ok = await psqlAs([url]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe('42');
    const shown = c.shownUrl('postgres');
    expect(shown).not.toContain(password);
    expect(shown).toBe(
      `postgresql://postgres@127.0.0.1:${c.port}/postgres?passfile=${encodeURIComponent(c.passfile)}`,
    );
    // libpq reads the password file the URL names; so does Restorable.
    expect((await psqlAs([shown])).stdout.trim()).toBe('42');
    const secrets: string[] = [];
    const conn = parseDbUrl('database-url', shown, (s) => secrets.push(s));
    expect(secrets).toContain(password);
    expect(await withClient(conn, async (q) => (await q.query('SELECT 1 AS one')).rows[0])).toEqual({
      one: 1,
    });
    expect(inlinePassword(shown, () => {})).toBe(url);
    // A wrong password is refused.
    const wrong = await psqlAs([url.replace(password, 'f'.repeat(64))]);
    expect(wrong.code).not.toBe(0);
  });

  it("keeps the password file 0600 and the runner's, and the password out of the server log", async () => {
    const st = fs.statSync(c.passfile);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(process.getuid?.());
    const rules = fs
      .readFileSync(path.join(c.dataDir, 'pg_hba.conf'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(rules).toEqual([
      'local all all trust',
      'local replication all trust',
      'host all all 127.0.0.1/32 scram-sha-256',
    ]);
    expect(fs.readFileSync(path.join(c.root, 'server.log'), 'utf8')).not.toContain(c.secret());
  });

  it('takes its socket from its own OS user; another user cannot reach the socket folder', async () => {
    for (const dir of [path.dirname(c.root), c.root, c.socketDir]) {
      const st = fs.lstatSync(dir);
      expect(st.isDirectory(), dir).toBe(true);
      expect(st.mode & 0o077, dir).toBe(0);
    }
    const own = await psqlAs(
      ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres', 'postgres'],
      c.osUser,
    );
    expect(own.stderr).toBe('');
    expect(own.stdout.trim()).toBe('42');
    if (!root) return;
    // Root runs the server as a user of the cluster's own; nobody else gets into its folder.
    expect(c.osUser).toMatch(/^restorable-[0-9a-f]{8}$/);
    const other = await psqlAs(
      ['-h', c.socketDir, '-p', String(c.port), '-U', 'postgres', 'postgres'],
      'nobody',
    );
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/Permission denied|No such file/);
  });
});

describe('PITR on a backup whose pg_hba.conf says trust to all', () => {
  let archive: string;
  let base: string;
  let prod: ScratchCluster;
  const opts = (extra: Record<string, string>) =>
    parsePitrOptions(
      { 'base-backups': base, 'wal-archive': archive, 'target-immediate': 'true', ...extra },
      'input',
    );

  beforeAll(async () => {
    archive = serverDir('auth-archive');
    base = serverDir('auth-base');
    prod = await startArchiving('test-auth-prod', archive);
    cleanup.push(() => prod.stop());
    await query(prod, 'CREATE TABLE t AS SELECT 1 AS x');
    const b1 = path.join(base, 'b1');
    // No manifest: production's own config files are what a backup holds, whatever they say.
    await baseBackup(prod, b1, 'plain', ['--no-manifest']);
    await archiveNow(prod);
    // Production's (hostile) configuration: trust for all, on every address, from a pg_hba of its choice.
    const evil = serverDir('auth-evil');
    fs.chmodSync(evil, 0o755);
    const evilHba = path.join(evil, 'pg_hba.conf');
    fs.writeFileSync(evilHba, 'local all all trust\nhost all all 0.0.0.0/0 trust\n', { mode: 0o644 });
    fs.writeFileSync(path.join(b1, 'pg_hba.conf'), 'local all all trust\nhost all all 0.0.0.0/0 trust\n');
    fs.appendFileSync(path.join(b1, 'postgresql.conf'), `listen_addresses = '*'\nhba_file = '${evilHba}'\n`);
  }, 120_000);

  it('a drill still refuses a passwordless TCP login to the kept copy; its shown URL works', async () => {
    const log = memoryLogger();
    const r = await runPitr(opts({ keep: 'true' }), log);
    cleanup.push(() => removeCluster(r.handle as string));
    // Recovered and kept (the verdict is could-not-verify: no manifest, no checks, as said).
    expect(r.stages.find((s) => s.name === 'recover')?.status, JSON.stringify(r.findings)).toBe('ok');
    expect(r.handle).toBeTruthy();
    const shown = r.databaseUrl as string;
    const port = Number(/:(\d+)\//.exec(shown)?.[1]);
    expect(shown).toBe(
      `postgresql://postgres@127.0.0.1:${port}/postgres?passfile=${encodeURIComponent(path.join(r.handle as string, 'pgpass'))}`,
    );
    const refused = await psqlAs(tcp(port));
    expect(refused.code, refused.stdout).not.toBe(0);
    expect(refused.stderr).toMatch(/password/);
    expect((await psqlAs([shown])).stdout.trim()).toBe('42');
    const data = path.join(r.handle as string, 'data');
    expect(fs.readFileSync(path.join(data, 'pg_hba.conf.restorable-original'), 'utf8')).toContain(
      '0.0.0.0/0 trust',
    );
    const password = inlinePassword(shown, () => {})?.split(/[:@]/)[2] as string;
    expect(password).toMatch(/^[0-9a-f]{64}$/);
    expect(log.secrets).toContain(password);
    expect(log.lines.join('\n')).not.toContain(password);
    expect(fs.readFileSync(path.join(r.handle as string, 'server.log'), 'utf8')).not.toContain(password);
  }, 180_000);

  it('a side-by-side clone refuses a passwordless TCP login, also after a plain restart; its socket works', async () => {
    const dir = path.join(serverDir('auth-sbs'), 'clone');
    const r = await runPitr(opts({ mode: 'side-by-side', 'data-directory': dir }), memoryLogger());
    const pgCtl = (args: string[]) =>
      run(path.join(prod.bin.dir, 'pg_ctl'), ['-D', dir, ...args], { user: prod.osUser });
    cleanup.push(() => pgCtl(['-m', 'immediate', '-w', 'stop']));
    expect(r.stages.find((s) => s.name === 'recover')?.status, JSON.stringify(r.findings)).toBe('ok');
    const conn = parseDbUrl('database-url', r.databaseUrl as string, () => {});
    expect(conn.host).toBe(`${dir}.restorable-socket`);
    expect(await withClient(conn, async (q) => (await q.query('SELECT x FROM t')).rows)).toEqual([{ x: 1 }]);
    expect((await psqlAs(tcp(conn.port))).code).not.toBe(0);
    // A person restarts it with a plain pg_ctl: Restorable's pg_hba.conf and listener still hold.
    expect((await pgCtl(['-m', 'fast', '-w', '-l', `${dir}.restart.log`, 'restart'])).code).toBe(0);
    const again = await psqlAs(tcp(conn.port));
    expect(again.code, again.stdout).not.toBe(0);
    expect(again.stderr).toMatch(/password/);
  }, 180_000);
});

describe('restore-drill with keep: true, as the runner starts it', () => {
  it("outputs database-url with the restorer's own password, masked; the log, summary and report never show it", async () => {
    const src = await startCluster({ label: 'test-auth-src' });
    cleanup.push(() => src.stop());
    await createSampleDatabase(src, 'shop', 50);
    const dir = tempDir('auth-action');
    await dumpDatabase(src, 'shop', path.join(dir, 'backups', 'shop.dump'));
    const report = path.join(dir, 'drill.json');
    const main = runBundle(dir, 'restore-drill', {
      source: path.join(dir, 'backups'),
      'max-age': '1000d',
      keep: 'true',
      report,
    });
    const kept = main.saved['kept-target'] as string;
    cleanup.push(() => runBundle(dir, 'restore-drill', {}, { 'is-post': 'true', 'kept-target': kept }));
    expect(main.code, main.stdout).toBe(0);
    const url = main.outputs['database-url'] as string;
    const m = /^postgresql:\/\/restorable_restore:([0-9a-f]{64})@127\.0\.0\.1:(\d+)\/shop$/.exec(url);
    expect(m, url).not.toBeNull();
    const password = m?.[1] as string;
    // Masked before anything printed it; printed nowhere else.
    const lines = main.stdout.split('\n');
    expect(lines).toContain(`::add-mask::${password}`);
    expect(lines.filter((l) => l.includes(password) && l !== `::add-mask::${password}`)).toEqual([]);
    expect(main.summary).not.toContain(password);
    expect(main.summary).toMatch(/postgresql:\/\/restorable_restore@127\.0\.0\.1:\d+\/shop\?passfile=/);
    const json = fs.readFileSync(report, 'utf8');
    expect(json).not.toContain(password);
    expect(JSON.parse(json).target.url).toMatch(
      /^postgresql:\/\/restorable_restore@127\.0\.0\.1:\d+\/shop\?passfile=/,
    );
    for (const [k, v] of Object.entries(main.outputs))
      if (k !== 'database-url') expect(v, k).not.toContain(password);
    // The output works for a later step's tool; without the password TCP is refused.
    expect((await psqlAs([url])).stdout.trim()).toBe('42');
    expect((await psqlAs(tcp(Number(m?.[2])))).code).not.toBe(0);
  }, 180_000);
});
