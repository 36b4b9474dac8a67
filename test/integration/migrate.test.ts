import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { parseMigrateOptions } from '../../src/migrate/options.js';
import { COMMENT_MARKER, migrateComment } from '../../src/migrate/present.js';
import { type MigrateResult, migrateOutputs, runMigrate } from '../../src/migrate/run.js';
import { queryRows } from '../../src/postgres/client.js';
import type { ScratchCluster } from '../../src/postgres/cluster.js';
import { sql, startCluster, tempDir } from '../harness/pg.js';

let pg: ScratchCluster;
let dir: string;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TSX = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

beforeAll(async () => {
  dir = tempDir('migrate');
  pg = await startCluster({ label: 'test-migrate' });
  await sql(pg, 'postgres', 'CREATE DATABASE app');
  await sql(
    pg,
    'app',
    `CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL);
     INSERT INTO t SELECT g, 'name ' || g FROM generate_series(1, 20000) g;
     CREATE TABLE u (id int PRIMARY KEY, note text);
     INSERT INTO u SELECT g, 'secret-row-value-' || g FROM generate_series(1, 100) g;
     CREATE ROLE app LOGIN PASSWORD 's3cret-app-pw';
     GRANT ALL ON ALL TABLES IN SCHEMA public TO app;`,
  );
}, 120_000);

