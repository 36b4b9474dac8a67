/**
 * A restore without a superuser's powers: a dump's SQL (and every function a CHECK, a default, an
 * index expression or a trigger calls while its rows load) runs as the restoring role, which may log
 * in and own the drill's database, nothing more. So `COPY ... TO PROGRAM`, server files and C
 * functions are refused whatever the dump hides in dynamic SQL. What only a superuser may make
 * (untrusted extensions) is made first, from the server's own files; the owners the dump names are
 * given back after, by a superuser, to objects it finds in the catalog, never by running the dump's text.
 */
import type pg from 'pg';
import type { DumpExtension, OwnedEntry } from '../archive/inspect.js';
import { type ConnInfo, ident, withClient } from './client.js';

/** The role a drill's restore (and verify's schema replay) runs as, and its checks after. */
export const RESTORER = 'restorable_restore';

/**
 * On `admin` (a superuser, over the socket): the restoring role, LOGIN and nothing else, made owner
 * of `database`. Returns its connection to that database.
 */
export async function makeRestorer(admin: ConnInfo, database: string): Promise<ConnInfo> {
  await withClient(admin, async (c) => {
    const have = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [RESTORER]);
    if (have.rowCount === 0)
      await c.query(
        `CREATE ROLE ${RESTORER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
      );
    await c.query(`ALTER DATABASE ${ident(database)} OWNER TO ${RESTORER}`);
  });
  return { ...admin, database, user: RESTORER };
}

/** What a restore as the restoring role says that follows from what was made for it first. */
export interface Prepared {
  /** Extensions a superuser made (the restorer may not comment on them). */
  extensions: string[];
  /** Schemas made to hold them (the dump's CREATE SCHEMA then finds them there). */
  schemas: string[];
}

/**
 * The dump's extensions that only a superuser may create (not trusted), made by `superuser` in the
 * drill's database before the restore, in the schema the dump names (made for the restorer when it
 * does not exist yet). Trusted ones the restorer makes itself, as the dump says. Nothing of the dump
 * has run yet, so nothing of it runs with these powers.
 */
export async function precreateExtensions(superuser: ConnInfo, wanted: DumpExtension[]): Promise<Prepared> {
  const made: Prepared = { extensions: [], schemas: [] };
  if (wanted.length === 0) return made;
  await withClient(superuser, async (c) => {
    await c.query('SET search_path = pg_catalog');
    const untrusted = new Set(
      (
        await c.query<{ name: string }>(
          `SELECT DISTINCT name FROM pg_available_extension_versions WHERE name = ANY($1) AND NOT trusted`,
          [wanted.map((e) => e.name)],
        )
      ).rows.map((r) => r.name),
    );
    for (const e of wanted.filter((w) => untrusted.has(w.name))) {
      const schema = e.schema ?? 'public';
      const exists = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      if (exists.rowCount === 0) {
        await c.query(`CREATE SCHEMA ${ident(schema)} AUTHORIZATION ${RESTORER}`);
        made.schemas.push(schema);
      }
      // An extension that will not install is the restore's to say, as the dump's statement fails.
      const ok = await c
        .query(`CREATE EXTENSION IF NOT EXISTS ${ident(e.name)} WITH SCHEMA ${ident(schema)} CASCADE`)
        .then(
          () => true,
          () => false,
        );
      if (ok) made.extensions.push(e.name);
    }
  });
  return made;
}

/** A restore's stderr line that only says what precreateExtensions made: not an error of the dump. */
export function expectedLine(line: string, prepared: Prepared | undefined): boolean {
  if (!prepared) return false;
  const ext = /must be owner of extension (\S+)/.exec(line)?.[1];
  if (ext && prepared.extensions.includes(ext)) return true;
  const schema = /schema "((?:[^"]|"")+)" already exists/.exec(line)?.[1];
  return schema !== undefined && prepared.schemas.includes(schema);
}

/** Catalogs whose objects pg_dump names by their name alone: TOC type, catalog, schema and name columns. */
const BY_NAME: [string, string, string | null, string][] = [
  ['COLLATION', 'pg_collation', 'collnamespace', 'collname'],
  ['CONVERSION', 'pg_conversion', 'connamespace', 'conname'],
  ['TEXT SEARCH CONFIGURATION', 'pg_ts_config', 'cfgnamespace', 'cfgname'],
  ['TEXT SEARCH DICTIONARY', 'pg_ts_dict', 'dictnamespace', 'dictname'],
  ['STATISTICS', 'pg_statistic_ext', 'stxnamespace', 'stxname'],
  ['OPERATOR', 'pg_operator', 'oprnamespace', 'oprname'],
  ['OPERATOR CLASS', 'pg_opclass', 'opcnamespace', 'opcname'],
  ['OPERATOR FAMILY', 'pg_opfamily', 'opfnamespace', 'opfname'],
  ['SERVER', 'pg_foreign_server', null, 'srvname'],
  ['PUBLICATION', 'pg_publication', null, 'pubname'],
];

/**
 * The restorer's objects in the current database as pg_dump would name them (type, schema, tag),
 * with the identity and ALTER keyword the catalog gives them: the keys that owners are matched by.
 */
const MINE = `
WITH mine AS (
  SELECT d.classid, d.objid FROM pg_shdepend d
   WHERE d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND d.refclassid = 'pg_authid'::regclass AND d.refobjid = $1::regrole AND d.deptype = 'o'
), keyed AS (
  SELECT m.classid, m.objid, CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE'
           WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS descr,
         c.relnamespace AS ns, c.relname::text AS tag
    FROM mine m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
   WHERE c.relkind IN ('r', 'p', 'v', 'S', 'm', 'f')
  UNION ALL
  SELECT m.classid, m.objid, CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
         p.pronamespace, p.proname || '(' || coalesce((SELECT string_agg(format_type(a.t, NULL), ', ' ORDER BY a.i)
                                                        FROM unnest(p.proargtypes) WITH ORDINALITY a(t, i)), '') || ')'
    FROM mine m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT m.classid, m.objid, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.typnamespace, t.typname::text
    FROM mine m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
   WHERE t.typelem = 0 OR t.typtype <> 'b' OR t.typcategory <> 'A'
  UNION ALL
  SELECT m.classid, m.objid, 'SCHEMA', NULL, n.nspname::text
    FROM mine m JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid
${BY_NAME.map(
  ([d, cat, ns, name]) => `  UNION ALL
  SELECT m.classid, m.objid, '${d}', ${ns ? `o.${ns}` : 'NULL::oid'}, o.${name}::text
    FROM mine m JOIN ${cat} o ON m.classid = '${cat}'::regclass AND o.oid = m.objid
`,
).join('')}  UNION ALL
  SELECT m.classid, m.objid, 'BLOB', NULL, m.objid::text
    FROM mine m WHERE m.classid = 'pg_largeobject'::regclass
)
SELECT k.descr, coalesce(n.nspname, '') AS ns, k.tag, o.identity
  FROM keyed k LEFT JOIN pg_namespace n ON n.oid = k.ns
 CROSS JOIN LATERAL pg_identify_object(k.classid, k.objid, 0) o`;

/**
 * The roles named, each with whether an object may be given to it: not a superuser, nor one that may make roles, bypass row
 * security or replicate, nor a predefined role or a member of any role (so a SECURITY DEFINER
 * function of the dump never runs with more than such a role has).
 */
const OWNER_ROLES = `
SELECT r.rolname, NOT r.rolsuper AND NOT r.rolcreaterole AND NOT r.rolbypassrls
   AND NOT r.rolreplication AND r.rolname !~ '^pg_' AND r.rolname <> $2
   AND NOT EXISTS (SELECT 1 FROM pg_auth_members a WHERE a.member = r.oid) AS safe
  FROM pg_roles r WHERE r.rolname = ANY($1)`;

export interface OwnersResult {
  /** Objects given to the owner the dump names. */
  given: number;
  /** Owners given objects: the restorer is made a member of each, so the checks after can read them. */
  owners: string[];
  /** Owners the target does not have (roles: strict says so). */
  absent: string[];
  /** Entries whose owner may be given objects, but whose object was not found as the restorer's. */
  unmatched: OwnedEntry[];
}

/**
 * Give the restorer's objects in `database` (connected as a superuser) the owners `entries` name:
 * an object is matched by the type, schema and name the catalog gives it, and changed with the
 * identity the catalog gives it; an owner that is not a safe role (a superuser, ...) keeps nothing,
 * the restorer keeps the object. A name shared by several entries with different owners is left.
 */
export async function giveOwners(superuser: ConnInfo, entries: OwnedEntry[]): Promise<OwnersResult> {
  return withClient(superuser, async (c) => {
    await c.query('SET search_path = pg_catalog');
    const named = [...new Set(entries.map((e) => e.owner))];
    const roles = (await c.query<{ rolname: string; safe: boolean }>(OWNER_ROLES, [named, RESTORER])).rows;
    const existing = new Set(roles.map((r) => r.rolname));
    const safe = new Set(roles.filter((r) => r.safe).map((r) => r.rolname));
    const byKey = new Map<string, Set<string>>();
    const key = (d: string, ns: string, tag: string) => JSON.stringify([d, ns, tag]);
    // pg_dump names a large object BLOB (before 17), or LARGE OBJECT.
    const entryKey = (e: OwnedEntry) => key(e.desc === 'LARGE OBJECT' ? 'BLOB' : e.desc, e.namespace, e.tag);
    for (const e of entries) {
      const k = entryKey(e);
      byKey.set(k, (byKey.get(k) ?? new Set()).add(e.owner));
    }
    const mine = (
      await c.query<{ descr: string; ns: string; tag: string; identity: string }>(MINE, [RESTORER])
    ).rows;
    const statements: string[] = [];
    const given = new Set<string>();
    const matched = new Set<string>();
    for (const o of mine) {
      const k = key(o.descr, o.ns, o.tag);
      const owners = byKey.get(k);
      const owner = owners?.size === 1 ? [...owners][0] : undefined;
      if (owner === undefined) continue;
      matched.add(k);
      if (!safe.has(owner)) continue;
      const kind = o.descr === 'BLOB' ? 'LARGE OBJECT' : o.descr;
      statements.push(`ALTER ${kind} ${o.identity} OWNER TO ${ident(owner)}`);
      given.add(owner);
    }
    const members = [...given].map((r) => `GRANT ${ident(r)} TO ${RESTORER}`);
    await inOneTransaction(c, [...statements, ...members]);
    return {
      given: statements.length,
      owners: [...given].sort(),
      absent: named.filter((r) => !existing.has(r)),
      unmatched: entries.filter((e) => safe.has(e.owner) && !matched.has(entryKey(e))),
    };
  });
}

async function inOneTransaction(c: pg.Client, statements: string[]): Promise<void> {
  if (statements.length === 0) return;
  await c.query('BEGIN');
  for (let i = 0; i < statements.length; i += 500) await c.query(statements.slice(i, i + 500).join(';\n'));
  await c.query('COMMIT');
}
