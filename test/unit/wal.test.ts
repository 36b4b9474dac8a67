import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatLsn,
  parseBackupHistory,
  parseLsn,
  parsePgTime,
  parseSegmentName,
  parseTimelineHistory,
  segmentName,
  timelineFor,
} from '../../src/archive/wal.js';
import { parseTargetTime } from '../../src/pitr/options.js';
import { progressLine, replayLine } from '../../src/pitr/stages/recover.js';
import { WalArchive } from '../../src/pitr/wal-archive.js';
import { recoveringSegment } from '../../src/postgres/replay-title.js';
import { LocalSource } from '../../src/sources/local.js';
import { tempDir } from '../harness/pg.js';

function archive(files: Record<string, string | number>): WalArchive {
  const dir = tempDir('wal');
  for (const [name, content] of Object.entries(files)) {
    const f = path.join(dir, name);
    if (typeof content === 'number') {
      fs.writeFileSync(f, '');
      fs.truncateSync(f, content);
    } else fs.writeFileSync(f, content);
  }
  return WalArchive.open(new LocalSource('wal-archive', dir)) as unknown as WalArchive;
}

const SEG = 16 * 1024 * 1024;

describe('WAL names and LSNs', () => {
  it('round-trips LSNs and segment names', () => {
    expect(parseLsn('0/3000028')).toBe(0x3000028n);
    expect(formatLsn(parseLsn('1A/FF000060') as bigint)).toBe('1A/FF000060');
    expect(parseLsn('yesterday')).toBeUndefined();
    expect(segmentName(1, 0x1ffn)).toBe('0000000100000001000000FF');
    expect(parseSegmentName('0000000200000001000000FF')).toEqual({ tli: 2, segno: 0x1ffn });
  });

  it('reads backup history files and timeline histories', () => {
    const h = parseBackupHistory(
      'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-11-21 03:00:00 UTC\nLABEL: pg_basebackup base backup\nSTART TIMELINE: 1\nSTOP TIME: 2026-11-21 03:00:05 UTC\nSTOP TIMELINE: 1\n',
    );
    expect(h?.startLsn).toBe(0x2000028n);
    expect(h?.stopTime?.toISOString()).toBe('2026-11-21T03:00:05.000Z');
    expect(parsePgTime('2026-11-21 12:42:01.766755+00')?.toISOString()).toBe('2026-11-21T12:42:01.766Z');
    const tl = parseTimelineHistory('1\t0/5000000\tno recovery target specified\n');
    expect(tl).toEqual([{ tli: 1, switchLsn: 0x5000000n }]);
    expect(timelineFor(4n, tl, 2)).toBe(1);
    expect(timelineFor(5n, tl, 2)).toBe(2);
  });

  it('target times need a zone', () => {
    expect(parseTargetTime('t', '2026-11-21T10:30:00+01').toISOString()).toBe('2026-11-21T09:30:00.000Z');
    expect(parseTargetTime('t', '2026-11-21 09:30:00.5Z').toISOString()).toBe('2026-11-21T09:30:00.500Z');
    expect(() => parseTargetTime('t', '2026-11-21T09:30')).toThrow(/no time zone/);
    expect(() => parseTargetTime('t', '2026-13-45T09:30:00Z')).toThrow(/not a valid date/);
  });
});

