import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { globRegExp } from '../../src/core/glob.js';
import { filterTables } from '../../src/postgres/tables.js';
import {
  candidates,
  choose,
  countTiers,
  matcher,
  parseExpect,
  timestampInName,
} from '../../src/sources/select.js';
import type { BackupObject } from '../../src/sources/types.js';

describe('timestampInName', () => {
  it.each([
    ['backup-20260522-120000.dump', '2026-05-22T12:00:00.000Z'],
    ['daily/catalog_daily_20240418_000000.backup.gz', '2024-04-18T00:00:00.000Z'],
    ['2026-11-01T03-15-00Z/full.dump', '2026-11-01T03:15:00.000Z'],
    ['yieldvault_prod_20260429_1430.dump', '2026-04-29T14:30:00.000Z'],
    ['nightly-2026-03-07.sql.gz', '2026-03-07T00:00:00.000Z'],
  ])('%s → %s', (name, iso) => {
    expect(timestampInName(name)?.toISOString()).toBe(iso);
  });
  it.each(['full.dump', 'db_v12345678.dump', 'app_99999999_999999.dump'])('%s has none', (name) => {
    expect(timestampInName(name)).toBeUndefined();
  });
});

describe('globs', () => {
  it('* stays within a folder, ** crosses them, {a,b} and [..] work', () => {
    expect(globRegExp('daily/*.dump*', 'pattern').test('daily/x.dump.gz')).toBe(true);
    expect(globRegExp('daily/*.dump*', 'pattern').test('daily/sub/x.dump')).toBe(false);
    expect(globRegExp('**/*.dump', 'pattern').test('a/b/c.dump')).toBe(true);
    expect(globRegExp('**/*.dump', 'pattern').test('c.dump')).toBe(true);
    expect(globRegExp('*.{sql,dump}', 'pattern').test('x.sql')).toBe(true);
    expect(globRegExp('db[0-9].dump', 'pattern').test('db7.dump')).toBe(true);
    expect(globRegExp('a.b', 'pattern').test('axb')).toBe(false);
  });
  it('a pattern without a slash matches the file name in any folder', () => {
    expect(matcher('*.dump')('2026-11-01T03-15-00Z/full.dump')).toBe(true);
    expect(matcher('*/full.dump')('full.dump')).toBe(false);
  });
  it('a backslash makes a character literal; [!..] negates; * matches dot files', () => {
    expect(globRegExp('a\\*b', 'pattern').test('a*b')).toBe(true);
    expect(globRegExp('a\\*b', 'pattern').test('axb')).toBe(false);
    expect(globRegExp('backup\\{1.dump', 'pattern').test('backup{1.dump')).toBe(true);
    expect(globRegExp('db[!0-9].dump', 'pattern').test('dbx.dump')).toBe(true);
    expect(globRegExp('db[!0-9].dump', 'pattern').test('db1.dump')).toBe(false);
    expect(globRegExp('*.dump', 'pattern').test('.hidden.dump')).toBe(true);
    expect(globRegExp('!x', 'pattern').test('!x')).toBe(true);
  });
  it.each(['backup{1.dump', 'db[0-9.dump', 'a)b', '[z-a].dump'])(
    "%s is the user's mistake, naming the input",
    (bad) => {
      const thrown = () => globRegExp(bad, 'pattern');
      expect(thrown).toThrow(UserError);
      expect(thrown).toThrow(/^pattern: ".*" is not a valid glob \(.+\)\. Put a backslash/);
    },
  );
  it('candidates and filterTables name their input', () => {
    expect(() => candidates([], 'backup{1.dump')).toThrow(/^pattern: "backup\{1.dump"/);
    const t = [{ schema: 'public', name: 'orders' }];
    expect(() => filterTables(t, { include: ['public.[x'] })).toThrow(/^include: "public.\[x"/);
    expect(() => filterTables(t, { exclude: ['a{'] })).toThrow(/^exclude: "a\{"/);
    expect(filterTables(t, { include: ['public.*'], exclude: ['*.x'] })).toEqual(t);
  });
  it('the CLI says a bad pattern in one line and exits 2', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glob-'));
    fs.writeFileSync(path.join(dir, 'a.dump'), '');
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(root, 'src/cli/index.ts'),
        'verify',
        '--source',
        dir,
        '--pattern',
        'backup{1.dump',
      ],
      { encoding: 'utf8', cwd: root },
    );
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^restorable: pattern: "backup\{1.dump" is not a valid glob/),
    ]);
  });
});

const obj = (
  name: string,
  modified = '2026-01-01T00:00:00Z',
  kind: 'file' | 'directory' = 'file',
): BackupObject => ({
  name,
  size: 1,
  modified: new Date(modified),
  kind,
});

describe('candidates and choose', () => {
  it('default: dumps by name and directory dumps, never sidecars or schema.sql', () => {
    const list = candidates(
      [
        obj('a.dump'),
        obj('a.dump.sha256'),
        obj('b.sql.gz'),
        obj('x/schema.sql'),
        obj('notes.txt'),
        obj('d.dir', undefined, 'directory'),
        obj('c.backup.gz'),
      ],
      undefined,
    );
    expect(list.map((c) => c.name).sort()).toEqual(['a.dump', 'b.sql.gz', 'c.backup.gz', 'd.dir']);
  });
  it('latest by the name when it has a time, else by modification time', () => {
    const list = candidates(
      [
        obj('db_20260101_000000.dump', '2026-06-01T00:00:00Z'),
        obj('db_20260301_000000.dump', '2026-01-01T00:00:00Z'),
      ],
      undefined,
    );
    expect(choose(list, 'latest')?.name).toBe('db_20260301_000000.dump');
    const byMtime = candidates(
      [obj('old.dump', '2026-01-01T00:00:00Z'), obj('new.dump', '2026-02-01T00:00:00Z')],
      undefined,
    );
    expect(choose(byMtime, 'latest')).toMatchObject({ name: 'new.dump', timeFrom: 'modified' });
  });
  it('select by exact name or a unique last part', () => {
    const list = candidates([obj('daily/a.dump'), obj('weekly/b.dump'), obj('hourly/b.dump')], undefined);
    expect(choose(list, 'daily/a.dump')?.name).toBe('daily/a.dump');
    expect(choose(list, 'a.dump')?.name).toBe('daily/a.dump');
    expect(choose(list, 'b.dump')).toBeUndefined();
  });
});

describe('retention tiers', () => {
  it('parses expect and counts tiers by folder or name word', () => {
    expect(parseExpect('expect', 'hourly=24, daily=7,weekly=4')).toEqual({ hourly: 24, daily: 7, weekly: 4 });
    expect(() => parseExpect('expect', 'hourly:24')).toThrow(/expect: "hourly:24" is not tier=count/);
    const counts = countTiers(
      [
        obj('hourly/a.dump'),
        obj('hourly/b.dump'),
        obj('catalog_daily_20240418_000000.backup.gz'),
        obj('dailyish.dump'),
      ],
      ['hourly', 'daily', 'weekly'],
    );
    expect(counts).toEqual({ hourly: 2, daily: 1, weekly: 0 });
  });
});
