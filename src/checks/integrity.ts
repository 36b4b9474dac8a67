import type pg from 'pg';
import { ident } from '../postgres/client.js';
import { type Finding, finding } from '../report/findings.js';

const STAGE = 'integrity';

/** Sequences and the integer columns they feed: owned-by links, identity columns, nextval() defaults. */
const SEQUENCE_LINKS = `
  SELECT DISTINCT seq.oid::regclass::text AS seq, s.seqincrement::bigint AS inc, tn.nspname AS schema,
         t.relname AS tbl, a.attname AS col
    FROM (
      SELECT d.objid AS seqid, d.refobjid AS relid, d.refobjsubid AS attnum
        FROM pg_depend d
       WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
      UNION
      SELECT (regexp_match(pg_get_expr(ad.adbin, ad.adrelid), 'nextval\\(''([^'']+)''::regclass\\)'))[1]::regclass::oid,
             ad.adrelid, ad.adnum
        FROM pg_attrdef ad
       WHERE pg_get_expr(ad.adbin, ad.adrelid) LIKE 'nextval(%'
    ) link
    JOIN pg_class seq ON seq.oid = link.seqid AND seq.relkind = 'S'
    JOIN pg_sequence s ON s.seqrelid = seq.oid
    JOIN pg_class t ON t.oid = link.relid JOIN pg_namespace tn ON tn.oid = t.relnamespace
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = link.attnum
   WHERE a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)`;

/**
 * A sequence whose next value is not above max() of its column makes the next insert collide.
 * `only`: check just these sequences (the live database's, for those behind in the restore).
 */
export async function checkSequences(
  c: pg.Client,
  only?: ReadonlySet<string>,
): Promise<{ findings: Finding[]; checked: number }> {
  const links = (
    await c.query<{ seq: string; inc: string; schema: string; tbl: string; col: string }>(SEQUENCE_LINKS)
  ).rows.filter((l) => !only || only.has(l.seq));
  const findings: Finding[] = [];
  for (const l of links) {
    if (Number(l.inc) <= 0) continue; // descending sequences feed columns downwards; not compared
    const s = (
      await c.query<{ last_value: string; is_called: boolean }>(`SELECT last_value, is_called FROM ${l.seq}`)
    ).rows[0];
    const m = (
      await c.query<{ m: string | null }>(
        `SELECT max(${ident(l.col)})::text AS m FROM ${ident(l.schema)}.${ident(l.tbl)}`,
      )
    ).rows[0];
    if (!s || m?.m == null) continue;
    const next = BigInt(s.last_value) + (s.is_called ? BigInt(l.inc) : 0n);
    const max = BigInt(m.m.split('.')[0] as string);
    if (next <= max) {
      findings.push(
        finding(
          'SEQUENCE_BEHIND',
          STAGE,
          `sequence ${l.seq} would hand out ${next}, but ${l.schema}.${l.tbl}.${l.col} already holds ${max}`,
          {
            evidence: {
              sequence: l.seq,
              table: `${l.schema}.${l.tbl}`,
              column: l.col,
              next: String(next),
              max: String(max),
            },
            fix: `SELECT setval('${l.seq}', (SELECT max(${ident(l.col)}) FROM ${ident(l.schema)}.${ident(l.tbl)})); then find out how the dump missed it.`,
          },
        ),
      );
    }
  }
  return { findings, checked: links.length };
}

/** Validate NOT VALID check and foreign-key constraints on the restored copy (it is disposable). */
export async function validateConstraints(c: pg.Client): Promise<{ findings: Finding[]; checked: number }> {
  const rows = (
    await c.query<{ rel: string; name: string }>(
      `SELECT conrelid::regclass::text AS rel, conname AS name FROM pg_constraint
        WHERE NOT convalidated AND contype IN ('c', 'f') ORDER BY 1, 2`,
    )
  ).rows;
  const findings: Finding[] = [];
  for (const r of rows) {
    try {
      await c.query(`ALTER TABLE ${r.rel} VALIDATE CONSTRAINT ${ident(r.name)}`);
    } catch (e) {
      findings.push(
        finding(
          'CONSTRAINT_INVALID',
          STAGE,
          `NOT VALID constraint ${r.name} on ${r.rel} does not hold: ${(e as Error).message}`,
          {
            evidence: { table: r.rel, constraint: r.name },
          },
        ),
      );
    }
  }
  return { findings, checked: rows.length };
}

/**
 * amcheck made for `role` by a superuser (`c`), when the drill's checks run as a role that may not
 * make it: in a schema of its own (no schema the dump wrote into: an extension's script runs as a
 * superuser), with the right to run bt_index_check. Amcheck already there (the dump's) is granted.
 */
export async function offerAmcheck(c: pg.Client, role: string): Promise<void> {
  await c.query('SET search_path = pg_catalog');
  const have = await c.query("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'");
  if (have.rowCount === 0) {
    await c.query('CREATE SCHEMA restorable_amcheck');
    await c.query('CREATE EXTENSION amcheck WITH SCHEMA restorable_amcheck');
  }
  const schema = await amcheckSchema(c);
  await c.query(`GRANT USAGE ON SCHEMA ${ident(schema)} TO ${ident(role)}`);
  await c.query(
    `GRANT EXECUTE ON FUNCTION ${ident(schema)}.bt_index_check(regclass, boolean) TO ${ident(role)}`,
  );
}

