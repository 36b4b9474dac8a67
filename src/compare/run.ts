import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { diffStructure, structureLines } from '../checks/structure.js';
import { errorMessage, UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Tolerance } from '../drill/config.js';
import { type ConnInfo, maskedUrl, withClient } from '../postgres/client.js';
import { exactCounts, filterTables, freshness, listTables, type TableStat } from '../postgres/tables.js';
import { type Finding, finding } from '../report/findings.js';
import type { Reportable } from '../report/render.js';
import { Pipeline, type StageResult } from '../report/stages.js';
import type { CompareOptions } from './options.js';

type Mode = 'exact' | 'estimate';

interface Side {
  counts: Map<string, { rows: number; mode: Mode }>;
  structure?: string[];
  freshness?: Map<string, string | null>;
}

export interface CompareRow {
  table: string;
  source: number | null;
  target: number | null;
  difference: number | null;
  mode: Mode;
  drifted: boolean;
  sourceMax?: string | null;
  targetMax?: string | null;
}

export interface CompareResult extends Reportable {
  command: 'compare';
  source: string;
  target: string;
  rows: CompareRow[];
  compared: number;
  drifted: number;
  missing: number;
  baselineWritten?: string;
}

const baselineSchema = z.object({
  restorable: z.literal('baseline'),
  version: z.literal(1),
  takenAt: z.string(),
  source: z.string(),
  tables: z.record(z.string(), z.object({ rows: z.number(), mode: z.enum(['exact', 'estimate']) })),
  structure: z.array(z.string()).optional(),
});

/** The live source is read through a session that cannot write, and gives up rather than wait on locks. */
const READ_ONLY = '-c default_transaction_read_only=on -c statement_timeout=600000 -c lock_timeout=5000';

function readBaseline(file: string): Side & { takenAt: string; source: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(
      'baseline',
      `${file} is not JSON (${errorMessage(e)})`,
      'Give a file written by write-baseline',
    );
  }
  const r = baselineSchema.safeParse(raw);
  if (!r.success)
    throw new UserError(
      'baseline',
      `${file} is not a Restorable baseline`,
      'Give a file written by write-baseline',
    );
  return {
    takenAt: r.data.takenAt,
    source: r.data.source,
    counts: new Map(Object.entries(r.data.tables)),
    ...(r.data.structure ? { structure: r.data.structure } : {}),
  };
}

/** Decide per table: exact below the limit (or with no statistics), estimated above. */
function modeFor(opts: CompareOptions, estimate: number): Mode {
  if (opts.mode === 'exact') return 'exact';
  if (opts.mode === 'estimate') return 'estimate';
  return estimate < 0 || estimate < opts.exactLimit ? 'exact' : 'estimate';
}

async function readSide(conn: ConnInfo, opts: CompareOptions, modes: (t: TableStat) => Mode): Promise<Side> {
  const tables = filterTables(await withClient(conn, listTables), opts);
  const exact = tables.filter((t) => modes(t) === 'exact');
  const counted = await exactCounts(conn, exact, opts.jobs);
  const counts = new Map<string, { rows: number; mode: Mode }>();
  for (const t of tables) {
    const n = counted.get(t.table);
    counts.set(
      t.table,
      n !== undefined ? { rows: n, mode: 'exact' } : { rows: Math.max(0, t.estimate), mode: 'estimate' },
    );
  }
  const side: Side = { counts };
  if (opts.structure) side.structure = await withClient(conn, structureLines);
  if (opts.freshnessColumn) side.freshness = await freshness(conn, tables, opts.freshnessColumn);
  return side;
}

function allowed(t: Tolerance, source: number): number {
  return t.kind === 'percent' ? (source * t.value) / 100 : t.value;
}