describe('WAL coverage', () => {
  it('follows a timeline switch and finds the first hole on it', async () => {
    const files = {
      '000000010000000000000002': SEG,
      '000000010000000000000003': SEG,
      '000000010000000000000004': SEG,
      // Timeline 2 began in segment 5: segment 5 onwards is read from timeline 2.
      '000000010000000000000005': SEG,
      '00000002.history': '1\t0/5000100\tno recovery target specified\n',
      '000000020000000000000005': SEG,
      '000000020000000000000007': SEG,
    };
    const wal = await archive(files);
    const c = await wal.coverage(0x2000028n, 1, { kind: 'lsn', lsn: 0x7000000n });
    expect(c.missing).toBe('000000020000000000000006');
    const ok = await wal.coverage(0x2000028n, 1, { kind: 'lsn', lsn: 0x5000200n });
    expect(ok.missing).toBeUndefined();
    expect(ok.last).toBe('000000020000000000000005');
    expect(ok.segments).toBe(4);
  });

  it('a segment on the wrong timeline does not fill a hole', async () => {
    const wal = await archive({
      '000000010000000000000002': SEG,
      '000000030000000000000003': SEG,
      '000000010000000000000004': SEG,
    });
    const c = await wal.coverage(0x2000028n, 1, { kind: 'name' });
    expect(c.missing).toBe('000000010000000000000003');
  });

  it('gzipped segments count, and the segment size comes from a plain one', async () => {
    const wal = await archive({
      '000000010000000000000002.gz': 'x',
      '000000010000000000000003': 64 * 1024 * 1024,
    });
    expect(wal.segSize).toBe(64 * 1024 * 1024);
    expect((await wal.coverage(0x8000028n, 1, { kind: 'name' })).segments).toBe(2);
  });

  it('progress names the LSN replayed, the end, the segments and the time left', () => {
    const line = progressLine(
      {
        fetched: 3,
        bytes: 3 * SEG,
        waits: 0,
        requested: '000000010000000000000004',
        missing: [],
        corrupt: [],
        errors: [],
      },
      { first: '000000010000000000000002', last: '000000010000000000000009', segments: 8, segSize: SEG },
      { kind: 'name', name: 'x' },
      1,
    );
    expect(line).toMatch(
      /^replayed to 0\/4000000 of 0\/A000000: 3\/8 segment\(s\) fetched, 48.0 MiB\/s, about .* left$/,
    );
  });

  it('a tool backend: the segment replayed (from the title) as a place in the plan range, the rate since its start', () => {
    const coverage = {
      first: '000000010000000000000002',
      last: '000000010000000000000009',
      segments: 8,
      segSize: SEG,
    };
    const target = { kind: 'name', name: 'x' } as const;
    expect(replayLine('000000010000000000000005', coverage, target, 2)).toBe(
      "replayed to 0/5000000 of 0/A000000: segment 4 of 8 in the plan's range, 24.0 MiB/s, about 3.33s left",
    );
    expect(replayLine(undefined, coverage, target, 2)).toBe('replayed to (starting) of 0/A000000');
    // A segment outside the range (never from the server's own title) is not given a place in it.
    expect(replayLine('0000000100000000000000FF', coverage, target, 2)).not.toMatch(/segment \d+ of/);
  });

  it('the startup process title: its segment, anchored at the end, whatever cluster_name says', () => {
    const pad = '\0'.repeat(20);
    expect(recoveringSegment(`postgres: startup waiting for 000000010000000000000003${pad}`)).toBe(
      '000000010000000000000003',
    );
    expect(recoveringSegment('postgres: startup recovering 000000010000000000000004')).toBe(
      '000000010000000000000004',
    );
    const crafted = 'postgres: x: startup recovering 0000000100000000000000FF: ';
    expect(recoveringSegment(`${crafted}startup waiting for 000000010000000000000002${pad}`)).toBe(
      '000000010000000000000002',
    );
    for (const none of [
      `${crafted}startup ${pad}`,
      `${crafted}checkpointer `,
      'postgres: startup waiting for 00000002.history',
    ])
      expect(recoveringSegment(none), none).toBeUndefined();
  });
});

describe('a base backup object lands inside the data directory or nowhere', () => {
  it('refuses names that climb out or are absolute, takes nested ones', async () => {
    const { inside } = await import('../../src/pitr/native.js');
    expect(inside('/srv/data', 'base/1/1259')).toBe('/srv/data/base/1/1259');
    for (const bad of ['../etc/cron.d/x', 'base/../../x', '/etc/passwd', '..'])
      expect(() => inside('/srv/data', bad), bad).toThrow(/would land outside the data directory: refused/);
  });
});

describe('a plain base backup whose listing is crafted is refused before anything is fetched', () => {
  // The names are the listing's (an S3 store holds keys such as these; a folder cannot, so the
  // listing is given as the store would give it, the bytes read from a real folder).
  const attempt = async (names: string[]) => {
    const { unpackBaseBackup } = await import('../../src/pitr/native.js');
    const root = tempDir('crafted-listing');
    fs.mkdirSync(path.join(root, 'b1', 'base'), { recursive: true });
    fs.writeFileSync(path.join(root, 'b1', 'PG_VERSION'), '15\n');
    fs.writeFileSync(path.join(root, 'b1', 'base', '1'), 'x');
    const objects = ['b1/PG_VERSION', ...names].map((name) => ({
      name,
      size: 1,
      modified: new Date(0),
      kind: 'file' as const,
    }));
    const dataDir = path.join(root, 'scratch', 'data');
    const b = {
      id: 'b1',
      format: 'plain' as const,
      files: objects,
      size: 0,
      startLsn: 0n,
      timeline: 1,
      hasManifest: false,
    };
    const outcome = await unpackBaseBackup(new LocalSource('base-backups', root), b, dataDir).then(
      () => 'restored',
      (e: Error) => e.message,
    );
    return { outcome, fetched: fs.readdirSync(dataDir), escaped: fs.existsSync(path.join(root, 'escape')) };
  };

  it('a key that climbs out of the data directory', async () => {
    const r = await attempt(['b1/../../escape']);
    expect(r.outcome).toMatch(/"\.\.\/\.\.\/escape", which would land outside the data directory: refused/);
    expect(r.fetched).toEqual([]);
    expect(r.escaped).toBe(false);
  });

  it('two keys that land on one file (a//b and a/./b are a/b)', async () => {
    for (const dup of ['b1/base//1', 'b1/base/./1']) {
      const r = await attempt(['b1/base/1', dup]);
      expect(r.outcome, dup).toMatch(
        /objects named "base\/1" and ".*", which land on the same file: refused/,
      );
      expect(r.fetched).toEqual([]);
    }
  });

  it('a healthy listing is restored', async () => {
    const r = await attempt(['b1/base/1']);
    expect(r.outcome).toBe('restored');
    expect(r.fetched).toContain('PG_VERSION');
  });
});