afterAll(async () => {
  await pg?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A fresh copy of the "restored" database. */
async function copy(): Promise<string> {
  const name = `restored_${n++}`;
  await sql(pg, 'postgres', `CREATE DATABASE ${name} TEMPLATE app`);
  return name;
}
const url = (db: string, user = 'postgres', password = '') =>
  user === 'postgres' && !password
    ? pg.url(db)
    : `postgresql://${user}${password ? `:${password}` : ''}@127.0.0.1:${pg.port}/${db}`;

async function migrate(
  raw: Record<string, string>,
  log = memoryLogger(),
): Promise<MigrateResult & { outputs: Record<string, string> }> {
  const r = await runMigrate(parseMigrateOptions(raw, 'input', log), log);
  const outputs = migrateOutputs(r, '/tmp/report.json', { text: migrateComment(r), file: '/tmp/c.md' });
  return { ...r, outputs };
}
const rules = (r: MigrateResult) => [...new Set(r.findings.map((f) => f.rule))].sort();
const psql = (s: string) => `psql -X -q -v ON_ERROR_STOP=1 -c "${s}"`;

describe('migrate-check', () => {
  it('a column with a volatile default rewrites the table: TABLE_REWRITTEN (medium), the schema difference', async () => {
    const db = await copy();
    const r = await migrate({
      'database-url': url(db),
      'migrate-command': psql('alter table t add column c double precision default random()'),
    });
    expect(rules(r)).toEqual(['TABLE_REWRITTEN']);
    expect(r.rewritten.map((x) => x.table)).toEqual(['public.t']);
    expect(r.rewritten[0]?.bytes).toBeGreaterThan(100_000);
    expect(r.verdict).toBe('pass');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.outputs['tables-rewritten'] as string)).toEqual([
      { table: 'public.t', bytes: r.rewritten[0]?.bytes },
    ]);
    expect(r.outputs['schema-diff']).toBe('+ column public.t.c double precision default random()');
    expect(r.outputs['migrate-exit-code']).toBe('0');
    // The rewrite held the table under ACCESS EXCLUSIVE; it shows in the locks, if only briefly.
    expect(Object.keys(JSON.parse(r.outputs.locks as string))).toEqual(r.locks.length ? ['public.t'] : []);
    const strict = await migrate({
      'database-url': url(await copy()),
      'migrate-command': psql('alter table t add column c double precision default random()'),
      'fail-on': 'medium',
    });
    expect(strict.verdict).toBe('fail');
  });

  it('a nullable column (and a constant default) rewrites nothing: silent', async () => {
    const r = await migrate({
      'database-url': url(await copy()),
      'migrate-command': psql('alter table t add column d text; alter table u add column e int default 7'),
    });
    expect(rules(r)).toEqual([]);
    expect(r.rewritten).toEqual([]);
    expect(r.verdict).toBe('pass');
    expect(r.schemaDiff.added.sort()).toEqual([
      'column public.t.d text',
      'column public.u.e integer default 7',
    ]);
    expect(r.stages.map((s) => [s.name, s.status])).toEqual([
      ['target', 'ok'],
      ['migrate', 'ok'],
      ['locks', 'ok'],
      ['rewrites', 'ok'],
      ['structure', 'ok'],
      ['semantics', 'skipped'],
    ]);
  });

  it('MIGRATION_FAILED names the exit status and the end of stderr, never row values; a passing command is silent', async () => {
    const db = await copy();
    const r = await migrate({
      'database-url': url(db),
      'migrate-command': `echo "applying 0002_add_row" >&2; ${psql("insert into u values (1, 'dup')")}`,
    });
    expect(rules(r)).toEqual(['MIGRATION_FAILED']);
    expect(r.verdict).toBe('fail');
    expect(r.exitCode).not.toBe(0);
    const msg = r.findings[0]?.message ?? '';
    expect(msg).toMatch(/exited \d+/);
    expect(msg).toMatch(/applying 0002_add_row/);
    expect(msg).toMatch(/duplicate key value violates unique constraint "u_pkey"/);
    // PostgreSQL's DETAIL line quotes the key: "Key (id)=(1) already exists."
    expect(JSON.stringify(r)).not.toMatch(/\(id\)=\(1\)/);
    expect(r.outputs.comment).toMatch(/duplicate key value/);
    const exit3 = await migrate({ 'database-url': url(db), 'migrate-command': 'exit 3' });
    expect(rules(exit3)).toEqual(['MIGRATION_FAILED']);
    expect(exit3.outputs['migrate-exit-code']).toBe('3');
    expect(exit3.findings[0]?.message).toMatch(/exited 3 .*nothing on stderr/);
    const ok = await migrate({ 'database-url': url(db), 'migrate-command': 'true' });
    expect(rules(ok)).toEqual([]);
    expect(ok.schemaDiff).toEqual({ added: [], removed: [] });
  });

  it('a command past its timeout is stopped: MIGRATION_FAILED', async () => {
    const r = await migrate({
      'database-url': url(await copy()),
      'migrate-command': 'sleep 30',
      timeout: '1s',
    });
    expect(rules(r)).toEqual(['MIGRATION_FAILED']);
    expect(r.findings[0]?.message).toMatch(/stopped after the timeout of 1\.00s/);
    expect(r.migrateSeconds).toBeLessThan(10);
  });

  it('LOCK_HELD_TOO_LONG when ACCESS EXCLUSIVE is held past max-lock-seconds; silent with a generous limit', async () => {
    const hold = psql('begin; lock table t in access exclusive mode; select pg_sleep(1.5); commit');
    const r = await migrate({
      'database-url': url(await copy()),
      'migrate-command': hold,
      'max-lock-seconds': '1s',
    });
    expect(rules(r)).toEqual(['LOCK_HELD_TOO_LONG']);
    expect(r.verdict).toBe('fail');
    const t = r.locks.find((l) => l.table === 'public.t');
    expect(t?.seconds).toBeGreaterThan(1.2);
    expect(t?.seconds).toBeLessThan(2.5);
    expect(r.locks.map((l) => l.table)).toEqual(['public.t']);
    expect(r.findings[0]?.evidence).toMatchObject({ table: 'public.t', limit: 1 });
    expect(r.lockSamples).toBeGreaterThan(10);
    const relaxed = await migrate({
      'database-url': url(await copy()),
      'migrate-command': hold,
      'max-lock-seconds': '30',
    });
    expect(rules(relaxed)).toEqual([]);
    expect(JSON.parse(relaxed.outputs.locks as string)['public.t']).toBeGreaterThan(1.2);
    // A lock on a table the migration creates blocks nobody: not counted.
    const created = await migrate({
      'database-url': url(await copy()),
      'migrate-command': psql('begin; create table fresh (id int); select pg_sleep(1.2); commit'),
      'max-lock-seconds': '1',
    });
    expect(rules(created)).toEqual([]);
    expect(created.locks).toEqual([]);
    expect(created.schemaDiff.added).toContain('table public.fresh');
  });

  it('MIGRATION_SLOW over max-migration-seconds; silent under it', async () => {
    const db = await copy();
    const slow = await migrate({
      'database-url': url(db),
      'migrate-command': 'sleep 1.3',
      'max-migration-seconds': '1',
    });
    expect(rules(slow)).toEqual(['MIGRATION_SLOW']);
    expect(slow.migrateSeconds).toBeGreaterThanOrEqual(1.3);
    expect(Number(slow.outputs['migrate-seconds'])).toBeGreaterThanOrEqual(1.3);
    const fine = await migrate({
      'database-url': url(db),
      'migrate-command': 'sleep 1.3',
      'max-migration-seconds': '30s',
    });
    expect(rules(fine)).toEqual([]);
    const off = await migrate({
      'database-url': url(db),
      'migrate-command': 'sleep 1.3',
      'max-migration-seconds': 'off',
    });
    expect(rules(off)).toEqual([]);
  });

  it('DATABASE_URL and PG* reach the command: psql without arguments migrates the database', async () => {
    const db = await copy();
    const given = url(db);
    const r = await migrate({
      'database-url': given,
      'migrate-command': `test "$DATABASE_URL" = "${given}" && test "$PGDATABASE" = "${db}" && test "$PGPORT" = "${pg.port}" && psql -X -q -v ON_ERROR_STOP=1 -c "create table made_by_env (id int)"`,
    });
    expect(rules(r)).toEqual([]);
    expect(r.schemaDiff.added).toContain('table public.made_by_env');
    expect(await queryRows(pg.conn(db), "select to_regclass('made_by_env')::text as t")).toEqual([
      { t: 'made_by_env' },
    ]);
    expect(await queryRows(pg.conn('app'), "select to_regclass('made_by_env')::text as t")).toEqual([
      { t: null },
    ]);
  });

  it('working-directory is where the command runs', async () => {
    const wd = fs.mkdtempSync(path.join(dir, 'wd-'));
    fs.writeFileSync(path.join(wd, 'migration.sql'), 'create table from_file (id int);\n');
    const r = await migrate({
      'database-url': url(await copy()),
      'migrate-command': 'psql -X -q -v ON_ERROR_STOP=1 -f migration.sql',
      'working-directory': wd,
    });
    expect(rules(r)).toEqual([]);
    expect(r.schemaDiff.added).toContain('table public.from_file');
  });

  it('the password never reaches outputs, the report, the comment or the log', async () => {
    const db = await copy();
    const log = memoryLogger();
    const r = await migrate(
      {
        'database-url': url(db, 'app', 's3cret-app-pw'),
        'allow-any-database': 'true',
        'migrate-command':
          'echo "password is $PGPASSWORD, url is $DATABASE_URL" >&2; echo "$PGPASSWORD"; exit 1',
      },
      log,
    );
    expect(rules(r)).toEqual(['MIGRATION_FAILED']);
    expect(r.findings[0]?.message).toMatch(/password is \*\*\*, url is \*\*\*/);
    expect(log.secrets).toContain('s3cret-app-pw');
    expect(log.secrets).toContain(url(db, 'app', 's3cret-app-pw'));
    expect(JSON.stringify(r)).not.toContain('s3cret-app-pw');
    expect(r.database).toBe(`postgresql://app:***@127.0.0.1:${pg.port}/${db}`);
    // The log lines go through the logger, which masks every registered secret.
    const masked = log.lines.map((l) => log.secrets.reduce((a, s) => a.split(s).join('***'), l));
    expect(masked.join('\n')).not.toContain('s3cret-app-pw');
  });

  it('refuses a database it cannot tell is disposable (TARGET_REFUSED, nothing run); allow-any-database lets it', async () => {
    const db = await copy();
    const cmd = psql('create table should_not_exist (id int)');
    const refused = await migrate({
      'database-url': url(db, 'app', 's3cret-app-pw'),
      'migrate-command': cmd,
    });
    expect(rules(refused)).toEqual(['TARGET_REFUSED']);
    expect(refused.verdict).toBe('could-not-verify');
    expect(refused.stages.filter((s) => s.status === 'skipped').map((s) => s.name)).toEqual([
      'migrate',
      'locks',
      'rewrites',
      'structure',
      'semantics',
    ]);
    expect(await queryRows(pg.conn(db), "select to_regclass('should_not_exist')::text as t")).toEqual([
      { t: null },
    ]);
    await sql(pg, db, 'GRANT CREATE ON SCHEMA public TO app');
    const allowed = await migrate({
      'database-url': url(db, 'app', 's3cret-app-pw'),
      'migrate-command': cmd,
      'allow-any-database': 'true',
    });
    expect(rules(allowed)).toEqual([]);
    expect(allowed.schemaDiff.added).toContain('table public.should_not_exist');
    // A database a drill created on a server carries its marker: that is enough too.
    await sql(pg, 'postgres', `COMMENT ON DATABASE ${db} IS 'created by restorable drill'`);
    const marked = await migrate({
      'database-url': url(db, 'app', 's3cret-app-pw'),
      'migrate-command': 'true',
    });
    expect(rules(marked)).toEqual([]);
  });

  it('an unreachable database is TARGET_UNREACHABLE, could-not-verify, and the command does not run', async () => {
    const marker = path.join(dir, 'ran');
    const r = await migrate({
      'database-url': pg.url('no_such_db'),
      'migrate-command': `touch ${marker}`,
    });
    expect(rules(r)).toEqual(['TARGET_UNREACHABLE']);
    expect(r.verdict).toBe('could-not-verify');
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('smoke queries from restorable.yml run after the migration: SEMANTICS_FAILED both ways', async () => {
    const cfg = path.join(dir, 'restorable.yml');
    fs.writeFileSync(
      cfg,
      [
        'semantics:',
        '  - { name: rows kept, sql: "select count(*) from t", expect: "== 20000" }',
        '  - { name: names filled, sql: "select count(*) from t where name is null", expect: "== 0" }',
        '',
      ].join('\n'),
    );
    const good = await migrate({
      'database-url': url(await copy()),
      'migrate-command': psql('alter table t add column d text'),
      config: cfg,
    });
    expect(rules(good)).toEqual([]);
    expect(good.smoke?.map((q) => q.ok)).toEqual([true, true]);
    const bad = await migrate({
      'database-url': url(await copy()),
      'migrate-command': psql('delete from t where id > 19000'),
      config: cfg,
    });
    expect(rules(bad)).toEqual(['SEMANTICS_FAILED']);
    expect(bad.findings[0]?.message).toMatch(/rows kept.*returned 19000/);
  });

  it('the PR comment starts with the hidden marker and carries the facts, findings and schema difference', async () => {
    const r = await migrate({
      'database-url': url(await copy()),
      'migrate-command': psql('alter table t add column c double precision default random()'),
    });
    const c = r.outputs.comment as string;
    expect(c.split('\n')[0]).toBe(COMMENT_MARKER);
    expect(COMMENT_MARKER).toBe('<!-- restorable:migrate-check -->');
    expect(c).toMatch(/✅ PASS/);
    expect(c).toMatch(/\| rewritten \| public\.t \(/);
    expect(c).toMatch(/`TABLE_REWRITTEN`/);
    expect(c).toMatch(/```diff\n\+ column public\.t\.c double precision default random\(\)\n```/);
    expect(c).not.toMatch(/secret-row-value/);
  });

  it('the command line: restorable migrate --database-url ... --migrate-command ... --json', () => {
    const db = `cli_${n++}`;
    spawnSync('psql', ['-X', '-q', '-c', `CREATE DATABASE ${db} TEMPLATE app`], {
      env: { ...process.env, PGHOST: pg.socketDir, PGPORT: String(pg.port), PGUSER: 'postgres' },
    });
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        TSX,
        path.join(root, 'src/cli/index.ts'),
        'migrate',
        '--database-url',
        url(db),
        '--migrate-command',
        'exit 4',
        '--json',
      ],
      { encoding: 'utf8', cwd: dir },
    );
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as { outputs: Record<string, string> };
    expect(out.outputs.verdict).toBe('fail');
    expect(out.outputs['migrate-exit-code']).toBe('4');
    expect(fs.readFileSync(out.outputs['comment-file'] as string, 'utf8')).toBe(out.outputs.comment);
    const bad = spawnSync(
      process.execPath,
      ['--import', TSX, path.join(root, 'src/cli/index.ts'), 'migrate', '--database-url', url(db)],
      { encoding: 'utf8', cwd: dir },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--migrate-command: is required/);
  });
});

describe('migrate-check inputs', () => {
  const log = memoryLogger();
  const base = { 'database-url': 'postgresql://u@127.0.0.1:5432/db', 'migrate-command': 'true' };
  it.each([
    [{ 'max-lock-seconds': 'soon' }, /max-lock-seconds: "soon" is not a duration/],
    [{ 'max-migration-seconds': '0' }, /max-migration-seconds: "0" is not above zero/],
    [{ 'database-url': 'mysql://x@y/z' }, /database-url: is not a PostgreSQL URL/],
    [{ 'migrate-command': '   ' }, /migrate-command: is empty/],
    [{ 'working-directory': '/no/such/folder' }, /working-directory: "\/no\/such\/folder" is not a folder/],
    [{ 'max-lock-secs': '1' }, /max-lock-secs: migrate has no such input\. Did you mean max-lock-seconds\?/],
  ])('%o is a UserError naming the input', (extra, message) => {
    expect(() => parseMigrateOptions({ ...base, ...extra }, 'input', log)).toThrow(message);
  });
  it('bare numbers are seconds, durations are read, off turns a check off', () => {
    const o = parseMigrateOptions(
      { ...base, 'max-lock-seconds': '2.5', 'max-migration-seconds': '1m30s' },
      'input',
      log,
    );
    expect(o.maxLockSeconds).toBe(2.5);
    expect(o.maxMigrationSeconds).toBe(90);
    expect(parseMigrateOptions({ ...base, 'max-lock-seconds': 'off' }, 'input', log).maxLockSeconds).toBe(
      undefined,
    );
    const d = parseMigrateOptions(base, 'input', log);
    expect([d.maxLockSeconds, d.maxMigrationSeconds, d.timeoutSeconds]).toEqual([5, 600, 3600]);
  });
});
