/**
 * How the servers Restorable starts let clients in: the socket in the server's own 0700 folder is
 * trusted (only that folder's owner, and root, can reach it); TCP on 127.0.0.1 needs a password
 * (scram-sha-256), for a scratch cluster one made at random for it alone. A backup's pg_hba.conf is
 * never what a copy of it listens with.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { type ConnInfo, ident, parseDbUrl, withClient } from './client.js';
import { passwordFromFile } from './conninfo.js';
import { ownedFile } from './recovery.js';

/** A scratch cluster's password: 32 random bytes, URL-safe as it is (no encoding in a URL or a pgpass line). */
export function newPassword(): string {
  return randomBytes(32).toString('hex');
}

/**
 * The SCRAM-SHA-256 verifier of a password, as the server keeps it (RFC 5802/7677): sent instead of
 * the password, so that no server log (log_statement from a backup's config) ever holds the password.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const stored = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const server = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${stored.toString('base64')}:${server.toString('base64')}`;
}

/**
 * The pg_hba.conf of every server Restorable starts on a copy (scratch, PITR drill, side-by-side):
 * the socket trusted, TCP on loopback by password only, nothing else. Not production's in place.
 */
export const OWN_HBA = [
  "# Written by Restorable: the socket's folder is private (0700, the server's OS user's); TCP takes",
  "# a password only (a scratch cluster's own, random; a recovered copy's roles' own). Nothing else.",
  'local all all trust',
  'local replication all trust',
  'host all all 127.0.0.1/32 scram-sha-256',
  '',
].join('\n');

/**
 * Write OWN_HBA over a data directory's pg_hba.conf; the one that was there (a backup's) is kept
 * beside it as pg_hba.conf.restorable-original, inert, for a person who wants to read it.
 */
export function writeOwnHba(
  dataDir: string,
  owner: { uid: number; gid: number } | undefined,
  keepOriginal = true,
): string {
  const hba = path.join(dataDir, 'pg_hba.conf');
  const st = fs.lstatSync(hba, { throwIfNoEntry: false });
  if (st?.isFile() && keepOriginal) fs.renameSync(hba, `${hba}.restorable-original`);
  else if (st) fs.rmSync(hba, { recursive: true, force: true });
  return ownedFile(hba, OWN_HBA, owner);
}

/** Give `user` the password, over `conn` (the socket), as its verifier. */
export async function setPassword(conn: ConnInfo, user: string, password: string): Promise<void> {
  await withClient(conn, (c) => c.query(`ALTER ROLE ${ident(user)} PASSWORD '${scramVerifier(password)}'`));
}

/**
 * The cluster's password for people and tools that read a password file (libpq, Restorable itself):
 * `<root>/pgpass`, 0600, the runner's (not the server's OS user's); returned.
 */
export function writePassfile(root: string, port: number, user: string, password: string): string {
  const file = path.join(root, 'pgpass');
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, passfileLines(port, user, password), { mode: 0o600, flag: 'wx' });
  return file;
}

/** Another role's lines in the password file writePassfile made. */
export function addToPassfile(root: string, port: number, user: string, password: string): void {
  fs.appendFileSync(path.join(root, 'pgpass'), passfileLines(port, user, password));
}

const passfileLines = (port: number, user: string, password: string) =>
  `${['127.0.0.1', 'localhost'].map((h) => `${h}:${port}:*:${user}:${password}`).join('\n')}\n`;

/**
 * A server's socket folder: made 0700 for the server's OS user, and refused when it is a link,
 * another user's, or open to others (then its trust rule would let them in).
 */
export function privateSocketDir(dir: string, owner: { uid: number; gid: number } | undefined): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const uid = owner?.uid ?? process.getuid?.() ?? 0;
  let st = fs.lstatSync(dir);
  if (st.isDirectory() && !st.isSymbolicLink() && owner && st.uid === (process.getuid?.() ?? 0)) {
    fs.chownSync(dir, owner.uid, owner.gid);
    st = fs.lstatSync(dir);
  }
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new UserError(
      'socket',
      `${dir} is not a private folder of uid ${uid} (a link, another user's, or open to others), so no server's socket is put there`,
      'Remove it if nobody should have made it (Restorable makes it 0700), then run again',
    );
  }
}

/**
 * A shown URL of a kept cluster (its password file in `passfile=`) as tools that read no password
 * file need it: the password inline. `secret` gets the password first (the action masks it).
 * Undefined when the URL names no password file that holds one.
 */
export function inlinePassword(url: string, secret: (s: string) => void): string | undefined {
  const c = parseDbUrl('database-url', url, secret);
  const password = c.passfile && !c.hosts ? passwordFromFile(c, c) : undefined;
  if (!password) return undefined;
  secret(password);
  const host = c.host.includes(':') ? `[${c.host}]` : c.host;
  const enc = encodeURIComponent;
  return `postgresql://${enc(c.user)}:${enc(password)}@${host}:${c.port}/${enc(c.database)}`;
}
