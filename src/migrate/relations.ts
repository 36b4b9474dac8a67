import type pg from 'pg';
import { structureLines } from '../checks/structure.js';
import { tableName } from '../postgres/tables.js';
import type { Snapshot } from './context.js';

/** A user relation before the migration: a table, or an index or TOAST table that belongs to one. */
export interface Relation {
  oid: string;
  kind: string;
  /** The table it belongs to (itself for a table). */
  table: string;
  filenode: string | null;
  bytes: number;
}

const USER_NS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;

/** Every user table with its indexes and TOAST table, each mapped to the table by OID. */
const RELATIONS_SQL = `
  WITH rel AS (
    SELECT c.oid, c.relkind, coalesce(i.indrelid, t.oid, c.oid) AS owner
      FROM pg_class c
      LEFT JOIN pg_index i ON i.indexrelid = c.oid
      LEFT JOIN pg_class t ON t.reltoastrelid = c.oid
     WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I', 't'))
  SELECT rel.oid::text AS oid, rel.relkind::text AS kind, n.nspname AS schema, o.relname AS name,
         pg_relation_filenode(rel.oid)::text AS filenode, pg_relation_size(rel.oid)::text AS bytes
    FROM rel JOIN pg_class o ON o.oid = rel.owner JOIN pg_namespace n ON n.oid = o.relnamespace
   WHERE o.relkind IN ('r', 'p', 'm') AND ${USER_NS}
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = o.oid AND d.deptype = 'e')`;

export async function relations(c: pg.Client): Promise<Map<string, Relation>> {
  const rows = (
    await c.query<{
      oid: string;
      kind: string;
      schema: string;
      name: string;
      filenode: string | null;
      bytes: string | null;
    }>(RELATIONS_SQL)
  ).rows;
  return new Map(
    rows.map((r) => [
      r.oid,
      {
        oid: r.oid,
        kind: r.kind,
        table: tableName(r.schema, r.name),
        filenode: r.filenode,
        bytes: Number(r.bytes ?? 0),
      },
    ]),
  );
}

/** The database's structure and relations, read on one connection. */
export async function snapshot(c: pg.Client): Promise<Snapshot> {
  return { structure: await structureLines(c), relations: await relations(c) };
}
