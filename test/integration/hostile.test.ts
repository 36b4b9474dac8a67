import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerifyResult } from '../../src/backup/context.js';
import { parseVerifyOptions } from '../../src/backup/options.js';
import { run, userCommandEnv } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { parseDrillOptions } from '../../src/drill/options.js';
import { type DrillResult, runDrill } from '../../src/drill/run.js';
import { removeKept } from '../../src/drill/target.js';
import { findAll, pick } from '../../src/postgres/binaries.js';
import { libpqEnv, queryRows } from '../../src/postgres/client.js';
import { labelFile, ownerOf, removeCluster, type ScratchCluster } from '../../src/postgres/cluster.js';
import { PlainDumpFilter, psqlRestricts, restoreDump } from '../../src/postgres/restore.js';
import { passwdIds } from '../../src/postgres/scratch-user.js';
import { exitCodeFor } from '../../src/report/stages.js';
import { runVerify } from '../../src/verify/run.js';
import { injectSql } from '../harness/breakers.js';
import { checkThatRunsProgram, loadChinook, sql, startCluster, tempDir } from '../harness/pg.js';

/**
 * A backup is the attacker's text. Each crafted plain dump tries to run a command on the runner (a
 * marker file appears if it did) or to write into a database the drill did not create; each must be
 * refused with its finding and leave no trace.
 */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
let src: ScratchCluster;
let dir: string;
let marker: string;
const f: Record<string, string> = {};

beforeAll(async () => {
  dir = tempDir('hostile');
  marker = path.join(dir, 'pwned');
  src = await startCluster({ label: 'test-hostile' });
  await loadChinook(src);
  await sql(src, 'postgres', 'CREATE DATABASE shop');
  // Healthy text that looks like meta-commands but is not: in quotes, dollar quotes and comments.
  await sql(
    src,
    'shop',
    `CREATE TABLE t (id int PRIMARY KEY, note text);
     INSERT INTO t SELECT g, E'back\\\\slash \\\\! not a command ' || g FROM generate_series(1, 300) g;
     INSERT INTO t VALUES (301, NULL), (302, E'tab\\there\\nnewline');
     CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $body$ SELECT '\\! echo no' $body$;
     COMMENT ON TABLE t IS 'a \\connect elsewhere in a comment string';
     CREATE VIEW v AS SELECT id AS "we\\ird" FROM t;`,
  );
  f.plain = await dumpDatabase(src, 'shop', path.join(dir, 'shop.sql'), { format: 'p' });
  f.chinookPlain = await dumpDatabase(src, 'chinook', path.join(dir, 'chinook.sql'), { format: 'p' });
  f.chinookCustom = await dumpDatabase(src, 'chinook', path.join(dir, 'chinook.dump'));
  f.created = path.join(dir, 'shop-C.sql');
  const pgDump = (await pick('pg_dump', src.major))?.path as string;
  const d = spawnSync(pgDump, ['-C', '-c', '--if-exists', '-Fp', '-f', f.created], {
    env: { ...process.env, ...libpqEnv(src.conn('shop')) },
  });
  expect(d.status, d.stderr.toString()).toBe(0);
  f.chinookCreated = path.join(dir, 'chinook-C.dump');
  const c = spawnSync(pgDump, ['-C', '-Fc', '-f', f.chinookCreated], {
    env: { ...process.env, ...libpqEnv(src.conn('chinook')) },
  });
  expect(c.status, c.stderr.toString()).toBe(0);
}, 240_000);

