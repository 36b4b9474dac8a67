import fs from 'node:fs';
import path from 'node:path';
import { appendHistory, type HistoryEntry, trend, trendChart } from '../../report/history.js';
import { junitXml } from '../../report/junit.js';
import type { DrillContext, DrillResult } from '../context.js';

/**
 * The end of a drill: what a partial tier did not check, the verdict, the trend against the last
 * good run, the history entry and the chart, the JUnit file.
 */
export function recordDrill(ctx: DrillContext): DrillResult {
  const { opts, result } = ctx;
  if (opts.tier !== 'full') {
    result.notChecked =
      opts.tier === 'schema'
        ? ['row counts', 'smoke queries', 'sequences', 'NOT VALID constraints']
        : ['rows of tables outside sample-tables', 'smoke queries', 'NOT VALID constraints'];
  }
  ctx.pipe.settle(result);
  const t = trend(result.totalSeconds, ctx.previous);
  if (t) result.trend = t;
  if (opts.history) {
    const entry = historyEntry(ctx);
    appendHistory(opts.history, entry);
    const chart = trendChart([...ctx.history, entry], 'drill', opts.tier);
    if (chart) result.chart = chart;
  }
  if (opts.junit) {
    fs.mkdirSync(path.dirname(path.resolve(opts.junit)), { recursive: true });
    fs.writeFileSync(opts.junit, junitXml(result, 'restorable drill'));
    result.junitPath = path.resolve(opts.junit);
  }
  return result;
}

function historyEntry({ opts, result, pipe }: DrillContext): HistoryEntry {
  return {
    at: result.startedAt,
    command: 'drill',
    tier: opts.tier,
    verdict: result.verdict,
    backup: result.backup?.name ?? '',
    ...(result.backup?.serverVersion ? { serverVersion: result.backup.serverVersion } : {}),
    ...(result.target ? { targetVersion: result.target.version } : {}),
    totalSeconds: Math.round(result.totalSeconds * 100) / 100,
    stages: Object.fromEntries(pipe.stages.map((s) => [s.name, Math.round(s.seconds * 100) / 100])),
    rows: Object.fromEntries((result.counts ?? []).map((c) => [c.table, c.rows])),
  };
}
