import { describe, expect, it } from 'vitest';
import { COMMENT_MARKER, migrateComment } from '../../src/migrate/present.js';
import { type MigrateResult, stderrTail } from '../../src/migrate/run.js';
import { finding } from '../../src/report/findings.js';

function result(over: Partial<MigrateResult> = {}): MigrateResult {
  return {
    command: 'migrate',
    verdict: 'pass',
    failOn: 'high',
    startedAt: '2026-11-21T10:00:00.000Z',
    totalSeconds: 3.2,
    stages: [{ name: 'structure', status: 'ok', seconds: 0.1, findings: [] }],
    findings: [],
    database: 'postgresql://postgres@127.0.0.1:5432/app',
    exitCode: 0,
    migrateSeconds: 2.5,
    rewritten: [],
    locks: [],
    lockSamples: 40,
    schemaDiff: { added: [], removed: [] },
    ...over,
  };
}

describe('the migrate-check PR comment', () => {
  it('starts with the hidden marker, whatever the verdict', () => {
    for (const verdict of ['pass', 'fail', 'could-not-verify'] as const) {
      const c = migrateComment(result({ verdict }));
      expect(c.split('\n')[0]).toBe('<!-- restorable:migrate-check -->');
      expect(c.startsWith(COMMENT_MARKER)).toBe(true);
      expect(c.split(COMMENT_MARKER)).toHaveLength(2);
    }
  });

  it('says when nothing changed, and lists findings, locks and rewrites when something did', () => {
    expect(migrateComment(result())).toMatch(/No findings\.[\s\S]*The schema did not change\./);
    const c = migrateComment(
      result({
        verdict: 'fail',
        exitCode: 1,
        rewritten: [{ table: 'public.orders', bytes: 8 * 1024 * 1024 }],
        locks: [{ table: 'public.orders', seconds: 12.5 }],
        schemaDiff: {
          added: ['column public.orders.c text'],
          removed: ['index public.orders_x: CREATE ...'],
        },
        stderrTail: 'ERROR: boom | with a pipe',
        findings: [
          finding(
            'MIGRATION_FAILED',
            'migrate',
            'the migrate command exited 1; the end:\nERROR: boom | pipe',
          ),
        ],
      }),
    );
    expect(c).toMatch(/❌ FAIL/);
    expect(c).toMatch(/\| migrate \| exit 1 in 2\.50s \|/);
    expect(c).toMatch(/\| rewritten \| public\.orders \(8\.0 MiB\) \|/);
    expect(c).toMatch(/\| longest locks \| public\.orders 12\.5s \|/);
    // One line per finding in the table: the stderr goes in its own block.
    expect(c).toMatch(/\| high \| `MIGRATION_FAILED` \| the migrate command exited 1; the end: \|/);
    expect(c).toMatch(/```text\nERROR: boom \| with a pipe\n```/);
    expect(c).toMatch(
      /```diff\n- index public\.orders_x: CREATE \.\.\.\n\+ column public\.orders\.c text\n```/,
    );
  });

  it('keeps a long schema difference short, and no text can close its fence', () => {
    const added = Array.from({ length: 500 }, (_, i) => `column public.t.c${i} text`);
    const c = migrateComment(
      result({ schemaDiff: { added: [...added, 'function public.f() returns ```'], removed: [] } }),
      50,
    );
    expect(c).toMatch(/# and 451 more lines/);
    expect(c.length).toBeLessThan(10_000);
    const c2 = migrateComment(
      result({ schemaDiff: { added: ['function public.f(```) returns text'], removed: [] } }),
    );
    expect(c2).toMatch(/````diff\n\+ function public\.f\(```\) returns text\n````/);
  });
});

describe('stderrTail', () => {
  it('masks secrets, withholds lines that may quote rows, keeps the last lines', () => {
    const text = [
      ...Array.from({ length: 30 }, (_, i) => `line ${i}`),
      'password s3cret in postgresql://app:s3cret@h/db',
      'ERROR:  duplicate key value violates unique constraint "u_pkey"',
      'DETAIL:  Key (email)=(alice@example.com) already exists.',
      'ERROR:  new row for relation "t" violates check constraint "c"',
      'Failing row contains (1, alice).',
    ].join('\n');
    const tail = stderrTail(text, ['postgresql://app:s3cret@h/db', 's3cret'], 6);
    expect(tail.split('\n')).toEqual([
      'line 29',
      'password *** in ***',
      'ERROR:  duplicate key value violates unique constraint "u_pkey"',
      '[a line that may quote row values, withheld]',
      'ERROR:  new row for relation "t" violates check constraint "c"',
      '[a line that may quote row values, withheld]',
    ]);
    expect(tail).not.toMatch(/alice/);
  });
});
