import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCollation } from '../../src/checks/integrity.js';
import { loadConfig, meets, parseExpectation, parseTolerance } from '../../src/config/restorable.js';
import { classifyRestore } from '../../src/postgres/restore.js';
import { trend } from '../../src/report/history.js';
import { junitXml } from '../../src/report/junit.js';

const rules = (fs: { rule: string }[]) => fs.map((f) => f.rule).sort();

describe('classifying pg_restore stderr', () => {
  it('a clean restore says nothing, whatever the verbose chatter', () => {
    expect(
      classifyRestore(
        'restore',
        'pg_restore: creating TABLE "public.album"\npg_restore: processing data for table "public.album"\n',
        0,
        'pg_restore 15',
      ),
    ).toMatchObject({ findings: [], errors: 0 });
  });
  it('roles, extensions, truncation, other errors, and warnings', () => {
    const stderr = [
      'pg_restore: error: could not execute query: ERROR:  role "app_owner" does not exist',
      'Command was: ALTER TABLE public.orders OWNER TO app_owner;',
      'pg_restore: error: could not execute query: ERROR:  could not open extension control file "/usr/share/postgresql/15/extension/postgis.control": No such file or directory',
      'pg_restore: error: could not execute query: ERROR:  syntax error at or near "FROB"',
      'pg_restore: error: could not read from input file: end of file',
      'pg_restore: warning: errors ignored on restore: 4',
      'WARNING:  no privileges were granted for "x"',
    ].join('\n');
    const r = classifyRestore('restore', stderr, 1, 'pg_restore 15');
    expect(rules(r.findings)).toEqual([
      'ARCHIVE_TRUNCATED',
      'EXTENSION_ABSENT',
      'RESTORE_ERROR',
      'RESTORE_WARNING',
      'ROLE_ABSENT',
    ]);
    expect(r.findings.find((f) => f.rule === 'EXTENSION_ABSENT')?.evidence?.extension).toBe('postgis');
    expect(r.findings.find((f) => f.rule === 'RESTORE_ERROR')?.message).toMatch(/FROB/);
  });
  it('an error about an extension that is not reported as absent stays an error', () => {
    const stderr = [
      'pg_restore: error: could not execute query: ERROR:  extension "postgis" has no installation script nor update path for version "9.9"',
      'pg_restore: error: could not execute query: ERROR:  permission denied to create extension "pgcrypto"',
      'pg_restore: warning: errors ignored on restore: 2',
    ].join('\n');
    const r = classifyRestore('restore', stderr, 1, 'pg_restore 15');
    expect(rules(r.findings)).toEqual(['RESTORE_ERROR']);
    expect(r.findings[0]?.message).toMatch(/^2 errors .*postgis/);
  });
  it('an error that follows from an absent role or extension is explained by it', () => {
    const stderr = [
      'pg_restore: error: could not execute query: ERROR:  could not open extension control file "/usr/share/postgresql/15/extension/postgis.control": No such file or directory',
      'pg_restore: error: could not execute query: ERROR:  extension "postgis" does not exist',
      "Command was: COMMENT ON EXTENSION postgis IS 'spatial';",
      'pg_restore: error: could not execute query: ERROR:  role "app_owner" does not exist',
    ].join('\n');
    expect(rules(classifyRestore('restore', stderr, 1, 'pg_restore 15').findings)).toEqual([
      'EXTENSION_ABSENT',
      'ROLE_ABSENT',
    ]);
  });
  it('EXIT_CODE_LIED: zero exit with errors; RESTORE_FAILED: non-zero with nothing to explain it', () => {
    expect(
      rules(
        classifyRestore('restore', 'psql:<stdin>:9: ERROR:  relation "x" does not exist', 0, 'psql').findings,
      ),
    ).toEqual(['EXIT_CODE_LIED', 'RESTORE_ERROR']);
    expect(rules(classifyRestore('restore', '', 1, 'pg_restore').findings)).toEqual(['RESTORE_FAILED']);
    expect(
      rules(classifyRestore('restore', 'pg_restore: error: connection failed', 1, 'pg_restore').findings),
    ).toEqual(['RESTORE_ERROR']);
  });
  it("DISK_FULL: the target's disk filled, and the errors after it are its doing; silent on other errors", () => {
    const stderr = [
      'pg_restore: error: COPY failed for table "t": ERROR:  could not extend file "base/16384/16390": No space left on device',
      'HINT:  Check free disk space.',
      'pg_restore: error: could not execute query: ERROR:  relation "public.t" does not exist',
    ].join('\n');
    const full = classifyRestore('restore', stderr, 1, 'pg_restore 15');
    expect(rules(full.findings)).toEqual(['DISK_FULL']);
    expect(full.findings[0]?.message).toMatch(
      /ran out of disk space during the restore: .*could not extend file/,
    );
    expect(full.errors).toBe(2);
    const psql =
      'psql:<stdin>:9: ERROR:  could not write to file "pg_wal/xlogtemp.9": No space left on device';
    expect(rules(classifyRestore('restore', psql, 0, 'psql').findings)).toEqual(['DISK_FULL']);
    const short =
      'pg_restore: error: COPY failed for table "t": ERROR:  could not extend file "base/16384/16390": wrote only 4096 of 8192 bytes at block 3009';
    expect(rules(classifyRestore('restore', short, 1, 'pg_restore 15').findings)).toEqual(['DISK_FULL']);
    const other = 'pg_restore: error: could not execute query: ERROR:  relation "x" does not exist';
    expect(rules(classifyRestore('restore', other, 1, 'pg_restore').findings)).toEqual(['RESTORE_ERROR']);
  });
});

