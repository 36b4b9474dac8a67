import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { isRoot, runSync, sleepSync } from '../core/exec.js';

/**
 * As root, every scratch cluster's server runs as a user made for it alone and removed with it, so
 * a backup's SQL that reaches the server's OS user (a function its CHECK calls during the restore,
 * running COPY ... TO PROGRAM) reaches nothing of another drill, and nothing it starts outlives it.
 */
export const OWN_USER = /^restorable-[0-9a-f]{8}$/;

/** The users this process made for its clusters: only those are removed with them. */
const made = new Set<string>();

export function passwdIds(user: string): { uid: number; gid: number } | undefined {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {}
  return undefined;
}

/** A user of its own for one scratch cluster's server, when Restorable runs as root; else none. */
export function makeScratchUser(): string | undefined {
  if (!isRoot()) return undefined;
  let why = '';
  // useradd takes a lock on /etc/passwd: another drill making its user at the same moment waits or fails.
  for (let attempt = 0; attempt < 5; attempt++) {
    const name = `restorable-${randomBytes(4).toString('hex')}`;
    const r = runSync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      '--comment',
      'Restorable, one scratch PostgreSQL server',
      name,
    ]);
    if (r.code === 0 && passwdIds(name)) {
      made.add(name);
      return name;
    }
    why = r.stderr.trim() || `exit ${r.code}`;
    sleepSync(100 * (attempt + 1));
  }
  throw new UserError(
    'os-user',
    `the scratch server's own user could not be created (useradd: ${why})`,
    'Check that useradd works here (it needs root and a writable /etc/passwd), or set os-user to an unprivileged user',
  );
}

/** Whether this process made `user` for a cluster (and so removes it with the cluster). */
export function madeHere(user: string | undefined): boolean {
  return user !== undefined && made.has(user);
}

/**
 * The pids of every process whose real, effective, saved or file-system uid is `uid`. A zombie
 * with no thread left runs nothing and cannot be killed, only reaped (by an init that may take its
 * time): it is not one. A zombie leader whose other threads still run is.
 */
export function processesOf(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync(path.join('/proc', entry, 'status'), 'utf8');
      const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/).map(Number) ?? [];
      const dead = /^State:\s+Z/m.test(status) && /^Threads:\s+1$/m.test(status);
      if (uids.includes(uid) && !dead) pids.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

/** Kill every process of `uid`, again until none is left (one may fork while it is killed). */
function killAllOf(uid: number): void {
  for (let round = 0; round < 50; round++) {
    const pids = processesOf(uid);
    if (!pids.length) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    sleepSync(20);
  }
}

/**
 * Kill whatever still runs as a cluster's own user, its server stopped, the user left for
 * dropScratchUser later (a post step): nothing a backup's SQL started outlives the drill's step.
 */
export function killScratchProcesses(user: string): void {
  const ids = madeHere(user) ? ownUserIds(user) : undefined;
  if (ids) killAllOf(ids.uid);
}

/** The ids of `user` when it is named as Restorable names its users, and not root. */
function ownUserIds(user: string): { uid: number; gid: number } | undefined {
  if (!OWN_USER.test(user)) return undefined;
  const ids = passwdIds(user);
  return ids && ids.uid !== 0 ? ids : undefined;
}

/** What `uid` made at the top of the shared temp folders (the only places it could write). */
function removeFilesOf(uid: number): void {
  for (const dir of new Set([os.tmpdir(), '/tmp', '/var/tmp', '/dev/shm'])) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const p = path.join(dir, n);
      try {
        if (fs.lstatSync(p).uid === uid) fs.rmSync(p, { recursive: true, force: true });
      } catch {}
    }
  }
}

/**
 * Remove a cluster's own user once its server has stopped and its folder is gone: every process
 * still running as it is killed (what a backup's SQL may have started to outlive the drill), what
 * it left in the temp folders is removed (a later user may get the same uid), then the user and
 * its group. Only a user named as Restorable names them; never throws (it runs in signal handlers).
 */
export function dropScratchUser(user: string): void {
  made.delete(user);
  const ids = ownUserIds(user);
  if (!ids) return;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      killAllOf(ids.uid);
      removeFilesOf(ids.uid);
      if (runSync('userdel', [user]).code === 0 || !passwdIds(user)) return;
      sleepSync(100 * (attempt + 1));
    }
  } catch {
    // Left for `userdel` by hand; the user owns nothing and can log in nowhere.
  }
}
