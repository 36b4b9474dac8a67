import { describe, expect, it } from 'vitest';
import { newestSegmentUpload } from '../../src/pitr/walg.js';

/** `wal-g st ls wal_005` as WAL-G prints it (internal/storagetools, text/tabwriter, Go's time.Time). */
const listing = `type size     last modified                           name
obj  4194304  2026-12-01 12:00:00 +0000 UTC              000000010000000000000003.br
obj  3812     2026-12-01 12:00:05.123456789 +0000 UTC    000000010000000000000004.lz4
obj  231      2026-12-01 13:30:00 +0100 CET              000000010000000000000005.zst
obj  44       2026-12-01 13:00:00 +0000 UTC              00000002.history.br
obj  360      2026-12-01 13:00:00 +0000 UTC              000000010000000000000004.00000028.backup.br
dir  0        0001-01-01 00:00:00 +0000 UTC              basebackups_005/
`;

describe('wal-g st ls: the newest segment upload', () => {
  it('reads each segment line’s time with its zone, and only segments', () => {
    // 13:30 CET is 12:30 UTC; the history and backup-history files (13:00) are not segments.
    expect(newestSegmentUpload(listing)?.toISOString()).toBe('2026-12-01T12:30:00.000Z');
    expect(newestSegmentUpload(listing.split('\n').slice(0, 3).join('\n'))?.toISOString()).toBe(
      '2026-12-01T12:00:05.123Z',
    );
  });

  it('a listing it cannot read says nothing (the replay decides), never a time it made up', () => {
    expect(newestSegmentUpload('')).toBeUndefined();
    expect(newestSegmentUpload('ERROR: unknown command "st"\n')).toBeUndefined();
    expect(
      newestSegmentUpload('obj 1 2026-13-45 99:99:99 +0000 UTC 000000010000000000000003\n'),
    ).toBeUndefined();
    expect(newestSegmentUpload('obj 1 yesterday 000000010000000000000003\n')).toBeUndefined();
    // A name that is not a segment's, even with a segment's digits in it.
    expect(
      newestSegmentUpload('obj 1 2026-12-01 12:00:00 +0000 UTC ../000000010000000000000003\n'),
    ).toBeUndefined();
  });
});
