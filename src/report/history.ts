import fs from 'node:fs';
import path from 'node:path';
import type { Verdict } from './stages.js';

/** One drill, as kept in the history file: durations, row counts and versions, never row values. */
export interface HistoryEntry {
  at: string;
  command: string;
  tier: string;
  verdict: Verdict;
  backup: string;
  serverVersion?: string;
  targetVersion?: string;
  totalSeconds: number;
  stages: Record<string, number>;
  rows: Record<string, number>;
}

/** The history file is JSON lines: append-only, one run a line, easy to keep on a branch or as an artifact. */
export function readHistory(file: string): HistoryEntry[] {
  if (!fs.existsSync(file)) return [];
  const out: HistoryEntry[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as HistoryEntry);
    } catch {
      // A damaged line (a run killed mid-write) is skipped, not fatal.
    }
  }
  return out;
}

export function appendHistory(file: string, entry: HistoryEntry): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.appendFileSync(file, `${JSON.stringify(entry)}\n`);
}

export function lastGood(history: HistoryEntry[], command: string, tier: string): HistoryEntry | undefined {
  return [...history].reverse().find((h) => h.command === command && h.tier === tier && h.verdict === 'pass');
}

/** "19% slower than the last good run (2026-11-01)", or faster, or about the same. */
export function trend(now: number, before: HistoryEntry | undefined): string | undefined {
  if (!before || before.totalSeconds <= 0) return undefined;
  const change = (now - before.totalSeconds) / before.totalSeconds;
  const when = before.at.slice(0, 10);
  if (Math.abs(change) < 0.05) return `about as fast as the last good run (${when})`;
  return `${Math.round(Math.abs(change) * 100)}% ${change > 0 ? 'slower' : 'faster'} than the last good run (${when}, ${before.totalSeconds.toFixed(1)}s)`;
}

/** A small chart of the last runs' total times for the job summary (mermaid, rendered by GitHub). */
export function trendChart(history: HistoryEntry[], command: string, tier: string): string | undefined {
  const runs = history.filter((h) => h.command === command && h.tier === tier).slice(-12);
  if (runs.length < 2) return undefined;
  const labels = runs.map((h) => `"${h.at.slice(5, 10)}"`).join(', ');
  const values = runs.map((h) => h.totalSeconds.toFixed(1)).join(', ');
  return [
    '```mermaid',
    'xychart-beta',
    `  title "drill time (s), ${tier} tier"`,
    `  x-axis [${labels}]`,
    '  y-axis "seconds"',
    `  bar [${values}]`,
    '```',
  ].join('\n');
}
