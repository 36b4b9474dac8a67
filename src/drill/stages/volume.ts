import { rowsLost } from '../../checks/rows.js';
import { parseTolerance } from '../../config/restorable.js';
import { withClient } from '../../postgres/client.js';
import { countRows, partitionCounts } from '../../postgres/tables.js';
import { type Finding, finding } from '../../report/findings.js';
import type { HistoryEntry } from '../../report/history.js';
import type { TargetedDrill } from '../context.js';

/**
 * The volume rung: every table's rows counted; tier full holds them to what the dump recorded, every
 * tier to the config's minimums, and tier full to the last good run within the tolerance.
 */
export async function volumeStage(t: TargetedDrill): Promise<void> {
  const { pipe, opts, conn, result } = t;
  if (opts.tier === 'schema') {
    pipe.skip('volume', 'NOT RUN: tier SCHEMA restores no rows');
    return;
  }
  await pipe.stage('volume', async () => {
    // The sample tier counts, and holds to their minimums, only the tables it restored rows for.
    const sampled = (table: string) => opts.tier !== 'sample' || opts.sampleTables.includes(table);
    const known = t.counted ?? new Map<string, number>();
    const all = await countRows(conn, opts.jobs, known);
    const counts = all.filter((c) => sampled(c.table));
    result.counts = counts;
    result.rows = counts.reduce((n, c) => n + c.rows, 0);
    const byTable = new Map(counts.map((c) => [c.table, c.rows]));
    const findings: Finding[] = [];
    // Only tier full restores every row the dump holds.
    const dumped = result.backup?.tableRows;
    if (opts.tier === 'full' && dumped)
      findings.push(...(await withClient(conn, (c) => rowsLost(c, dumped, counts, 'volume'))));
    const minimums = Object.entries(opts.config.volume?.tables ?? {}).filter(([table]) => sampled(table));
    const parts = await partitionCounts(
      conn,
      minimums.map(([table]) => table).filter((table) => !byTable.has(table)),
    );
    for (const [table, rule] of minimums) {
      const n = byTable.get(table) ?? parts.get(table);
      if (n === undefined)
        findings.push(
          finding(
            'VOLUME_TABLE_MISSING',
            'volume',
            `table ${table} (named in the config) is not in the restored database`,
            { evidence: { table } },
          ),
        );
      else if (n < rule.min) {
        findings.push(
          finding(
            'VOLUME_BELOW_MINIMUM',
            'volume',
            `table ${table} has ${n} rows; at least ${rule.min} expected`,
            {
              evidence: { table, rows: n, min: rule.min },
            },
          ),
        );
      }
    }
    if (t.previous && opts.tier === 'full') findings.push(...drift(t, t.previous, byTable));
    const early = counts.filter((c) => known.has(c.table)).length;
    return early > 0
      ? { findings, note: `${early} of ${counts.length} counted as the restore ran` }
      : { findings };
  });
}

/** Tables of the last good run that are gone, or shrank by more than the config's tolerance. */
function drift(t: TargetedDrill, previous: HistoryEntry, byTable: Map<string, number>): Finding[] {
  const findings: Finding[] = [];
  const tol = t.opts.config.volume?.tolerance ?? parseTolerance('5%');
  const on = previous.at.slice(0, 10);
  for (const [table, before] of Object.entries(previous.rows)) {
    const now = byTable.get(table);
    if (now === undefined) {
      findings.push(
        finding(
          'VOLUME_TABLE_MISSING',
          'volume',
          `table ${table} was in the last good run (${on}) and is gone`,
          {
            evidence: { table, before },
          },
        ),
      );
      continue;
    }
    const allowed = tol?.kind === 'percent' ? (before * tol.value) / 100 : (tol?.value ?? 0);
    if (before - now > allowed) {
      findings.push(
        finding(
          'VOLUME_DRIFT',
          'volume',
          `table ${table} has ${now} rows, ${before - now} fewer than the last good run (${before} on ${on})`,
          { evidence: { table, rows: now, before } },
        ),
      );
    }
  }
  return findings;
}
