import fs from 'node:fs';
import path from 'node:path';

/**
 * The startup process's title in archive recovery: `postgres: [cluster_name: ]startup waiting for
 * <segment>` while restore_command fetches a segment (replay has reached its start), then
 * `startup recovering <segment>` while it is replayed. The server writes the segment's name last,
 * so the match is anchored at the end: a cluster_name (from the backup's own configuration) shaped
 * like a title is never taken.
 */
const RECOVERING = /startup (?:waiting for|recovering) ([0-9A-F]{24})$/;

/** The segment a process title says is being replayed, or nothing. */
export function recoveringSegment(title: string): string | undefined {
  return RECOVERING.exec(title.replace(/[\0\s]+$/, ''))?.[1];
}

/**
 * The postmaster of `dataDir`: postmaster.pid's first line, when its second names this data
 * directory (the server writes both as it starts; a stale file of another server is not read).
 */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const [pid = '', dir = ''] = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    return /^\d{1,10}$/.test(pid) && path.resolve(dir) === path.resolve(dataDir) ? Number(pid) : undefined;
  } catch {
    return undefined;
  }
}

/** A file of /proc, or nothing (gone, or not Linux). */
function proc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The WAL segment the server of `dataDir` is replaying, from its startup process's title (Linux's
 * /proc): the server's own words, whatever restore_command fetches the WAL and whatever the log
 * holds (no data, however crafted, reaches a process title). Nothing while it has none.
 */
export function replayingSegment(dataDir: string): string | undefined {
  const pm = postmasterPid(dataDir);
  if (pm === undefined) return undefined;
  const children = (proc(`/proc/${pm}/task/${pm}/children`) ?? '').trim().split(/\s+/);
  for (const pid of children) {
    if (!/^\d+$/.test(pid)) continue;
    const seg = recoveringSegment(proc(`/proc/${pid}/cmdline`) ?? '');
    if (seg) return seg;
  }
  return undefined;
}
