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
          || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END AS line
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_NS}
      AND ${NOT_EXTENSION('pg_class', 'c.oid')}`,
  `SELECT 'index ' || quote_ident(n.nspname) || '.' || quote_ident(ic.relname) || ': ' || pg_get_indexdef(i.indexrelid) AS line
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
    WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_class', 'i.indrelid')}`,
  `SELECT 'constraint ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(k.conname) || ': '
          || pg_get_constraintdef(k.oid) AS line
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_class', 'c.oid')}`,
  `SELECT 'sequence ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || format_type(s.seqtypid, NULL) AS line
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_class', 'c.oid')}`,
  `SELECT 'function ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')'
          || coalesce(' returns ' || pg_get_function_result(p.oid), '') AS line
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE ${USER_NS} AND ${NOT_EXTENSION('pg_proc', 'p.oid')}`,
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