/** The schema amcheck is in (installed). */
async function amcheckSchema(c: pg.Client): Promise<string> {
  const r = await c.query<{ s: string }>(
    "SELECT n.nspname AS s FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'",
  );
  return r.rows[0]?.s as string;
}

/** amcheck's bt_index_check on every valid B-tree index. Undefined when amcheck cannot be had. */
export async function checkIndexes(
  c: pg.Client,
): Promise<{ findings: Finding[]; checked: number } | undefined> {
  try {
    await c.query('CREATE EXTENSION IF NOT EXISTS amcheck');
  } catch {
    return undefined;
  }
  const where = await amcheckSchema(c);
  const idx = (
    await c.query<{ oid: number; name: string }>(
      `SELECT i.indexrelid::int AS oid, i.indexrelid::regclass::text AS name
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
         JOIN pg_namespace n ON n.oid = ic.relnamespace
        WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 2`,
    )
  ).rows;
  const findings: Finding[] = [];
  for (const i of idx) {
    try {
      await c.query(`SELECT ${ident(where)}.bt_index_check($1::regclass, true)`, [i.oid]);
    } catch (e) {
      findings.push(
        finding('INDEX_CORRUPT', STAGE, `index ${i.name}: ${(e as Error).message}`, {
          evidence: { index: i.name },
        }),
      );
    }
  }
  return { findings, checked: idx.length };
}

const UNVERSIONED = /^(c|posix|c\.utf-?8)$/i;

/** The restored database's collation: its libc locale, and its ICU locale when ICU sorts it. */
export interface TargetCollation {
  collate?: string;
  /** `icu` when the database's provider is ICU (PostgreSQL 15+), else `libc`. */
  provider?: string;
  icuLocale?: string;
}

/**
 * The dump records its database's locale but not the collation version. The target was created
 * with that locale (and provider); say when it could not be, and when the version cannot be compared.
 */
export function checkCollation(
  dumped: { locale?: string; collate?: string; provider?: string; icuLocale?: string } | undefined,
  target: TargetCollation | undefined,
): Finding[] {
  if (dumped?.provider?.toLowerCase() === 'icu' && dumped.icuLocale) {
    const want = dumped.icuLocale;
    const got = target?.provider === 'icu' ? target.icuLocale : undefined;
    if (got?.toLowerCase() !== want.toLowerCase()) {
      const has = got ? `ICU locale ${got}` : `libc locale ${target?.collate ?? 'unknown'}`;
      return [
        finding(
          'COLLATION_MISMATCH',
          STAGE,
          `the dumped database sorts by ICU locale ${want}, but the target sorts by ${has}: text indexes and ORDER BY may differ`,
          {
            evidence: { dumped: `icu ${want}`, target: got ? `icu ${got}` : (target?.collate ?? null) },
            fix: 'Drill on a PostgreSQL 15 or newer built with ICU (the PGDG and Debian packages are), so the database is created with the same ICU locale.',
          },
        ),
      ];
    }
    return [
      finding(
        'COLLATION_UNVERIFIABLE',
        STAGE,
        `the dump does not record the version of ICU collation ${want}, so the target's ICU cannot be compared with production's`,
      ),
    ];
  }
  const want = dumped?.collate ?? dumped?.locale;
  const targetCollate = target?.collate;
  if (!want) {
    return [
      finding(
        'COLLATION_UNVERIFIABLE',
        STAGE,
        'the dump does not record its database locale (a plain dump, or a schema-only one)',
      ),
    ];
  }
  if (targetCollate && targetCollate.toLowerCase() !== want.toLowerCase()) {
    return [
      finding(
        'COLLATION_MISMATCH',
        STAGE,
        `the dumped database sorts by ${want}, but the target has ${targetCollate}: text indexes and ORDER BY may differ`,
        {
          evidence: { dumped: want, target: targetCollate },
          fix: `Install the ${want} locale on the runner (locale-gen) so the drill restores with the same collation.`,
        },
      ),
    ];
  }
  if (UNVERSIONED.test(want)) return [];
  return [
    finding(
      'COLLATION_UNVERIFIABLE',
      STAGE,
      `the dump does not record the version of collation ${want}, so the target's C library cannot be compared with production's`,
    ),
  ];
}

/**
 * SEQUENCE_BEHIND in the restore, told whether the live database (a compare source) has the same
 * problem: then it is the database's bug, which the dump copied faithfully, not the backup's.
 */
export function sequencesAgainstLive(restored: Finding[], live: Finding[]): Finding[] {
  const liveBehind = new Map(live.map((f) => [String(f.evidence?.sequence), f]));
  return restored.map((f) => {
    if (f.rule !== 'SEQUENCE_BEHIND') return f;
    const same = liveBehind.get(String(f.evidence?.sequence));
    if (!same)
      return {
        ...f,
        message: `${f.message}; the live database's sequence is ahead of its column, so the dump caught it behind (taken while rows were inserted, or restored over an old schema)`,
        evidence: { ...f.evidence, liveBehind: false },
      };
    return {
      ...f,
      message: `${f.message}; the live database has the same problem (it would hand out ${same.evidence?.next}, its column holds ${same.evidence?.max}): the database's bug, not the backup's`,
      evidence: { ...f.evidence, liveBehind: true },
      fix: `On the live database: ${same.fix ?? ''}`,
    };
  });
}
