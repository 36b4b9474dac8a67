import type pg from 'pg';

/** Objects that belong to extensions are the extension's business, not the schema's. */
const NOT_EXTENSION = (classid: string, objid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${objid} AND d.deptype = 'e')`;
const USER_NS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;

const QUERIES: string[] = [
  `SELECT 'schema ' || n.nspname AS line FROM pg_namespace n WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_namespace', 'n.oid')}`,
  `SELECT 'extension ' || e.extname AS line FROM pg_extension e WHERE e.extname <> 'plpgsql'`,
  `SELECT CASE c.relkind WHEN 'r' THEN 'table ' WHEN 'p' THEN 'table ' WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view '
          WHEN 'f' THEN 'foreign table ' END || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS line
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_NS} AND ${NOT_EXTENSION('pg_class', 'c.oid')}`,
  `SELECT 'column ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname) || ' '
          || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
          || CASE WHEN a.attidentity <> '' THEN ' identity' ELSE '' END
          || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END
          || coalesce(CASE WHEN a.attgenerated <> '' THEN ' as ' ELSE ' default ' END || pg_get_expr(ad.adbin, ad.adrelid), '') AS line
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_NS}
      AND ${NOT_EXTENSION('pg_class', 'c.oid')}`,
  `SELECT 'index ' || quote_ident(n.nspname) || '.' || quote_ident(ic.relname) || ': ' || pg_get_indexdef(i.indexrelid) AS line
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
    WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_class', 'i.indrelid')}`,
  `SELECT 'constraint ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(k.conname) || ': '
          || pg_get_constraintdef(k.oid) AS line
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_class', 'c.oid')}
      -- PostgreSQL 18 catalogs NOT NULL as constraints too; the column lines say NOT NULL on every major.
      AND k.contype <> 'n'`,
  `SELECT 'sequence ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || format_type(s.seqtypid, NULL) AS line
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_class', 'c.oid')}`,
  `SELECT 'function ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')'
          || coalesce(' returns ' || pg_get_function_result(p.oid), '')
          || ' definition ' || left(md5(CASE WHEN p.prokind = 'a' THEN p.prosrc ELSE pg_get_functiondef(p.oid) END), 12) AS line
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_proc', 'p.oid')}`,
  `SELECT 'enum ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ' ('
          || string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) || ')' AS line
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
    WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_type', 't.oid')}
    GROUP BY n.nspname, t.typname`,
  `SELECT 'domain ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ' ' || format_type(t.typbasetype, t.typtypmod)
          || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END || coalesce(' default ' || t.typdefault, '') AS line
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typtype = 'd' AND ${USER_NS} AND ${NOT_EXTENSION('pg_type', 't.oid')}`,
  `SELECT 'constraint ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || '.' || quote_ident(k.conname) || ': '
          || pg_get_constraintdef(k.oid) AS line
     FROM pg_constraint k JOIN pg_type t ON t.oid = k.contypid JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_type', 't.oid')}`,
  `SELECT 'trigger ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(t.tgname) || ': '
          || pg_get_triggerdef(t.oid) AS line
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT t.tgisinternal AND ${USER_NS}`,
];

/** The restored database's structure, one sorted line per object (catalog facts only, no rows). */
export async function structureLines(client: pg.Client): Promise<string[]> {
  const lines: string[] = [];
  for (const q of QUERIES) {
    const r = await client.query<{ line: string }>(q);
    for (const row of r.rows) lines.push(row.line.replace(/\s+/g, ' ').trim());
  }
  return [...new Set(lines)].sort();
}

export function parseReference(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

export function renderReference(lines: string[], header: string): string {
  return `# ${header}\n# Written by restorable drill --write-reference: one line per object, sorted.\n${lines.join('\n')}\n`;
}

export function diffStructure(
  reference: string[],
  actual: string[],
): { missing: string[]; unexpected: string[] } {
  const have = new Set(actual);
  const want = new Set(reference);
  return { missing: reference.filter((l) => !have.has(l)), unexpected: actual.filter((l) => !want.has(l)) };
}
