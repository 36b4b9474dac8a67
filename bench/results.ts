/**
 * The bench's summary rows as committed data (bench/results.json): each run merges the rows it
 * measured, by metric, stamped with the day and the machine, and `npm run docs` renders the
 * performance table of docs/performance.md from the file, so the table is what a run printed, never typed by hand.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ResultRow {
  metric: string;
  measured: string;
  target: string;
  verdict: string;
  /** The day of the run and the machine it ran on. */
  on: string;
}

export const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results.json');

export function readResults(file = RESULTS): ResultRow[] {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as ResultRow[]) : [];
}

/** Merge a run's rows (metric, measured, target, verdict) into the file; its path. */
export function recordResults(rows: string[][], file = RESULTS): string {
  const on = `${new Date().toISOString().slice(0, 10)}, ${os.availableParallelism()} cores`;
  const merged = new Map(readResults(file).map((r) => [r.metric, r]));
  for (const [metric = '', measured = '', target = '', verdict = ''] of rows)
    merged.set(metric, { metric, measured, target, verdict: verdict.replace(/\s*<+$/, ''), on });
  fs.writeFileSync(file, `${JSON.stringify([...merged.values()], null, 2)}\n`);
  return file;
}

/** The table of the recorded rows in docs/performance.md. */
export function resultsTable(rows: ResultRow[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| measured | result | target | | run |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) => `| ${cell(r.metric)} | ${cell(r.measured)} | ${cell(r.target)} | ${r.verdict} | ${r.on} |`,
    ),
  ].join('\n');
}