/** compare-counts: counts and structure of the source (live, read-only, or a baseline) against the target. */
export async function runCompare(
  opts: CompareOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): Promise<CompareResult> {
  const pipe = Pipeline.withConfig(opts.failOn, opts.config.ignore, onStage);
  const result: CompareResult = {
    ...pipe.begin('compare'),
    source: opts.source ? maskedUrl(opts.source) : (opts.baseline ?? ''),
    target: opts.target ? maskedUrl(opts.target) : '',
    rows: [],
    compared: 0,
    drifted: 0,
    missing: 0,
  };
  let source: Side | undefined;
  await pipe.stage('source', async () => {
    if (!opts.source) {
      const b = readBaseline(opts.baseline);
      source = b;
      log.info(`baseline of ${b.source}, taken ${b.takenAt}`);
      return {};
    }
    const conn = { ...opts.source, options: READ_ONLY };
    try {
      const ro = await withClient(
        conn,
        async (c) =>
          (await c.query<{ v: string }>("SELECT current_setting('default_transaction_read_only') AS v"))
            .rows[0]?.v,
      );
      if (ro !== 'on') {
        throw new UserError(
          'source-url',
          'did not take a read-only session',
          'Connect to PostgreSQL directly, not through a pooler that drops startup options',
        );
      }
      source = await readSide(conn, opts, (t) => modeFor(opts, t.estimate));
    } catch (e) {
      if (e instanceof UserError) throw e;
      if (/options|startup parameter/i.test(errorMessage(e))) {
        throw new UserError(
          'source-url',
          `refused a read-only session (${errorMessage(e)})`,
          'Connect to PostgreSQL directly, not through a pooler that drops startup options',
        );
      }
      return {
        findings: [
          finding('SOURCE_UNREACHABLE', 'source', `could not read ${result.source}: ${errorMessage(e)}`),
        ],
      };
    }
    if (opts.writeBaseline) {
      const tables = Object.fromEntries([...source.counts].map(([k, v]) => [k, v]));
      const body = {
        restorable: 'baseline',
        version: 1,
        takenAt: new Date().toISOString(),
        source: result.source,
        tables,
        ...(source.structure ? { structure: source.structure } : {}),
      };
      fs.mkdirSync(path.dirname(opts.writeBaseline), { recursive: true });
      fs.writeFileSync(opts.writeBaseline, `${JSON.stringify(body, null, 2)}\n`);
      result.baselineWritten = opts.writeBaseline;
      log.info(`wrote the baseline (${source.counts.size} tables) to ${opts.writeBaseline}`);
    }
    return {};
  });
  const targetConn = opts.target;
  if (!targetConn) {
    pipe.skip('target', 'no target-url: only the baseline was written');
    pipe.skip('counts', 'no target');
    pipe.skip('structure', 'no target');
    return pipe.settle(result);
  }
  if (!source) {
    for (const s of ['target', 'counts', 'structure']) pipe.skip(s, 'the source could not be read');
    return pipe.settle(result);
  }
  const src = source;
  let target: Side | undefined;
  await pipe.stage('target', async () => {
    try {
      // The target counts a table the way the source did, so the two numbers are comparable.
      target = await readSide(
        targetConn,
        opts,
        (t) => src.counts.get(t.table)?.mode ?? modeFor(opts, t.estimate),
      );
      return {};
    } catch (e) {
      return {
        findings: [
          finding('TARGET_UNREACHABLE', 'target', `could not read ${result.target}: ${errorMessage(e)}`),
        ],
      };
    }
  });
  if (!target) {
    pipe.skip('counts', 'the target could not be read');
    pipe.skip('structure', 'the target could not be read');
    return pipe.settle(result);
  }
  const tgt = target;
  await pipe.stage('counts', async () => {
    const findings: Finding[] = [];
    const overrides = opts.config.compare?.tables ?? {};
    const names = [...new Set([...src.counts.keys(), ...tgt.counts.keys()])].sort();
    const estimated: string[] = [];
    for (const table of names) {
      const s = src.counts.get(table);
      const t = tgt.counts.get(table);
      const mode: Mode = s?.mode === 'estimate' || t?.mode === 'estimate' ? 'estimate' : 'exact';
      if (mode === 'estimate') estimated.push(table);
      const row: CompareRow = {
        table,
        source: s?.rows ?? null,
        target: t?.rows ?? null,
        difference: s && t ? t.rows - s.rows : null,
        mode,
        drifted: false,
        ...(src.freshness?.has(table) ? { sourceMax: src.freshness.get(table) ?? null } : {}),
        ...(tgt.freshness?.has(table) ? { targetMax: tgt.freshness.get(table) ?? null } : {}),
      };
      if (s && !t) {
        findings.push(
          finding(
            'TABLE_MISSING',
            'counts',
            `table ${table} (${s.rows} rows in the source) is not in the target`,
            { evidence: { table, source: s.rows } },
          ),
        );
        result.missing++;
      } else if (!s && t) {
        findings.push(
          finding('TABLE_UNEXPECTED', 'counts', `table ${table} is in the target but not in the source`, {
            evidence: { table, target: t.rows },
          }),
        );
      } else if (s && t) {
        const tol = overrides[table]?.tolerance ?? opts.tolerance;
        const limit = allowed(tol, s.rows);
        const diff = t.rows - s.rows;
        const drift = opts.direction === 'drop' ? -diff > limit : Math.abs(diff) > limit;
        if (drift) {
          row.drifted = true;
          result.drifted++;
          findings.push(
            finding(
              'COUNT_DRIFT',
              'counts',
              `table ${table}: ${t.rows} rows in the target, ${s.rows} in the source (${diff > 0 ? '+' : ''}${diff}, ${mode})`,
              {
                evidence: { table, source: s.rows, target: t.rows, difference: diff, mode },
              },
            ),
          );
        }
      }
      result.rows.push(row);
    }
    result.compared = result.rows.filter((r) => r.source !== null && r.target !== null).length;
    result.rows.sort(
      (a, b) =>
        Number(b.drifted) - Number(a.drifted) ||
        Number(b.target === null) - Number(a.target === null) ||
        (a.table < b.table ? -1 : 1),
    );
    if (estimated.length) {
      findings.push(
        finding(
          'COUNT_ESTIMATED',
          'counts',
          `${estimated.length} table(s) compared by catalog statistics, not count(*): ${estimated.slice(0, 5).join(', ')}${estimated.length > 5 ? ', ...' : ''}`,
          {
            evidence: { tables: estimated.length },
          },
        ),
      );
    }
    return { findings };
  });
  if (!opts.structure) pipe.skip('structure', 'structure: false');
  else if (!src.structure) pipe.skip('structure', 'the baseline holds no structure');
  else {
    await pipe.stage('structure', async () => {
      const { missing, unexpected } = diffStructure(src.structure as string[], tgt.structure ?? []);
      const show = (xs: string[]) =>
        xs.slice(0, 5).join('; ') + (xs.length > 5 ? `; and ${xs.length - 5} more` : '');
      const findings: Finding[] = [];
      if (missing.length)
        findings.push(
          finding(
            'STRUCTURE_MISSING',
            'structure',
            `${missing.length} object(s) of the source are missing or differ in the target: ${show(missing)}`,
            { evidence: { missing: missing.length } },
          ),
        );
      if (unexpected.length)
        findings.push(
          finding(
            'STRUCTURE_UNEXPECTED',
            'structure',
            `${unexpected.length} object(s) of the target are not in the source: ${show(unexpected)}`,
            { evidence: { unexpected: unexpected.length } },
          ),
        );
      return { findings };
    });
  }
  return pipe.settle(result);
}

