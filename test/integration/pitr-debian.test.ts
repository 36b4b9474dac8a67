import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { findAll } from '../../src/postgres/binaries.js';
import { freePort } from '../../src/postgres/cluster.js';
import { controlData } from '../../src/postgres/recovery.js';
import { serverDir, sleep } from '../harness/pitr.js';

/**
 * Seed 001's layout: a Debian cluster made by pg_createcluster (configuration in
 * /etc/postgresql/<major>/<name>, data in /var/lib/postgresql/<major>/<name>, started by
 * pg_ctlcluster), on a spare port. Its base backup has no postgresql.conf; an in-place PITR must
 * recover it with its own configuration and start it the Debian way.
 */
const name = `rst${process.pid}`;
let major: number;
let port: number;
let dataDir: string;
let arch: string;
let bases: string;

const sh = (cmd: string, args: string[], opts: { user?: string; input?: string } = {}) => {
  const [file, argv] = opts.user ? ['runuser', ['-u', opts.user, '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { encoding: 'utf8', ...(opts.input ? { input: opts.input } : {}) });
  expect(r.status, `${cmd} ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
};
const psql = (sql: string) =>
  sh('psql', ['-X', '-qAt', '-h', '/var/run/postgresql', '-p', String(port), '-d', 'postgres', '-c', sql], {
    user: 'postgres',
  }).trim();

beforeAll(async () => {
  if (process.getuid?.() !== 0)
    throw new Error('this test makes a Debian cluster with pg_createcluster: run it as root');
  const pg = (await findAll('initdb'))[0];
  if (!pg || !fs.existsSync('/usr/bin/pg_createcluster'))
    throw new Error('pg_createcluster is missing: apt-get install postgresql-common postgresql');
  major = pg.major;
  port = await freePort();
  arch = serverDir('pitr-deb-archive');
  bases = serverDir('pitr-deb-base');
  sh('pg_createcluster', [String(major), name, '-p', String(port), '--', '--auth=trust']);
  fs.writeFileSync(
    `/etc/postgresql/${major}/${name}/conf.d/archive.conf`,
    `wal_level = replica\narchive_mode = on\narchive_command = 'test ! -f ${arch}/%f && cp %p ${arch}/%f'\n`,
  );
  sh('pg_ctlcluster', [String(major), name, 'start']);
  dataDir = `/var/lib/postgresql/${major}/${name}`;
  psql('CREATE TABLE marker (phase text)');
  psql("INSERT INTO marker VALUES ('before')");
  sh(
    'pg_basebackup',
    [
      '-h',
      '/var/run/postgresql',
      '-p',
      String(port),
      '-D',
      path.join(bases, 'b1'),
      '-X',
      'none',
      '-c',
      'fast',
    ],
    {
      user: 'postgres',
    },
  );
}, 120_000);

afterAll(() => {
  if (major) spawnSync('pg_dropcluster', ['--stop', String(major), name]);
  for (const n of fs.existsSync(path.dirname(dataDir ?? '/nonexistent'))
    ? fs.readdirSync(path.dirname(dataDir))
    : [])
    if (!process.env.KEEP && n.startsWith(`${name}.restorable-`))
      fs.rmSync(path.join(path.dirname(dataDir), n), { recursive: true, force: true });
});

describe("in place on Debian's layout (pg_createcluster, pg_ctlcluster)", () => {
  it('recovers with the configuration in /etc, hands over through pg_ctlcluster, and says so', async () => {
    expect(fs.existsSync(path.join(bases, 'b1', 'postgresql.conf'))).toBe(false);
    await sleep(1100);
    const target = new Date().toISOString();
    await sleep(1100);
    psql("INSERT INTO marker VALUES ('after')");
    psql('SELECT pg_switch_wal()');
    await sleep(1500);
    const bin = (await findAll('pg_controldata')).find((b) => b.major === major) as {
      dir: string;
      major: number;
      version: string;
      path: string;
    };
    const id = (await controlData(bin, dataDir))['Database system identifier'] as string;
    const r = await runPitr(
      parsePitrOptions(
        {
          'base-backups': bases,
          'wal-archive': arch,
          mode: 'in-place',
          'data-directory': dataDir,
          confirm: id,
          'target-time': target,
        },
        'input',
      ),
      memoryLogger(),
    );
    expect(r.stages.find((s) => s.name === 'handover')?.status, JSON.stringify(r.findings)).toBe('ok');
    expect(psql("SELECT string_agg(phase, ',') FROM marker")).toBe('before');
    expect(sh('pg_lsclusters', ['--no-header', String(major), name])).toMatch(/online/);
    // Production's own configuration rules again: its port, its socket, no recovery left.
    expect(psql('SHOW port')).toBe(String(port));
    expect(psql('SELECT pg_is_in_recovery()')).toBe('f');
    expect(r.safetySnapshot && fs.existsSync(path.join(r.safetySnapshot, 'PG_VERSION'))).toBe(true);
    expect(r.downtimeSeconds).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dataDir, 'postgresql.conf'))).toBe(false);
  }, 120_000);
});
