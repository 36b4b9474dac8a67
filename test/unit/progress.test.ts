import { describe, expect, it } from 'vitest';
import { unpackCap } from '../../src/drill/stages/restore.js';
import { fetchProgressLine } from '../../src/pitr/fetch.js';
import { classifyRestore } from '../../src/postgres/restore.js';
import { RestoreProgress } from '../../src/postgres/restore-progress.js';
import { progressIntervalMs, stageProgress } from '../../src/report/progress.js';

const tables = [
  { schema: 'public', table: 'album', rows: 347 },
  { schema: 'public', table: 'track', rows: 3503 },
  { schema: 'other', table: 'album', rows: 5 },
];

describe('a restore read as it streams (pg_restore --verbose)', () => {
  it('serial: objects done of the TOC, the table loading with its rows', () => {
    const p = new RestoreProgress(6, 0, tables);
    expect(p.describe()).toBe('0 of 6 objects');
    for (const l of [
      'pg_restore: connecting to database for restore',
      'pg_restore: creating TABLE "public.track"',
    ])
      p.line(l);
    p.line('pg_restore: processing data for table "public.track"');
    expect(p.describe()).toBe('2 of 6 objects, loading public.track (3503 rows)');
    p.line('pg_restore: creating INDEX "public.track_idx"');
    expect(p.describe()).toBe('3 of 6 objects');
  });

  it('parallel: items launched and finished; a name two schemas share is not guessed', () => {
    const p = new RestoreProgress(10, 0, tables);
    p.line('pg_restore: processing item 3 ENCODING ENCODING');
    p.line('pg_restore: entering main parallel loop');
    p.line('pg_restore: launching item 21 TABLE DATA track');
    p.line('pg_restore: launching item 22 TABLE DATA album');
    expect(p.describe()).toBe('1 of 10 objects, loading 2 tables, the largest public.track (3503 rows)');
    p.line('pg_restore: finished item 21 TABLE DATA track');
    expect(p.describe()).toBe('2 of 10 objects, loading album');
  });

  it('its lines stay out of what is classified: a table named like an error is no error', () => {
    const hostile = 'pg_restore: creating TABLE "public.x ERROR: y"';
    expect(RestoreProgress.isVerbose(hostile)).toBe(true);
    expect(classifyRestore('restore', hostile, 0, 'pg_restore').findings.map((f) => f.rule)).toEqual([
      'RESTORE_ERROR',
      'EXIT_CODE_LIED',
    ]);
    for (const kept of [
      'pg_restore: error: could not execute query: ERROR:  relation "x" already exists',
      'pg_restore: warning: errors ignored on restore: 1',
      'pg_restore: from TOC entry 215; 1259 16386 TABLE x postgres',
      'pg_restore: while PROCESSING TOC:',
    ])
      expect(RestoreProgress.isVerbose(kept), kept).toBe(false);
  });

  it('psql: bytes of the file read, and the COPY in flight', () => {
    const p = new RestoreProgress(0, 4 * 1024 * 1024, tables);
    p.file = { bytesRead: 1024 * 1024 };
    p.copying = () => 'public.album';
    expect(p.describe()).toBe('read 1.0 MiB of 4.0 MiB, loading public.album (347 rows)');
  });
});

describe('the progress listener', () => {
  it('a line every interval in a log, with the stage and what it has done', async () => {
    const lines: string[] = [];
    const l = stageProgress({ line: (t) => lines.push(t) }, (s) => `${s.name}: ${s.status}`, 100);
    let n = 0;
    l.start?.('read', () => `read ${++n} MiB`);
    await new Promise((r) => setTimeout(r, 350));
    l({ name: 'read', status: 'ok', seconds: 0.35, findings: [] });
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toMatch(/^▸ read +0s {2}read 1 MiB$/);
    expect(lines.at(-1)).toBe('read: ok');
    const count = lines.length;
    await new Promise((r) => setTimeout(r, 250));
    expect(lines.length).toBe(count);
  });

  it('on a terminal: the live line every second, or at the interval when that is shorter', async () => {
    const redraws = async (intervalMs: number) => {
      const drawn: string[] = [];
      const out = { line: () => {}, redraw: (t: string) => drawn.push(t), clear: () => {} };
      const l = stageProgress(out, () => 'end', intervalMs);
      l.start?.('restore', () => 'busy');
      await new Promise((r) => setTimeout(r, 450));
      l({ name: 'restore', status: 'ok', seconds: 0.45, findings: [] });
      return drawn.length;
    };
    // Drawn once at the start; a 10 s log interval keeps the terminal's 1 s, a 100 ms one redraws.
    expect(await redraws(10_000)).toBe(1);
    expect(await redraws(100)).toBeGreaterThanOrEqual(3);
  });

  it('a detail that throws never breaks the run: the line says running', async () => {
    const lines: string[] = [];
    const l = stageProgress({ line: (t) => lines.push(t) }, () => 'end', 100);
    l.start?.('restore', () => {
      throw new Error('boom');
    });
    await new Promise((r) => setTimeout(r, 150));
    l({ name: 'restore', status: 'ok', seconds: 0.15, findings: [] });
    expect(lines[0]).toMatch(/^▸ restore +0s {2}running$/);
  });

  it('the interval from RESTORABLE_PROGRESS_INTERVAL_MS: a whole number of at least 100 ms, else 10 s', () => {
    expect(progressIntervalMs({})).toBe(10_000);
    expect(progressIntervalMs({ RESTORABLE_PROGRESS_INTERVAL_MS: '250' })).toBe(250);
    for (const bad of ['0', '5', '-1', '1e3', 'abc', '99999999999999'])
      expect(progressIntervalMs({ RESTORABLE_PROGRESS_INTERVAL_MS: bad }), bad).toBe(10_000);
  });
});

describe('the cap on an unpacked dump', () => {
  it('the smaller of 1000 times the file and half the free space', () => {
    expect(unpackCap(1024, 100 * 1024 * 1024).limit).toBe(1024 * 1000);
    expect(unpackCap(1024, 100 * 1024 * 1024)).toMatchObject({ byDisk: false });
    expect(unpackCap(1024 * 1024, 100 * 1024 * 1024)).toMatchObject({
      limit: 50 * 1024 * 1024,
      byDisk: true,
      why: expect.stringContaining('half of the 100.0 MiB free when it began'),
    });
    expect(unpackCap(2048, undefined)).toMatchObject({ limit: 2048 * 1000, byDisk: false });
    expect(unpackCap(2048, undefined).why).toContain('1000× its 2.0 KiB compressed size');
  });
});

describe('the fetch stage of a tool backend (pgbackrest restore, barman recover, wal-g backup-fetch)', () => {
  it('bytes written into the data directory of the backup size, when the plan knows it', () => {
    expect(fetchProgressLine(3 * 1024 * 1024, 12 * 1024 * 1024)).toBe(
      'wrote 3.0 MiB of 12.0 MiB (25%) into the data directory',
    );
    expect(fetchProgressLine(3 * 1024 * 1024, 0)).toBe('wrote 3.0 MiB into the data directory');
    // A tool that writes more than it said (its own files beside the backup's): never past 100%.
    expect(fetchProgressLine(13 * 1024 * 1024, 12 * 1024 * 1024)).toMatch(/\(100%\)/);
  });
});