/** The comparison as markdown, drifted rows first. */
export function compareTable(r: CompareResult): string {
  const fresh = r.rows.some((x) => x.sourceMax !== undefined || x.targetMax !== undefined);
  const head = [
    'table',
    'source',
    'target',
    'difference',
    'mode',
    ...(fresh ? ['source max', 'target max'] : []),
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const x of r.rows) {
    const cells = [
      `${x.drifted ? '**' : ''}${x.table}${x.drifted ? '**' : ''}`,
      x.source ?? '—',
      x.target ?? 'missing',
      x.difference === null ? '' : `${x.difference > 0 ? '+' : ''}${x.difference}`,
      x.mode,
      ...(fresh ? [x.sourceMax ?? '', x.targetMax ?? ''] : []),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function compareOutputs(r: CompareResult, reportPath: string): Record<string, string> {
  return {
    verdict: r.verdict,
    compared: String(r.compared),
    drifted: String(r.drifted),
    missing: String(r.missing),
    table: compareTable(r),
    findings: JSON.stringify(r.findings),
    report: reportPath,
  };
}

/** What a compare rung reports in a drill's or PITR drill's result. */
export interface CompareSummary {
  compared: number;
  drifted: number;
  missing: number;
  source: string;
}

/**
 * The compare rung of a drill or a PITR drill: one `compare` stage against the restored target,
 * skipped when neither compare-source-url nor compare-baseline was given.
 */
export async function compareRung(
  pipe: Pipeline,
  opts: CompareOptions | undefined,
  target: ConnInfo,
  log: Logger,
): Promise<CompareSummary | undefined> {
  if (!opts) {
    pipe.skip('compare', 'no compare-source-url or compare-baseline');
    return undefined;
  }
  let summary: CompareSummary | undefined;
  await pipe.stage('compare', async () => {
    const r = await runCompare({ ...opts, target }, log);
    summary = { compared: r.compared, drifted: r.drifted, missing: r.missing, source: r.source };
    const notRun = r.stages.find((s) => s.status === 'not-run');
    return {
      findings: r.findings.map((f) => ({ ...f, stage: 'compare' })),
      ...(notRun?.reason ? { notRun: notRun.reason } : {}),
    };
  });
  return summary;
}
