/** A side-by-side clone: the settings it keeps, and the folder it may be written to. */
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { runSync } from '../core/exec.js';
import type { Mode } from './options.js';

const CLONE_KEEPS = ['port', 'listen_addresses', 'unix_socket_directories', 'hba_file', 'logging_collector'];

/**
 * The settings that stay in postgresql.auto.conf after promotion: archive_mode off always; for a
 * side-by-side clone also its port, listen address, socket folder and pg_hba.conf (Restorable's),
 * so that a restart with a plain `pg_ctl start -D <clone>` keeps them instead of production's from
 * postgresql.conf.
 */
export function lastingSettings(mode: Mode, settings: Record<string, string>): Record<string, string> {
  const keep: Record<string, string> = { archive_mode: 'off' };
  if (mode === 'side-by-side')
    for (const k of CLONE_KEEPS) if (settings[k] !== undefined) keep[k] = settings[k] as string;
  return keep;
}

/**
 * Refuse, before anything is fetched, a clone folder the server's OS user cannot write: the folder
 * itself when it exists, and the folder beside which its server log is written (the nearest
 * existing one above it).
 */
export function checkCloneFolder(input: string, dataDir: string, osUser: string | undefined): void {
  let above = path.dirname(dataDir);
  while (!fs.existsSync(above) && path.dirname(above) !== above) above = path.dirname(above);
  for (const at of fs.existsSync(dataDir) ? [above, dataDir] : [above]) {
    if (runSync('test', ['-w', at, '-a', '-x', at], osUser).code === 0) continue;
    throw new UserError(
      input,
      `${at} is not writable by ${osUser ?? 'this user'}, who runs the recovered server (and writes its log beside it)`,
      `Give a folder ${osUser ?? 'this user'} may write to (e.g. chown ${osUser ?? '$USER'} the folder above it)`,
    );
  }
}
