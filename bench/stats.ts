/** Small helpers for timing and printing the bench's numbers. */
import fs from 'node:fs';

export const MiB = 1024 * 1024;

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Seconds taken by `fn`, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - started) / 1000, value };
}

export const fmtS = (s: number) => `${s.toFixed(2)} s`;
export const fmtMiB = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
export const rate = (bytes: number, seconds: number) => `${(bytes / MiB / seconds).toFixed(0)} MiB/s`;
export const fmtX = (r: number) => `${r.toFixed(2)}x`;
export const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS  <<<');

/** A row list printed as aligned columns. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, c] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * The machine's CPU time from now on (Linux /proc/stat, all cores, all processes): call the returned
 * function to get how many core-seconds were busy since, and that as a share of all cores' time.
 * Undefined where /proc/stat is missing.
 */
export function cpuSince(): (() => { busy: number; share: number }) | undefined {
  const read = (): { busy: number; total: number } | undefined => {
    try {
      const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
      // cpu  user nice system idle iowait irq softirq steal ...; steal is time the host took away.
      const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
      const total = ticks.reduce((a, b) => a + b, 0);
      return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0) - (ticks[7] ?? 0), total };
    } catch {
      return undefined;
    }
  };
  const start = read();
  if (!start) return undefined;
  const hz = 100; // USER_HZ: /proc/stat counts in 1/100 s on Linux
  return () => {
    const end = read() ?? start;
    const total = end.total - start.total;
    return { busy: (end.busy - start.busy) / hz, share: total > 0 ? (end.busy - start.busy) / total : 0 };
  };
}
