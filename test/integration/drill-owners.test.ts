import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { parseDrillOptions } from '../../src/drill/options.js';
import { type DrillResult, runDrill } from '../../src/drill/run.js';
import { removeKept } from '../../src/drill/target.js';
import { parseMigrateOptions } from '../../src/migrate/options.js';
import { runMigrate } from '../../src/migrate/run.js';
import { inlinePassword } from '../../src/postgres/auth.js';
import { queryRows } from '../../src/postgres/client.js';
import type { ScratchCluster } from '../../src/postgres/cluster.js';
import { RESTORER } from '../../src/postgres/owners.js';
import { checkThatRunsProgram, sql, startCluster, tempDir } from '../harness/pg.js';

/**
 * A scratch drill restores as a role without a superuser's powers (postgres/owners.ts): what a
 * dump's SQL calls while it loads cannot run a program, and the owners the dump names come back
 * after, matched in the catalog, never to a role with more powers than the restorer's.
 */
let src: ScratchCluster;
let dir: string;
const f: Record<string, string> = {};

/** Every object of the database that has an owner, with it: the same query on both sides. */
const OWNERS = `
SELECT kind || ' ' || name AS object, owner FROM (
  SELECT 'rel' AS kind, c.oid::regclass::text AS name, pg_get_userbyid(c.relowner) AS owner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'v', 'S', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'restorable%'
  UNION ALL
  SELECT 'proc', p.oid::regprocedure::text, pg_get_userbyid(p.proowner) FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('public', 'Sales Dept')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
  UNION ALL
  SELECT 'type', t.oid::regtype::text, pg_get_userbyid(t.typowner) FROM pg_type t
    JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname IN ('public', 'Sales Dept')
     AND t.typtype IN ('d', 'e', 'c') AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
  UNION ALL
  SELECT 'schema', nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'Sales Dept'
  UNION ALL
  SELECT 'opr', o.oid::regoperator::text, pg_get_userbyid(o.oprowner) FROM pg_operator o
    JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE n.nspname = 'Sales Dept'
  UNION ALL
  SELECT 'tsconfig', cfgname, pg_get_userbyid(cfgowner) FROM pg_ts_config WHERE cfgname = 'shop_cfg'
  UNION ALL
  SELECT 'stats', stxname, pg_get_userbyid(stxowner) FROM pg_statistic_ext
  UNION ALL
  SELECT 'collation', collname, pg_get_userbyid(collowner) FROM pg_collation WHERE collname = 'shop_c'
  UNION ALL
  SELECT 'lo', oid::text, pg_get_userbyid(lomowner) FROM pg_largeobject_metadata
) o ORDER BY 1`;

beforeAll(async () => {
  dir = tempDir('drill-owners');
  src = await startCluster({ label: 'test-owners' });
  await sql(src, 'postgres', 'CREATE ROLE app_owner NOLOGIN; CREATE ROLE reporting NOLOGIN');
  await sql(src, 'postgres', 'CREATE DATABASE shop');
  // Objects of many kinds, most the application role's, some the superuser's, in a quoted schema.
  await sql(
    src,
    'shop',
    `CREATE EXTENSION pgcrypto;
     CREATE SCHEMA "Sales Dept" AUTHORIZATION app_owner;
     CREATE EXTENSION pageinspect WITH SCHEMA "Sales Dept";
     GRANT CREATE ON SCHEMA public TO app_owner;
     SET ROLE app_owner;
     CREATE TABLE "Sales Dept".orders (id serial PRIMARY KEY, total int NOT NULL, note text);
     CREATE VIEW "Sales Dept".big AS SELECT * FROM "Sales Dept".orders WHERE total > 100;
     CREATE MATERIALIZED VIEW "Sales Dept".totals AS SELECT count(*) AS n FROM "Sales Dept".orders;
     CREATE FUNCTION "Sales Dept"."Add Up"(a int, b "char"[]) RETURNS int LANGUAGE sql AS 'SELECT a';
     CREATE FUNCTION "Sales Dept".pos(x int) RETURNS boolean LANGUAGE sql AS 'SELECT x > 0';
     CREATE AGGREGATE "Sales Dept".summed(int) (sfunc = int4pl, stype = int);
     CREATE TYPE "Sales Dept".mood AS ENUM ('sad', 'ok');
     CREATE TYPE "Sales Dept".pair AS (a int, b int);
     CREATE DOMAIN "Sales Dept".positive AS int CHECK ("Sales Dept".pos(VALUE));
     CREATE OPERATOR "Sales Dept".=== (leftarg = int, rightarg = int, function = int4pl);
     CREATE TEXT SEARCH CONFIGURATION "Sales Dept".shop_cfg (COPY = english);
     CREATE STATISTICS "Sales Dept".st ON id, total FROM "Sales Dept".orders;
     CREATE TABLE public.items (id int PRIMARY KEY, qty "Sales Dept".positive);
     CREATE COLLATION "Sales Dept".shop_c FROM "C";
     SELECT lo_from_bytea(4242, 'app''s blob');
     GRANT SELECT ON "Sales Dept".orders TO reporting;
     RESET ROLE;
     CREATE TABLE public.audit (id int);
     SELECT lo_from_bytea(4343, 'the superuser''s blob');
     INSERT INTO "Sales Dept".orders (total) SELECT g FROM generate_series(1, 300) g;
     INSERT INTO public.items SELECT g, g FROM generate_series(1, 50) g;
     REFRESH MATERIALIZED VIEW "Sales Dept".totals;`,
  );
  f.custom = await dumpDatabase(src, 'shop', path.join(dir, 'shop.dump'));
  f.plain = await dumpDatabase(src, 'shop', path.join(dir, 'shop.sql'), { format: 'p' });
}, 240_000);

