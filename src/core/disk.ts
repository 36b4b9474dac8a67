import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Finding, finding } from '../report/findings.js';
import { formatBytes } from './duration.js';

/** A write that failed because the file system is full (ENOSPC, or its quota: EDQUOT). */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * The C library's and PostgreSQL's words for the same: a server or initdb that ran out of disk
 * (PostgreSQL's short write when extending a relation carries the hint "Check free disk space").
 */
export const NO_SPACE =
  /No space left on device|Disk quota exceeded|could not extend file .*: wrote only \d+ of \d+ bytes|Check free disk space/;

/**
 * Bytes an unprivileged writer may still use in `folder`'s file system (the nearest existing
 * ancestor when it does not exist yet); undefined when that cannot be read.
 */
export function freeBytes(folder: string): number | undefined {
  let dir = path.resolve(folder);
  for (;;) {
    try {
      const s = fs.statfsSync(dir);
      return s.bavail * s.bsize;
    } catch {
      const up = path.dirname(dir);
      if (up === dir) return undefined;
      dir = up;
    }
  }
}

/**
 * DISK_FULL: `folder` has no room for what the run writes there. This machine's disk, never the
 * backup's fault: the verdict is could-not-verify. `needed` is what the run meant to write (the
 * backup's size) when known.
 */
export function diskFull(
  stage: string,
  folder: string,
  what: string,
  extra: { needed?: number; fix?: string; cause?: string } = {},
): Finding {
  const needed = extra.needed;
  const cause = extra.cause ? ` (${extra.cause.trim()})` : '';
  const free = freeBytes(folder);
  const room = free === undefined ? '' : `, ${formatBytes(free)} free`;
  const need = needed === undefined ? '' : `; ${formatBytes(needed)} needed`;
  return finding(
    'DISK_FULL',
    stage,
    `no space left in ${folder} for ${what}${need}${room}. This is this machine's disk, not the backup${cause}`,
    {
      ...(extra.fix ? { fix: extra.fix } : {}),
      evidence: {
        folder,
        neededBytes: needed ?? null,
        freeBytes: free ?? null,
      },
    },
  );
}

const SCRATCH_FIX =
  'Free space there, or set TMPDIR to a folder on a disk with room for the restored database: scratch clusters live under it.';

/** DISK_FULL for a scratch cluster: its folder (TMPDIR) filled, while it started or during a restore. */
export function scratchDiskFull(stage: string, what: string, cause: string): Finding {
  return diskFull(stage, os.tmpdir(), what, { fix: SCRATCH_FIX, cause });
}

/** A scratch cluster that could not start because its disk is full (initdb's or pg_ctl's ENOSPC). */
export function startedOutOfSpace(e: unknown): boolean {
  return isDiskFull(e) || (e instanceof Error && NO_SPACE.test(e.message));
}