describe('restorable.yml', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-cfg-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const write = (text: string) => {
    const f = path.join(dir, `restorable-${n++}.yml`);
    fs.writeFileSync(f, text);
    return f;
  };
  it('a valid config parses', () => {
    const c = loadConfig(
      'config',
      write(
        'volume:\n  tolerance: 2%\n  tables:\n    public.t: { min: 3 }\nsemantics:\n  - { name: n, sql: select 1, expect: "> 0" }\n',
      ),
    );
    expect(c.volume?.tolerance).toEqual({ kind: 'percent', value: 2 });
  });
  it.each([
    ['volume:\n  tabels: {}\n', /config: .*unknown key "tabels" at volume/],
    ['voluem: {}\n', /unknown key "voluem" at \(top level\)/],
    ['volume:\n  tolerance: 5 percent\n', /volume\.tolerance "5 percent" is not a tolerance/],
    [
      'semantics:\n  - { name: n, sql: select 1, expect: "more than 3" }\n',
      /semantics\.0\.expect is not an expectation/,
    ],
    ['ignore:\n  - { rule: SEQUENCE_BEHIND }\n', /ignore\.0\.reason/],
    ['ignore:\n  - { rule: NOT_A_RULE, reason: x }\n', /is not a rule Restorable raises/],
    ['volume: [\n', /is not valid YAML/],
  ])('%j is refused with one line naming it', (text, message) => {
    expect(() => loadConfig('config', write(text))).toThrow(message);
  });
  it('a config that does not exist names the input', () => {
    expect(() => loadConfig('--config', '/no/such/restorable.yml')).toThrow(
      /^--config: "\/no\/such\/restorable.yml" cannot be read/,
    );
  });
});

describe('expectations and tolerances', () => {
  it.each([
    ['> 0', 1, true],
    ['> 0', 0, false],
    ['>= 10', 10, true],
    ['== 0', 0, true],
    ['!= 0', 0, false],
    ['< 5', 5, false],
    ['between 1 and 10', 10, true],
    ['between 1 and 10', 11, false],
  ] as const)('%s with %d is %s', (e, v, ok) =>
    expect(meets(v, parseExpectation(e) as NonNullable<ReturnType<typeof parseExpectation>>)).toBe(ok),
  );
  it('tolerances are rows or a share', () => {
    expect(parseTolerance('1000')).toEqual({ kind: 'rows', value: 1000 });
    expect(parseTolerance('2.5%')).toEqual({ kind: 'percent', value: 2.5 });
    expect(parseTolerance('5 percent')).toBeUndefined();
  });
});

describe('collation', () => {
  const libc = (collate: string) => ({ collate, provider: 'libc' });
  it('silent when the target has the dumped locale and it has no version (C, C.UTF-8)', () => {
    expect(checkCollation({ locale: 'C.UTF-8' }, libc('C.UTF-8'))).toEqual([]);
  });
  it('MISMATCH when the target could not get the locale; UNVERIFIABLE for a versioned one', () => {
    expect(rules(checkCollation({ collate: 'en_US.UTF-8' }, libc('C')))).toEqual(['COLLATION_MISMATCH']);
    expect(rules(checkCollation({ collate: 'en_US.UTF-8' }, libc('en_US.UTF-8')))).toEqual([
      'COLLATION_UNVERIFIABLE',
    ]);
    expect(rules(checkCollation(undefined, libc('C')))).toEqual(['COLLATION_UNVERIFIABLE']);
  });
  it('ICU: MISMATCH when the target sorts by libc or another ICU locale, UNVERIFIABLE when it matches', () => {
    const dumped = { provider: 'icu', locale: 'C', icuLocale: 'en-US' };
    const onLibc = checkCollation(dumped, libc('C'));
    expect(rules(onLibc)).toEqual(['COLLATION_MISMATCH']);
    expect(onLibc[0]?.message).toMatch(/sorts by ICU locale en-US, but the target sorts by libc locale C/);
    expect(rules(checkCollation(dumped, { collate: 'C', provider: 'icu', icuLocale: 'de-DE' }))).toEqual([
      'COLLATION_MISMATCH',
    ]);
    const same = checkCollation(dumped, { collate: 'C', provider: 'icu', icuLocale: 'en-US' });
    expect(rules(same)).toEqual(['COLLATION_UNVERIFIABLE']);
    expect(same[0]?.message).toMatch(/ICU collation en-US/);
  });
});

describe('history trend and JUnit', () => {
  it('says slower, faster or about the same', () => {
    const before = { at: '2026-11-01T06:00:00Z', totalSeconds: 100 } as Parameters<typeof trend>[1];
    expect(trend(119, before)).toBe('19% slower than the last good run (2026-11-01, 100.0s)');
    expect(trend(80, before)).toMatch(/^20% faster/);
    expect(trend(102, before)).toMatch(/^about as fast/);
    expect(trend(50, undefined)).toBeUndefined();
  });
  it('escapes what it writes', () => {
    const xml = junitXml(
      {
        command: 'drill',
        verdict: 'fail',
        failOn: 'high',
        startedAt: 'now',
        totalSeconds: 1,
        findings: [],
        stages: [
          {
            name: 'x',
            status: 'failed',
            seconds: 1,
            findings: [{ rule: 'R', severity: 'high', stage: 'x', message: 'a <b> & "c"' }],
          },
        ],
      },
      's',
    );
    expect(xml).toContain('a &lt;b&gt; &amp; &quot;c&quot;');
  });
});
