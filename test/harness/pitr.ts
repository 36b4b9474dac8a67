import fs from 'node:fs';
import path from 'node:path';
import { run } from '../../src/core/exec.js';
import { withClient } from '../../src/postgres/client.js';
import { ownerOf, type ScratchCluster } from '../../src/postgres/cluster.js';
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
