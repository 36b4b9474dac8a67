/**
 * What `barman recover` or `barman-cloud-restore` leaves in a folder, read before a server starts
 * on it: the backup's files and Barman's own lines are both hostile (a crafted backup, a tampered
 * Barman home or bucket).
 */
import fs from 'node:fs';
import path from 'node:path';
import { formatLsn, parseBackupHistory } from '../archive/wal.js';

/** Files recovery reads or writes: a symlink among them would make our writes land elsewhere. */
const PLAIN = [
  'postgresql.conf',
  'postgresql.auto.conf',
  'pg_hba.conf',
  'pg_ident.conf',
  'backup_label',
  'tablespace_map',
  'recovery.signal',
  'standby.signal',
  'PG_VERSION',
];

/**
 * Settings commented out in the restored configuration: the recovery commands and targets Barman
 * (or the backup) wrote, replaced by Restorable's own; and the ones that point the server at files
 * outside its folder (Barman only warns of those).
 */
const NEUTRALISED =
  /^\s*(restore_command|recovery_end_command|archive_cleanup_command|recovery_target\w*|primary_conninfo|primary_slot_name|promote_trigger_file|data_directory|config_file|hba_file|ident_file|external_pid_file|include|include_dir|include_if_exists)\b/;

export class RestoredFolderError extends Error {}

function refuse(tool: string, what: string): never {
  throw new RestoredFolderError(`the folder ${tool} made is not safe to start: ${what}`);
}

/** `#RESTORABLE# ` before every neutralised line, in place; returns how many were. */
export function neutralise(file: string): number {
  if (!fs.existsSync(file)) return 0;
  let n = 0;
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => {
      if (!NEUTRALISED.test(l)) return l;
      n++;
      return `#RESTORABLE# ${l}`;
    });
  fs.writeFileSync(file, lines.join('\n'));
  return n;
}

function within(p: string, roots: string[]): boolean {
  const r = path.resolve(p);
  return roots.some((root) => r === root || r.startsWith(`${root}${path.sep}`));
}

/** barman_wal, the WAL `barman recover` copied: a folder of plain WAL files. */
function checkCopiedWal(dataDir: string, tool: string): void {
  const wal = path.join(dataDir, 'barman_wal');
  if (isLink(wal) || !fs.existsSync(wal) || !fs.lstatSync(wal).isDirectory())
    refuse(tool, 'barman_wal (the WAL Barman copied) is not a folder');
  for (const e of fs.readdirSync(wal, { withFileTypes: true })) {
    if (e.name === 'archive_status' && e.isDirectory()) continue;
    if (
      !e.isFile() ||
      !/^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?$|^[0-9A-F]{8}\.history$/.test(e.name)
    )
      refuse(tool, `barman_wal holds ${JSON.stringify(e.name)}, which is not a WAL file`);
  }
}

/**
 * The checks: the files recovery touches are plain files; barman_wal (barman recover's copied WAL,
 * when `copiedWal`) is a folder of plain WAL files; backup_label starts where Barman's catalogue
 * says; every tablespace link (and tablespace_map line) points into the relocated tablespaces.
 * Then the configuration's recovery lines are commented out, for Restorable's own.
 */
export function checkRestoredFolder(
  dataDir: string,
  beginLsn: bigint | undefined,
  maps: { name: string; location: string }[],
  made: { tool: string; copiedWal: boolean } = { tool: 'barman recover', copiedWal: true },
): void {
  const { tool } = made;
  for (const f of PLAIN) {
    const p = path.join(dataDir, f);
    if (fs.existsSync(p) || isLink(p))
      if (!fs.lstatSync(p).isFile()) refuse(tool, `${f} is not a plain file`);
  }
  if (made.copiedWal) checkCopiedWal(dataDir, tool);
  const label = path.join(dataDir, 'backup_label');
  if (fs.existsSync(label) && beginLsn !== undefined) {
    const start = parseBackupHistory(fs.readFileSync(label, 'utf8'))?.startLsn;
    if (start !== beginLsn)
      refuse(
        tool,
        `backup_label starts at ${start !== undefined ? formatLsn(start) : '(no START WAL LOCATION)'}, Barman's catalogue at ${formatLsn(beginLsn)}`,
      );
  }
  const roots = maps.map((m) => path.resolve(m.location));
  const tblspc = path.join(dataDir, 'pg_tblspc');
  if (fs.existsSync(tblspc))
    for (const e of fs.readdirSync(tblspc)) {
      const p = path.join(tblspc, e);
      // PostgreSQL wants links only there; a folder is a tablespace Barman did not relocate.
      if (!isLink(p)) refuse(tool, `pg_tblspc/${e} is not a link to a relocated tablespace`);
      const to = fs.readlinkSync(p);
      if (!within(path.resolve(tblspc, to), roots))
        refuse(tool, `pg_tblspc/${e} points to ${to}, outside the relocated tablespaces`);
    }
  const map = path.join(dataDir, 'tablespace_map');
  if (fs.existsSync(map))
    for (const line of fs.readFileSync(map, 'utf8').split('\n').filter(Boolean)) {
      const to = line.replace(/^\d+\s+/, '');
      if (!within(to, roots))
        refuse(tool, `tablespace_map sends a tablespace to ${to}, outside the relocated tablespaces`);
    }
  for (const f of ['postgresql.conf', 'postgresql.auto.conf']) neutralise(path.join(dataDir, f));
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