afterAll(async () => {
  await src?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function drill(source: string, extra: Record<string, string> = {}): Promise<DrillResult> {
  const opts = parseDrillOptions(
    { source, 'max-age': '1000d', checksum: 'skip', jobs: '2', ...extra },
    'input',
  );
  return runDrill(opts, memoryLogger());
}

/** A kept drill's database as its superuser (the cluster's password file names it). */
function kept(r: DrillResult) {
  const url = new URL(r.target?.url as string);
  return {
    host: '127.0.0.1',
    port: Number(url.port),
    user: decodeURIComponent(url.username),
    database: r.target?.database as string,
    passfile: url.searchParams.get('passfile') as string,
  };
}

describe('a scratch drill restores as a role without superuser powers', () => {
  it.each(['custom', 'plain'])(
    "%s: every owner the dump names comes back where it is a plain role; the superuser's objects stay the restorer's",
    async (format) => {
      const r = await drill(f[format] as string, {
        keep: 'true',
        config: writeConfig('integrity:\n  amcheck: true\n'),
      });
      try {
        expect(r.findings.filter((x) => x.severity !== 'info')).toEqual([]);
        expect(r.findings.filter((x) => x.rule === 'OWNERS_NOT_RESTORED').map((x) => x.message)).toEqual([]);
        expect(r.findings.map((x) => x.rule)).not.toContain('RESTORE_NEEDS_SUPERUSER');
        expect(r.verdict).toBe('pass');
        expect(r.rows).toBe(300 + 50);
        expect(r.stages.find((s) => s.name === 'integrity')?.status).toBe('ok');
        const want = await queryRows<{ object: string; owner: string }>(src.conn('shop'), OWNERS);
        const got = await queryRows<{ object: string; owner: string }>(kept(r), OWNERS);
        const expected = want.map((o) => ({ ...o, owner: o.owner === 'postgres' ? RESTORER : o.owner }));
        expect(got).toEqual(expected);
        expect(expected.filter((o) => o.owner === 'app_owner').length).toBeGreaterThan(12);
        const acl = await queryRows<{ ok: boolean }>(
          kept(r),
          `SELECT has_table_privilege('reporting', '"Sales Dept".orders', 'SELECT') AS ok`,
        );
        expect(acl[0]?.ok).toBe(true);
        // The kept database is handed to later steps (migrate-check) as the restorer, not the superuser.
        expect(kept(r).user).toBe(RESTORER);
        const me = await queryRows<{ s: string }>(kept(r), "SELECT current_setting('is_superuser') AS s");
        expect(me[0]?.s).toBe('off');
      } finally {
        await removeKept(r.target?.handle as string);
      }
    },
    180_000,
  );
});

describe('owners the drill could not give back', () => {
  it('an operator whose overloads belong to two roles (pg_dump names both alike) is OWNERS_NOT_RESTORED, info', async () => {
    await sql(src, 'postgres', 'CREATE DATABASE twin');
    await sql(
      src,
      'twin',
      `CREATE OPERATOR === (leftarg = int, rightarg = int, function = int4pl);
       ALTER OPERATOR ===(int, int) OWNER TO app_owner;
       CREATE OPERATOR === (leftarg = text, rightarg = text, function = textcat);
       ALTER OPERATOR ===(text, text) OWNER TO reporting;
       CREATE TABLE t (a int); INSERT INTO t VALUES (1);`,
    );
    const r = await drill(await dumpDatabase(src, 'twin', path.join(dir, 'twin.dump')));
    const kept = r.findings.filter((x) => x.rule === 'OWNERS_NOT_RESTORED');
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ severity: 'info', evidence: { objects: 2 } });
    expect(kept[0]?.message).toMatch(/the first: OPERATOR public\.=== \(owner (app_owner|reporting)\)/);
    expect(r.verdict).toBe('pass');
  }, 180_000);
});

