import type pg from 'pg';
import { errorMessage, UserError } from '../core/errors.js';
import { connect } from './connect.js';
import { type ConnInfo, defaultPassfile, systemRootFile } from './conninfo.js';

export { type ConnInfo, parseDbUrl } from './conninfo.js';

/** A URL to show (and for later steps): every setting but the password, which is ***. */
export function maskedUrl(c: ConnInfo): string {
  const eps = c.hosts ?? [{ host: c.host, port: c.port }];
  const query: [string, string | undefined][] = [];
  let authority: string;
  if (eps.some((e) => e.host.startsWith('/'))) {
    // libpq's socket form: the folders (and ports) as parameters, a placeholder host.
    const one = eps.length === 1 ? (eps[0] as { port: number }) : undefined;
    authority = one ? `localhost:${one.port}` : '';
    query.push(['host', eps.map((e) => e.host).join(',')]);
    if (!one) query.push(['port', eps.map((e) => e.port).join(',')]);
  } else {
    authority = eps.map((e) => `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`).join(',');
  }
  query.push(
    ['sslmode', c.sslmode],
    ['sslrootcert', c.sslrootcert],
    ['sslcert', c.sslcert],
    ['sslkey', c.sslkey],
    ['sslcrl', c.sslcrl],
    ['target_session_attrs', c.targetSessionAttrs],
    ['passfile', c.passfile === defaultPassfile() ? undefined : c.passfile],
    ['application_name', c.applicationName],
    ['connect_timeout', c.connectTimeout === undefined ? undefined : String(c.connectTimeout)],
  );
  const q = query
    .filter((kv): kv is [string, string] => kv[1] !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  return `postgresql://${encodeURIComponent(c.user)}${c.password ? ':***' : ''}@${authority}/${encodeURIComponent(c.database)}${q ? `?${q}` : ''}`;
}

/**
 * The libpq environment for a subprocess (pg_restore, psql, pg_dump): the same connection as
 * node-postgres makes (hosts in order, sslmode, certificates, target_session_attrs, the password
 * file), the password never in argv.
 */
export function libpqEnv(c: ConnInfo): Record<string, string> {
  const eps = c.hosts ?? [{ host: c.host, port: c.port }];
  const env: Record<string, string | undefined> = {
    PGHOST: eps.map((e) => e.host).join(','),
    PGPORT: eps.map((e) => e.port).join(','),
    PGUSER: c.user,
    PGDATABASE: c.database,
    PGPASSWORD: c.password,
    PGPASSFILE: c.passfile,
    PGSSLMODE: c.sslmode,
    PGSSLROOTCERT: c.sslrootcert === 'system' ? (systemRootFile() ?? 'system') : c.sslrootcert,
    PGSSLCERT: c.sslcert,
    PGSSLKEY: c.sslkey,
    PGSSLCRL: c.sslcrl,
    PGTARGETSESSIONATTRS: c.targetSessionAttrs,
    PGAPPNAME: c.applicationName ?? 'restorable',
    PGOPTIONS: c.options,
    PGCONNECT_TIMEOUT: String(c.connectTimeout || 10),
  };
  return Object.fromEntries(Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined));
}

/**
 * A privilege the role of a user's connection lacks (SQLSTATE 42501): one line naming the input,
 * what was refused and the grant that fixes it, never an internal error.
 */
function privilegeError(c: ConnInfo, e: unknown): UserError | undefined {
  if (!c.input || (e as { code?: string }).code !== '42501') return undefined;
  const msg = errorMessage(e);
  const table = /permission denied for (?:table|relation|view|sequence) (.+)$/.exec(msg)?.[1];
  const fix = /to create database/.test(msg)
    ? `Give the role CREATEDB: ALTER ROLE ${ident(c.user)} CREATEDB;`
    : table
      ? `Grant it: GRANT SELECT ON ${table} TO ${ident(c.user)}; (and USAGE on its schema)`
      : 'Grant the role what it lacks: docs/connecting.md lists what each input needs (least privileges)';
  return new UserError(c.input, `the role "${c.user}" was refused: ${msg}`, fix);
}

/** Open a connection (as libpq would: see connect.ts), run `fn`, close it, whatever happens. */
export async function withClient<T>(c: ConnInfo, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(c);
  try {
    return await fn(client);
  } catch (e) {
    throw privilegeError(c, e) ?? e;
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