afterAll(async () => {
  await src?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function alone(file: string, name = path.basename(file)): string {
  const d = fs.mkdtempSync(path.join(dir, 'case-'));
  fs.copyFileSync(file, path.join(d, name));
  return path.join(d, name);
}

function craft(name: string, text: string): string {
  return injectSql(f.plain as string, path.join(fs.mkdtempSync(path.join(dir, 'craft-')), name), text);
}

async function verify(source: string): Promise<VerifyResult> {
  return runVerify(parseVerifyOptions({ source, 'max-age': '1000d' }, 'input'), memoryLogger());
}

async function drill(source: string, extra: Record<string, string> = {}): Promise<DrillResult> {
  const opts = parseDrillOptions({ source, 'max-age': '1000d', checksum: 'skip', ...extra }, 'input');
  return runDrill(opts, memoryLogger());
}

const rules = (r: { findings: { rule: string; severity: string }[] }) =>
  [...new Set(r.findings.filter((x) => x.severity !== 'info').map((x) => x.rule))].sort();

const ATTACKS: [string, (m: string) => string, number][] = [
  ['\\! on a line of its own', (m) => `\\! id > ${m}`, 1],
  ['\\! after a statement on the same line', (m) => `SELECT 1; \\! touch ${m}`, 1],
  ['\\o into a pipe', (m) => `\\o |touch ${m}\nSELECT 1;\n\\o`, 2],
  ['\\copy to a program', (m) => `\\copy (SELECT 1) TO PROGRAM 'touch ${m}'`, 1],
  ['\\setenv', () => `\\setenv PAGER 'sh -c id'`, 1],
  ['\\i of another file', (m) => `\\i ${m}.sql`, 1],
  ['\\connect to another database', () => `\\connect postgres\nCREATE TABLE stolen (x int);`, 1],
  // A COPY that fails (no such table) makes psql read its "data" as commands.
  [
    'a command hidden as the data of a failing COPY',
    (m) => `COPY public.nope (x) FROM stdin;\n\\! touch ${m}\n\\.`,
    1,
  ],
];

describe('plain dumps never reach a shell', () => {
  it.each(ATTACKS)(
    '%s: verify and drill say PLAIN_META_COMMAND, exit 1, and nothing ran',
    async (_n, text, count) => {
      fs.writeFileSync(`${marker}.sql`, `\\! touch ${marker}\n`);
      const file = craft('shop.sql', text(marker));
      const v = await verify(alone(file));
      expect(rules(v)).toContain('PLAIN_META_COMMAND');
      const found = v.findings.find((x) => x.rule === 'PLAIN_META_COMMAND');
      expect(found?.severity).toBe('critical');
      expect(found?.message).toMatch(/^line \d+: /);
      expect(found?.evidence?.count).toBe(count);
      expect(v.stages.find((s) => s.name === 'schema')?.status).toBe('skipped');
      expect(exitCodeFor(v.verdict)).toBe(1);
      const d = await drill(alone(file));
      expect(rules(d)).toContain('PLAIN_META_COMMAND');
      expect(d.verdict).toBe('fail');
      expect(d.stages.find((s) => s.name === 'restore')?.status).toBe('skipped');
      expect(fs.existsSync(marker)).toBe(false);
      expect(
        await queryRows(src.conn('postgres'), "SELECT 1 FROM pg_class WHERE relname = 'stolen'"),
      ).toEqual([]);
    },
  );

  it('names the line of the meta-command', async () => {
    const file = craft('shop.sql', `\\! touch ${marker}`);
    const line = fs.readFileSync(file, 'utf8').split('\n').indexOf(`\\! touch ${marker}`) + 1;
    const v = await verify(alone(file));
    expect(v.findings.find((x) => x.rule === 'PLAIN_META_COMMAND')?.message).toBe(
      `line ${line}: the psql meta-command \\! touch ${marker}; nothing of the dump was run`,
    );
  });

  it('statements about the server or another database: DUMP_OUTSIDE_DATABASE, nothing ran', async () => {
    for (const text of [
      'CREATE ROLE intruder SUPERUSER LOGIN;',
      "ALTER ROLE postgres PASSWORD 'owned';",
      'DROP DATABASE IF EXISTS chinook;',
      "ALTER SYSTEM SET archive_command = 'sh -c id';",
      "COMMENT ON DATABASE postgres IS 'owned';",
    ]) {
      const v = await verify(alone(craft('shop.sql', text)));
      expect(rules(v), text).toEqual(['CHECKSUM_UNVERIFIED', 'DUMP_OUTSIDE_DATABASE']);
      expect(v.verdict).toBe('fail');
    }
    const d = await drill(alone(craft('shop.sql', 'CREATE ROLE intruder SUPERUSER LOGIN;')));
    expect(rules(d)).toContain('DUMP_OUTSIDE_DATABASE');
    expect(d.stages.find((s) => s.name === 'restore')?.status).toBe('skipped');
  });

  it('healthy dumps with backslashes in quotes, dollar quotes and comments pass: no false alarm', async () => {
    for (const file of [f.plain, f.chinookPlain, f.created, f.chinookCreated] as string[]) {
      const v = await verify(alone(file));
      expect(rules(v), file).toEqual(['CHECKSUM_UNVERIFIED']);
      const d = await drill(alone(file));
      expect(rules(d), file).toEqual([]);
      expect(d.verdict).toBe('pass');
    }
  });

  it('the restore itself (a second line behind the walk) leaves every meta-command out and runs psql restricted', async () => {
    const psql = (await findAll('psql')).find((p) => psqlRestricts(p.version));
    expect(psql, 'this machine needs a psql with \\restrict (15.14+, 16.10+, 17.6+)').toBeDefined();
    await sql(src, 'postgres', 'CREATE DATABASE second_line');
    const file = craft(
      'shop.sql',
      `SELECT 1; \\! touch ${marker}\n\\connect chinook\nCREATE TABLE stolen (x int);`,
    );
    const r = await restoreDump(
      psql as NonNullable<typeof psql>,
      src.conn('second_line'),
      { format: 'plain', path: file, wrapper: null },
      { jobs: 1, roles: 'ignore' },
    );
    expect(r.findings.map((x) => x.rule)).toContain('PLAIN_META_COMMAND');
    expect(fs.existsSync(marker)).toBe(false);
    expect(await queryRows(src.conn('chinook'), "SELECT 1 FROM pg_class WHERE relname = 'stolen'")).toEqual(
      [],
    );
    expect(await queryRows(src.conn('second_line'), 'SELECT count(*)::int AS n FROM t')).toEqual([
      { n: 302 },
    ]);
  });

  it("psql's restricted mode, as the filter opens it, refuses a meta-command the lexer would have missed", async () => {
    const psql = (await findAll('psql')).find((p) => psqlRestricts(p.version)) as { path: string };
    const filter = new PlainDumpFilter({ schemaOnly: false, owners: 'keep', restrictKey: 'k3y' });
    const chunks: Buffer[] = [];
    filter.on('data', (b: Buffer) => chunks.push(b));
    filter.end(Buffer.from('SELECT 1;\n'));
    await new Promise((r) => filter.on('end', r));
    const text = `${Buffer.concat(chunks).toString()}\\! touch ${marker}\n`;
    expect(text.startsWith('\\restrict k3y\n')).toBe(true);
    const p = spawnSync(psql.path, ['-X', '-q', '-f', '-'], {
      input: text,
      env: { ...process.env, ...libpqEnv(src.conn('postgres')) },
    });
    expect(p.stderr.toString()).toMatch(/restricted/);
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe("verify's schema replay runs without a superuser's powers", () => {
  it('a program the dump runs through a DO block is refused there; a C function is noted, not failed', async () => {
    const onServer = path.join('/tmp', `restorable-test-replay-${process.pid}`);
    const file = craft(
      'shop.sql',
      `DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch ${onServer}'''; END $$;\n` +
        "CREATE FUNCTION public.cfn(oid) RETURNS void AS '$libdir/plpgsql', 'plpgsql_validator' LANGUAGE c STRICT;",
    );
    try {
      const v = await verify(alone(file));
      expect(fs.existsSync(onServer)).toBe(false);
      expect(rules(v)).toEqual(['CHECKSUM_UNVERIFIED']);
      const note = v.findings.find((x) => x.rule === 'RESTORE_NEEDS_SUPERUSER');
      expect(note?.evidence?.statements).toBe(2);
      expect(v.verdict).toBe('pass');
      expect(rules(await verify(alone(f.plain as string)))).toEqual(['CHECKSUM_UNVERIFIED']);
      expect((await verify(alone(f.plain as string))).findings.map((x) => x.rule)).not.toContain(
        'RESTORE_NEEDS_SUPERUSER',
      );
    } finally {
      fs.rmSync(onServer, { force: true });
    }
  });
});

describe('smoke queries are one read-only statement, without a superuser', () => {
  it('`commit;` and COPY ... TO PROGRAM in a smoke query fail, change nothing, and a healthy one passes', async () => {
    const server = await startCluster({ label: 'test-hostile-smoke' });
    const onServer = path.join('/tmp', `restorable-test-smoke-${process.pid}`);
    try {
      const cfg = path.join(fs.mkdtempSync(path.join(dir, 'cfg-')), 'restorable.yml');
      fs.writeFileSync(
        cfg,
        [
          'semantics:',
          '  - { name: escape, sql: "select 1; commit; create role intruder superuser login", expect: "== 1" }',
          `  - { name: program, sql: "copy (select 1) to program 'touch ${onServer}'", expect: "== 1" }`,
          '  - { name: rows, sql: "select count(*) from t", expect: "== 302" }',
        ].join('\n'),
      );
      const r = await drill(alone(f.plain as string), {
        'target-url': server.url(),
        config: cfg,
      });
      const failed = r.findings.filter((x) => x.rule === 'SEMANTICS_FAILED').map((x) => x.evidence?.query);
      expect(failed).toEqual(['escape', 'program']);
      expect(r.smoke?.find((q) => q.name === 'rows')?.ok).toBe(true);
      expect(fs.existsSync(onServer)).toBe(false);
      const roles = await queryRows<{ rolname: string }>(
        server.conn(),
        "SELECT rolname FROM pg_roles WHERE rolname = 'intruder' OR rolname LIKE 'restorable_smoke%'",
      );
      expect(roles).toEqual([]);
    } finally {
      fs.rmSync(onServer, { force: true });
      await server.stop();
    }
  });
});

describe('labels are data, never code', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [path.join(root, 'dist/cli/index.js'), ...args], { encoding: 'utf8' });
  const evilPgCtl = () => {
    const bin = fs.mkdtempSync(path.join(dir, 'evil-bin-'));
    fs.writeFileSync(path.join(bin, 'pg_ctl'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    return bin;
  };

  it('as root, each scratch server runs as a user of its own under a 0700 folder, removed with it', async () => {
    const c = await startCluster({ label: 'test-user' });
    const other = await startCluster({ label: 'test-user' });
    const user = c.osUser as string;
    try {
      const pid = fs.readFileSync(path.join(c.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
      const uid = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      expect(user).toMatch(/^restorable-[0-9a-f]{8}$/);
      expect(uid).toBe(ownerOf(user)?.uid);
      expect(other.osUser).not.toBe(user);
      expect(ownerOf(other.osUser)?.uid).not.toBe(uid);
      const parent = fs.statSync(path.dirname(c.root));
      expect(parent.mode & 0o777).toBe(0o700);
      expect(parent.uid).toBe(uid);
      expect(fs.statSync(c.socketDir).mode & 0o777).toBe(0o700);
      // One cluster's server user cannot enter the other's folder.
      const peek = spawnSync('runuser', ['-u', user, '--', 'ls', other.root], { encoding: 'utf8' });
      expect(peek.status).not.toBe(0);
      expect(peek.stderr).toMatch(/Permission denied/);
    } finally {
      await c.stop();
      await other.stop();
    }
    expect(passwdIds(user)).toBeUndefined();
    expect(fs.existsSync(c.root)).toBe(false);
    // The parent is named by uid, and a freed uid goes to the next user made: a test running beside
    // this one may have made its own server user with it, and that user's parent, since. Then the
    // folder there is the new user's; otherwise it must be gone.
    const parent = path.dirname(c.root);
    if (fs.existsSync(parent)) {
      const owner = spawnSync('getent', ['passwd', String(fs.statSync(parent).uid)], {
        encoding: 'utf8',
      }).stdout.split(':')[0];
      expect(owner, `${parent} outlived ${user}`).toMatch(/^restorable-[0-9a-f]{8}$/);
      expect(owner).not.toBe(user);
    }
  });

  it('through dist/: a dump whose CHECK runs a program during the restore runs nothing, and the drill fails', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'payload-out-'));
    fs.chmodSync(out, 0o1777);
    const script = path.join(out, 'p.sh');
    fs.writeFileSync(script, `id -un > ${out}/user\n(setsid sleep 3001 </dev/null >/dev/null 2>&1 &)\n`, {
      mode: 0o644,
    });
    await checkThatRunsProgram(src, 'checked', `sh ${script}`);
    const dump = await dumpDatabase(
      src,
      'checked',
      path.join(fs.mkdtempSync(path.join(dir, 'check-')), 'checked.dump'),
    );
    const sleepers = () =>
      fs.readdirSync('/proc').filter((p) => {
        try {
          return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\u00003001\u0000';
        } catch {
          return false;
        }
      });
    try {
      const r = cli(['drill', '--source', dump, '--max-age', '1000d', '--checksum', 'skip', '--json']);
      expect(r.status, r.stderr).toBe(1);
      const report = (JSON.parse(r.stdout) as { result: DrillResult }).result;
      expect(report.findings.map((x) => x.rule)).toContain('RESTORE_NEEDS_SUPERUSER');
      expect(fs.readdirSync(out)).toEqual(['p.sh']);
      expect(sleepers()).toEqual([]);
    } finally {
      for (const pid of sleepers()) process.kill(Number(pid), 'SIGKILL');
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);

  it('a folder planted in the temp folder with a label naming its own pg_ctl: clean runs nothing of it', async () => {
    const planted = path.join(os.tmpdir(), `restorable-drill-planted-${process.pid}`);
    fs.mkdirSync(path.join(planted, 'data'), { recursive: true });
    fs.writeFileSync(path.join(planted, 'data', 'postmaster.pid'), '1\n');
    const label = {
      label: 'drill',
      root: planted,
      pid: 999999,
      created: '',
      major: 15,
      binDir: evilPgCtl(),
      osUser: 'root',
    };
    fs.writeFileSync(path.join(planted, 'restorable.json'), JSON.stringify(label));
    fs.chownSync(planted, 65534, 65534);
    try {
      const all = cli(['clean', '--all']);
      expect(all.status, all.stderr).toBe(0);
      const one = cli(['clean', '--root', planted]);
      expect(one.status).toBe(2);
      expect(one.stderr).toMatch(/^restorable: --root: ".*" is not a Restorable scratch cluster/);
      expect(fs.existsSync(marker)).toBe(false);
      expect(fs.existsSync(planted)).toBe(true);
    } finally {
      fs.rmSync(planted, { recursive: true, force: true });
    }
  });

  it("a label rewritten by the server's user, or from SQL, cannot be: the post step stops the cluster with discovered binaries", async () => {
    const r = await drill(alone(f.chinookCustom as string), { keep: 'true' });
    const kept = JSON.parse(r.target?.handle as string).root as string;
    const file = labelFile(kept);
    const before = fs.readFileSync(file, 'utf8');
    const forged = JSON.stringify({ ...JSON.parse(before), binDir: evilPgCtl(), osUser: 'root' });
    // As the server's OS user (what COPY ... TO PROGRAM in a dump would run as), and through SQL.
    const serverUser = JSON.parse(before).osUser as string;
    const asServer = spawnSync('runuser', ['-u', serverUser, '--', 'sh', '-c', `echo '${forged}' > ${file}`]);
    expect(asServer.status).not.toBe(0);
    const port = Number(/:(\d+)\//.exec(r.target?.url as string)?.[1]);
    const conn = { host: path.join(kept, 'socket'), port, user: 'postgres', database: 'postgres' };
    await expect(queryRows(conn, `COPY (SELECT '${forged}') TO PROGRAM 'cat > ${file}'`)).rejects.toThrow();
    // The old place of the label, inside the server user's folder, is not read at all.
    spawnSync('runuser', ['-u', serverUser, '--', 'sh', '-c', `echo '${forged}' > ${kept}/restorable.json`]);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    expect(await removeKept(r.target?.handle as string)).toBe(kept);
    expect(fs.existsSync(kept)).toBe(false);
    expect(passwdIds(serverUser)).toBeUndefined();
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('a folder whose server did not stop is left, with a line saying so', async () => {
    const c = await startCluster({ label: 'drill' });
    const kept = c.detach();
    const pidFile = path.join(c.dataDir, 'postmaster.pid');
    const real = fs.readFileSync(pidFile, 'utf8');
    // pg_ctl, as the server's user, cannot signal a process of root's: the server stays "up".
    fs.writeFileSync(pidFile, real.replace(/^\d+/, String(process.pid)));
    try {
      await expect(removeCluster(kept)).rejects.toThrow(/did not stop, so its folder was left/);
      expect(fs.existsSync(c.dataDir)).toBe(true);
    } finally {
      fs.writeFileSync(pidFile, real);
      expect(await removeCluster(kept)).toBe(true);
    }
  });
});

describe('secrets stay out of child environments', () => {
  it("neither a program Restorable runs nor the scratch postmaster has the runner's keys", async () => {
    const canary = {
      AWS_SECRET_ACCESS_KEY: 'canary-aws-secret',
      GITHUB_TOKEN: 'canary-token',
      PGPASSWORD: 'canary-pw',
    };
    Object.assign(process.env, canary);
    let c: ScratchCluster | undefined;
    try {
      const env = await run('sh', ['-c', 'env']);
      for (const v of Object.values(canary)) expect(env.stdout).not.toContain(v);
      expect(env.stdout).toMatch(/^PATH=/m);
      c = await startCluster({ label: 'test-env' });
      const pid = fs.readFileSync(path.join(c.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      expect(environ).toContain('PGDATA=');
      for (const v of Object.values(canary)) expect(environ).not.toContain(v);
      // The user's own commands keep their environment, less Restorable's secrets.
      process.env.APP_SETTING = 'kept';
      const user = await run('sh', ['-c', 'env'], { env: userCommandEnv() });
      expect(user.stdout).toContain('APP_SETTING=kept');
      for (const v of Object.values(canary)) expect(user.stdout).not.toContain(v);
    } finally {
      for (const k of [...Object.keys(canary), 'APP_SETTING']) delete process.env[k];
      await c?.stop();
    }
  });
});

describe('target-url drills touch only their own database', () => {
  it('a role with only CREATEDB (no superuser) drills a healthy dump to PASS', async () => {
    const server = await startCluster({ label: 'test-hostile-createdb' });
    try {
      await sql(server, 'postgres', "CREATE ROLE driller LOGIN CREATEDB PASSWORD 'dr1ller'");
      const r = await drill(alone(f.chinookCustom as string), {
        'target-url': `postgresql://driller:dr1ller@127.0.0.1:${server.port}/postgres`,
      });
      expect(rules(r)).toEqual([]);
      expect(r.verdict).toBe('pass');
      const plain = await drill(alone(f.chinookPlain as string), {
        'target-url': `postgresql://driller:dr1ller@127.0.0.1:${server.port}/postgres`,
      });
      expect(rules(plain)).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('pg_dump -C -c output loads into the drill database, not the server database of the same name', async () => {
    const server = await startCluster({ label: 'test-hostile-server' });
    try {
      await sql(server, 'postgres', 'CREATE DATABASE shop');
      await sql(server, 'shop', 'CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3)');
      const r = await drill(alone(f.created as string), {
        'target-url': server.url(),
      });
      expect(rules(r)).toEqual([]);
      expect(r.verdict).toBe('pass');
      expect(r.rows).toBe(302);
      expect(await queryRows(server.conn('shop'), 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 3 }]);
      const dbs = await queryRows<{ datname: string }>(
        server.conn(),
        'SELECT datname FROM pg_database ORDER BY 1',
      );
      expect(dbs.map((x) => x.datname)).toEqual(['postgres', 'shop', 'template0', 'template1']);
    } finally {
      await server.stop();
    }
  });
});