describe('what a dump calls while it loads has no superuser powers', () => {
  it.each(['custom', 'plain'])(
    '%s: a CHECK whose function runs a program through dynamic SQL is refused, the drill fails, nothing ran',
    async (format) => {
      const out = fs.mkdtempSync(path.join(dir, 'payload-'));
      fs.chmodSync(out, 0o1777);
      const marker = path.join(out, 'ran');
      const db = `checked_${format}`;
      await checkThatRunsProgram(src, db, `touch ${marker}`);
      const dump = await dumpDatabase(
        src,
        db,
        path.join(out, `${db}.dump`),
        format === 'plain' ? { format: 'p' } : {},
      );
      const r = await drill(dump);
      expect(fs.existsSync(marker)).toBe(false);
      const refused = r.findings.find((x) => x.rule === 'RESTORE_NEEDS_SUPERUSER');
      expect(refused?.message).toMatch(/to COPY to or from an external program/);
      // The rows did not load: the drill fails on them.
      expect(r.verdict).toBe('fail');
      expect(r.rows ?? 0).toBe(0);
    },
    180_000,
  );

  it("a SECURITY DEFINER function the dump gives to a superuser or a predefined role stays the restorer's", async () => {
    await sql(src, 'postgres', 'CREATE DATABASE definer');
    await sql(
      src,
      'definer',
      `CREATE FUNCTION as_super() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $f$ BEGIN
         EXECUTE 'COPY (SELECT 1) TO PROGRAM ''true'''; END $f$;
       CREATE FUNCTION as_program() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $f$ BEGIN
         EXECUTE 'COPY (SELECT 1) TO PROGRAM ''true'''; END $f$;
       ALTER FUNCTION as_program() OWNER TO pg_execute_server_program;
       CREATE FUNCTION as_app() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
       ALTER FUNCTION as_app() OWNER TO app_owner;
       CREATE TABLE t (a int); INSERT INTO t VALUES (1);`,
    );
    const dump = await dumpDatabase(src, 'definer', path.join(dir, 'definer.dump'));
    const r = await drill(dump, { keep: 'true' });
    try {
      expect(r.verdict).toBe('pass');
      const owners = await queryRows<{ f: string; owner: string; super: boolean }>(
        kept(r),
        `SELECT p.proname AS f, r.rolname AS owner, r.rolsuper AS super FROM pg_proc p
           JOIN pg_roles r ON r.oid = p.proowner WHERE p.proname LIKE 'as\\_%' ORDER BY 1`,
      );
      expect(owners).toEqual([
        { f: 'as_app', owner: 'app_owner', super: false },
        { f: 'as_program', owner: RESTORER, super: false },
        { f: 'as_super', owner: RESTORER, super: false },
      ]);
      // The restorer may not run a program, so neither may what it owns.
      const restorer = await queryRows<{ programs: boolean }>(
        kept(r),
        `SELECT pg_has_role('${RESTORER}', 'pg_execute_server_program', 'USAGE') AS programs`,
      );
      expect(restorer[0]?.programs).toBe(false);
    } finally {
      await removeKept(r.target?.handle as string);
    }
  }, 180_000);
});

describe('a kept drill, migrated as the restorer', () => {
  it("migrate-check runs a migration on the app role's tables and the superuser's, as the restorer", async () => {
    const r = await drill(f.custom as string, { keep: 'true' });
    try {
      const url = inlinePassword(r.target?.url as string, () => {}) as string;
      expect(url).toMatch(new RegExp(`^postgresql://${RESTORER}:`));
      const command = `psql -X -q -v ON_ERROR_STOP=1 -c 'ALTER TABLE "Sales Dept".orders ADD COLUMN c int; ALTER TABLE public.audit ADD COLUMN c int; CREATE TABLE public.fresh (id int)'`;
      const log = memoryLogger();
      const m = await runMigrate(
        parseMigrateOptions({ 'database-url': url, 'migrate-command': command }, 'input', log),
        log,
      );
      expect(
        m.findings.filter((x) => x.severity !== 'info'),
        JSON.stringify(m.findings),
      ).toEqual([]);
      expect(m.verdict).toBe('pass');
    } finally {
      await removeKept(r.target?.handle as string);
    }
  }, 180_000);
});

function writeConfig(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(dir, 'cfg-')), 'restorable.yml');
  fs.writeFileSync(file, text);
  return file;
}
