import pg from 'pg';
import { UserError } from '../core/errors.js';

/** Where to reach a server: the one shape every part of Restorable talks to Postgres through. */
export interface ConnInfo {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
  /** Server settings for the session (`-c name=value ...`), e.g. a read-only session. */
  options?: string;
}

/** Parse a postgres:// URL; the password is registered as a secret the moment it is read. */
export function parseDbUrl(input: string, url: string, secret: (s: string) => void): ConnInfo {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  // libpq's `?host=/socket/folder` (a Unix socket) wins over the host part, which may then be empty.
  const queryHost = u?.searchParams.get('host') ?? '';
  if (!u || !/^postgres(ql)?:$/.test(u.protocol) || !(u.hostname || queryHost)) {
    throw new UserError(
      input,
      'is not a PostgreSQL URL',
      'Write it as postgresql://user:password@host:5432/database',
    );
  }
  const password = decodeURIComponent(u.password);
  if (password) secret(password);
  return {
    host: queryHost || u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username) || 'postgres',
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
    ...(password ? { password } : {}),
  };
}

/** A URL to show: the password, if any, as ***. */
export function maskedUrl(c: ConnInfo): string {
  const socket = c.host.startsWith('/');
  const host = socket ? 'localhost' : c.host.includes(':') ? `[${c.host}]` : c.host;
  return `postgresql://${encodeURIComponent(c.user)}${c.password ? ':***' : ''}@${host}:${c.port}/${encodeURIComponent(c.database)}${socket ? `?host=${encodeURIComponent(c.host)}` : ''}`;
}

/** The libpq environment for a subprocess (pg_restore, psql): the password never goes in argv. */
export function libpqEnv(c: ConnInfo): Record<string, string> {
  return {
    PGHOST: c.host,
    PGPORT: String(c.port),
    PGUSER: c.user,
    PGDATABASE: c.database,
    ...(c.password ? { PGPASSWORD: c.password } : {}),
    PGCONNECT_TIMEOUT: '10',
  };
}

/** Open a connection, run `fn`, close it, whatever happens. */
export async function withClient<T>(c: ConnInfo, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...c, connectionTimeoutMillis: 10_000, application_name: 'restorable' });
  // A server that goes away (a scratch cluster whose disk filled) rejects the query in flight; the
  // 'error' event it also emits would otherwise end the process with a stack trace.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function queryRows<T extends Record<string, unknown>>(
  c: ConnInfo,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  return withClient(c, async (client) => (await client.query<T>(sql, params)).rows);
}

/** Quote an identifier for SQL. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Wait until the server takes connections (after promotion it writes its end-of-recovery
 * checkpoint first; with hot standby off it refuses connections until then).
 */
export async function waitForConnections(c: ConnInfo, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await withClient(c, (client) => client.query('SELECT 1'));
      return;
    } catch (e) {
      // Only "starting up" (57P03) or no socket yet is waited for; any other answer means it is up.
      const code = (e as { code?: string }).code;
      if (!['57P03', 'ECONNREFUSED', 'ENOENT'].includes(code ?? '')) return;
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * The comment on every database a drill creates: the drill's teardown drops only databases that
 * carry it, and migrate-check knows a drill's copy by it.
 */
export const MARKER = 'created by restorable drill';
