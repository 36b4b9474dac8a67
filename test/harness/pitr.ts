import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { parseLsn, parseSegmentName } from '../../src/archive/wal.js';
import { formatBytes } from '../../src/core/duration.js';
import { run } from '../../src/core/exec.js';
import type { PitrResult } from '../../src/pitr/result.js';
import { withClient } from '../../src/postgres/client.js';
import { ownerOf, type ScratchCluster } from '../../src/postgres/cluster.js';
import { stageProgress } from '../../src/report/progress.js';
import { startCluster, tempDir } from './pg.js';

/** Test "production" runs as production does: as postgres (when root), the user PITR's defaults expect. */
export const PROD_USER = process.getuid?.() === 0 ? 'postgres' : undefined;

/** A folder the server's OS user may write to (archive_command and pg_basebackup run as it). */
export function serverDir(label: string): string {
  const dir = tempDir(label);
  const owner = ownerOf(process.getuid?.() === 0 ? 'postgres' : undefined);
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/** A "production" cluster that archives every WAL segment into `archive` with cp, as seed 003 does. */
export async function startArchiving(label: string, archive: string, extra: Record<string, string> = {}) {
  return startCluster({
    label,
    ...(PROD_USER ? { osUser: PROD_USER } : {}),
    tuning: 'default',
    settings: {
      wal_level: 'replica',
      archive_mode: 'on',
      archive_command: `test ! -f ${archive}/%f && cp %p ${archive}/%f`,
      max_wal_senders: '4',
      ...extra,
    },
  });
}

/** pg_basebackup into `dest` (plain, tar or tar.gz), with a manifest unless told otherwise. */
export async function baseBackup(
  c: ScratchCluster,
  dest: string,
  format: 'plain' | 'tar' | 'tar.gz' = 'plain',
  extra: string[] = [],
): Promise<void> {
  const r = await run(
    path.join(c.bin.dir, 'pg_basebackup'),
    [
      '-h',
      c.socketDir,
      '-p',
      String(c.port),
      '-U',
      'postgres',
      '-D',
      dest,
      '-F',
      format === 'plain' ? 'p' : 't',
      ...(format === 'tar.gz' ? ['-z'] : []),
      '--checkpoint=fast',
      '-X',
      'none',
      ...extra,
    ],
    { user: c.osUser },
  );
  if (r.code !== 0) throw new Error(`pg_basebackup failed: ${r.stderr}`);
}

/** Switch to a new WAL segment and wait until the archiver has copied everything up to it. */
export async function archiveNow(c: ScratchCluster): Promise<string> {
  return withClient(c.conn(), async (client) => {
    const seg = (await client.query<{ f: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS f')).rows[0]
      ?.f as string;
    for (let i = 0; i < 200; i++) {
      const last = (
        await client.query<{ w: string | null }>('SELECT last_archived_wal AS w FROM pg_stat_archiver')
      ).rows[0]?.w;
      if (last && last >= seg) return seg;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`WAL segment ${seg} was not archived in 20 s`);
  });
}

export async function query<T extends Record<string, unknown>>(
  c: ScratchCluster,
  text: string,
): Promise<T[]> {
  return withClient(c.conn(), async (client) => (await client.query<T>(text)).rows);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stage-progress listener, asked every 100 ms, and the lines it printed. */
export function progressLines() {
  const lines: string[] = [];
  const listener = stageProgress({ line: (l) => lines.push(l) }, (s) => `${s.name} ended`, 100);
  return { lines, listener };
}

const FETCH = /^▸ fetch +\d+s {2}wrote (\S+ \S+) of (\S+ \S+) \((\d+)%\) into the data directory$/;
const RECOVER =
  /^▸ recover +\d+s {2}replayed to ([0-9A-F]+\/[0-9A-F]+) of ([0-9A-F]+\/[0-9A-F]+)(?:: segment (\d+) of (\d+) in the plan's range)?, /;

/**
 * The progress of a backend whose own tool restores (pgBackRest, Barman, WAL-G), as its lines say
 * it: the fetch's bytes written of the backup's `size` (as the tool reports it), some written; the
 * recover's segment replayed, inside the plan's range (walFirst..walLast) by index, by LSN at most a segment past it.
 */
export function expectToolProgress(lines: string[], r: PitrResult, size: number): void {
  const all = lines.join('\n');
  const fetch = lines.map((l) => FETCH.exec(l)).filter((m) => m !== null);
  expect(fetch.length, all).toBeGreaterThan(0);
  for (const m of fetch) {
    expect(m[2], all).toBe(formatBytes(size));
    expect(Number(m[3]), all).toBeLessThanOrEqual(100);
  }
  expect(
    fetch.some((m) => m[1] !== '0 B'),
    all,
  ).toBe(true);
  const recover = lines.map((l) => RECOVER.exec(l)).filter((m) => m !== null);
  // The segment replayed is sampled from the startup process's title: a replay of a few segments
  // under a loaded machine can end before a sample catches it. Then the stage lasted at most two of
  // the listener's 100 ms asks, each saying it was starting; a longer one must say where it was.
  const asked = lines.filter((l) => /^▸ recover /.test(l));
  const tooShort = asked.length <= 2 && asked.every((l) => /replayed to \(starting\)/.test(l));
  if (!tooShort) expect(recover.length, all).toBeGreaterThan(0);
  const first = parseSegmentName(r.plan?.walFirst ?? '')?.segno as bigint;
  const last = parseSegmentName(r.plan?.walLast ?? '')?.segno as bigint;
  const seg = 16n * 1024n * 1024n;
  for (const m of recover) {
    const at = parseLsn(m[1] as string) as bigint;
    // Past the plan's last by one segment at most: the server asks for the segment after the last it
    // replayed (restore_command then finds none), and the plan's last is the archive's at the plan.
    expect(at >= first * seg && at <= (last + 2n) * seg, all).toBe(true);
    expect(parseLsn(m[2] as string), all).toBe((last + 1n) * seg);
    if (m[3] === undefined) continue;
    expect(Number(m[3]), all).toBeLessThanOrEqual(Number(m[4]));
    expect(Number(m[4]), all).toBe(r.plan?.walSegments);
  }
  // Some line placed the replay inside the plan's range, unless the replay had left that range
  // before the first sample that was not starting (a few segments on a loaded machine): then each
  // sample is at or past the range's end.
  const pastRange = recover.every((m) => (parseLsn(m[1] as string) as bigint) >= (last + 1n) * seg);
  if (!tooShort && !pastRange)
    expect(
      recover.some((m) => m[3] !== undefined),
      all,
    ).toBe(true);
}

/**
 * A recovery to transaction `xid` through `drill`, inclusive (stopping after its commit) then
 * exclusive with `exclusiveConfig` (the checks of the data before it): each passes, its proof
 * names that transaction and the side asked.
 */
export async function expectXidBothWays(
  drill: (extra: Record<string, string>) => Promise<PitrResult>,
  xid: string,
  exclusiveConfig: string,
): Promise<void> {
  const r = await drill({ 'target-time': '', 'target-xid': xid });
  expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
  expect(r.target).toBe(`transaction ${xid}`);
  expect(r.proof?.stopLine).toMatch(new RegExp(`^recovery stopping after commit of transaction ${xid}, `));
  const x = await drill({
    'target-time': '',
    'target-xid': xid,
    'target-inclusive': 'false',
    config: exclusiveConfig,
  });
  expect(x.verdict, JSON.stringify(x.findings)).toBe('pass');
  expect(x.proof?.stopLine).toMatch(new RegExp(`^recovery stopping before commit of transaction ${xid}, `));
}
