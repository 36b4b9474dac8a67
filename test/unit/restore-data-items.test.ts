import { describe, expect, it } from 'vitest';
import { type DataItem, RestoreProgress } from '../../src/postgres/restore-progress.js';

/** The data items a restore's --verbose lines tell of, in order. */
function told(tables: { schema: string; table: string; rows: number }[], lines: string[]): string[] {
  const p = new RestoreProgress(10, 0, tables);
  const out: string[] = [];
  p.onData = {
    started: (t: DataItem) => out.push(`start ${t.table}`),
    finished: (t: DataItem) => out.push(`done ${t.table}`),
  };
  for (const l of lines) p.line(l);
  return out;
}

const tables = [
  { schema: 'public', table: 'album', rows: 3 },
  { schema: 'public', table: 'Track', rows: 5 },
  { schema: 'a', table: 'dup', rows: 1 },
  { schema: 'b', table: 'dup', rows: 1 },
];

describe("a restore's data items, from pg_restore --verbose", () => {
  it('parallel: a table is done at its finished item, not when another finishes', () => {
    expect(
      told(tables, [
        'pg_restore: processing item 200 TABLE album',
        'pg_restore: launching item 301 TABLE DATA album',
        'pg_restore: launching item 302 TABLE DATA Track',
        'pg_restore: finished item 302 TABLE DATA Track',
        'pg_restore: launching item 303 INDEX album_pkey',
        'pg_restore: finished item 301 TABLE DATA album',
      ]),
    ).toEqual(['start public.album', 'start public."Track"', 'done public."Track"', 'done public.album']);
  });

  it('serial: a table is done when the next step begins; the last one is not told', () => {
    expect(
      told(tables, [
        'pg_restore: creating TABLE "public.album"',
        'pg_restore: processing data for table "public.album"',
        'pg_restore: processing data for table "public.Track"',
        'pg_restore: creating INDEX "public.album_pkey"',
        'pg_restore: processing data for table "public.album"',
      ]),
    ).toEqual([
      'start public.album',
      'done public.album',
      'start public."Track"',
      'done public."Track"',
      'start public.album',
    ]);
  });

  it('a name two schemas share in a parallel restore is not told at all', () => {
    expect(
      told(tables, [
        'pg_restore: processing item 1 SCHEMA a',
        'pg_restore: launching item 301 TABLE DATA dup',
        'pg_restore: finished item 301 TABLE DATA dup',
      ]),
    ).toEqual([]);
    expect(
      told(tables, ['pg_restore: processing data for table "a.dup"', 'pg_restore: executing SEQUENCE SET x']),
    ).toEqual(['start a.dup', 'done a.dup']);
  });
});
