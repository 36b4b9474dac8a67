import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { errorMessage, UserError } from '../core/errors.js';
import { type ConnInfo, type Endpoint, passwordFromFile, type SslMode, systemRootFile } from './conninfo.js';

/** The server asked for a password and none was given or found. */
class NoPassword extends Error {
  constructor() {
    super('the server asks for a password and none was given');
  }
}

const home = (f: string) => path.join(os.homedir(), '.postgresql', f);
const read = (f: string) => fs.readFileSync(f, 'utf8');

/** node-postgres's `ssl` for one attempt: TLS verified as libpq's sslmode says, or plain. */
function tlsOptions(c: ConnInfo, mode: SslMode, tls: boolean): false | ConnectionOptions {
  if (!tls) return false;
  const cert = c.sslcert ?? (fs.existsSync(home('postgresql.crt')) ? home('postgresql.crt') : undefined);
  const key = c.sslkey ?? (fs.existsSync(home('postgresql.key')) ? home('postgresql.key') : undefined);
  const root = c.sslrootcert ?? (fs.existsSync(home('root.crt')) ? home('root.crt') : undefined);
  const out: ConnectionOptions = {
    ...(cert && key ? { cert: read(cert), key: read(key) } : {}),
    ...(c.sslcrl ? { crl: read(c.sslcrl) } : {}),
  };
  // require with a root certificate is verify-ca, as in libpq.
  const verify =
    mode === 'verify-full' ? 'full' : mode === 'verify-ca' || (mode === 'require' && root) ? 'ca' : 'none';
  if (verify === 'none') return { ...out, rejectUnauthorized: false };
  const rootFile = root === 'system' ? systemRootFile() : root;
  if (rootFile) out.ca = read(rootFile);
  out.rejectUnauthorized = true;
  if (verify === 'ca') out.checkServerIdentity = () => undefined;
  return out;
}

/** The attempts sslmode makes on one host: TLS or not, in order (prefer: TLS then plain; allow: the reverse). */
function attempts(c: ConnInfo, ep: Endpoint): boolean[] {
  // libpq never uses TLS over a Unix socket.
  if (ep.host.startsWith('/')) return [false];
  const mode = c.sslmode ?? 'prefer';
  if (mode === 'disable') return [false];
  if (mode === 'allow') return [false, true];
  if (mode === 'prefer') return [true, false];
  return [true];
}

/** Whether an attempt that failed so may be made again the other way (allow / prefer). */
function retriable(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === '28000' || /does not support SSL|error establishing an SSL/i.test(errorMessage(e));
}

async function open(c: ConnInfo, ep: Endpoint, tls: boolean): Promise<pg.Client> {
  const client = new pg.Client({
    host: ep.host,
    port: ep.port,
    user: c.user,
    database: c.database,
    password: async () => {
      const p = c.password ?? passwordFromFile(c, ep);
      if (p === undefined) throw new NoPassword();
      return p;
    },
    ...(c.options ? { options: c.options } : {}),
    ssl: tlsOptions(c, c.sslmode ?? 'prefer', tls),
    connectionTimeoutMillis: (c.connectTimeout || 10) * 1000,
    application_name: c.applicationName ?? 'restorable',
  });
  // A server that goes away (a scratch cluster whose disk filled) rejects the query in flight; the
  // 'error' event it also emits would otherwise end the process with a stack trace.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => {});
    throw e;
  }
  return client;
}

async function openHost(c: ConnInfo, ep: Endpoint): Promise<pg.Client> {
  const ways = attempts(c, ep);
  for (let i = 0; ; i++) {
    try {
      return await open(c, ep, ways[i] as boolean);
    } catch (e) {
      if (i + 1 >= ways.length || !retriable(e)) throw e;
    }
  }
}

/** Whether a session is what target_session_attrs asks for (libpq's checks). */
async function fits(client: pg.Client, want: string): Promise<boolean> {
  if (want === 'any') return true;
  if (want === 'read-write' || want === 'read-only') {
    const r = await client.query<{ transaction_read_only: string }>('SHOW transaction_read_only');
    const ro = r.rows[0]?.transaction_read_only === 'on';
    return ro === (want === 'read-only');
  }
  const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
  return r.rows[0]?.r === (want === 'standby');
}

const where = (ep: Endpoint) =>
  ep.host.startsWith('/') ? `socket ${ep.host} port ${ep.port}` : `${ep.host}:${ep.port}`;

/**
 * Connect as libpq does: each host in order, each as sslmode says, the first session that is what
 * target_session_attrs asks for (prefer-standby: a standby, else any).
 */
export async function connect(c: ConnInfo): Promise<pg.Client> {
  const eps = c.hosts ?? [{ host: c.host, port: c.port }];
  const want = c.targetSessionAttrs ?? 'any';
  const passes = want === 'prefer-standby' ? ['standby', 'any'] : [want];
  const failed: { ep: Endpoint; e: unknown }[] = [];
  for (const pass of passes) {
    for (const ep of eps) {
      let client: pg.Client;
      try {
        client = await openHost(c, ep);
      } catch (e) {
        if (pass === passes[0]) failed.push({ ep, e });
        continue;
      }
      if (await fits(client, pass).catch(() => false)) return client;
      await client.end().catch(() => {});
      if (pass === passes[passes.length - 1]) failed.push({ ep, e: new Error(`the session is not ${pass}`) });
    }
  }
  throw connectError(c, failed);
}

/** What failed, as one line naming the input and the fix when the fix is the user's. */
function connectError(c: ConnInfo, failed: { ep: Endpoint; e: unknown }[]): Error {
  const explained = failed.map(({ ep, e }) => ({ ep, e, why: explain(c, ep, e) }));
  const fixable = explained.find((x) => x.why);
  if (c.input && fixable?.why) {
    const others = explained.filter((x) => x !== fixable).map((x) => `${where(x.ep)}: ${errorMessage(x.e)}`);
    const also = others.length > 0 ? ` (also ${others.join('; ')})` : '';
    return new UserError(
      c.input,
      `could not connect to ${where(fixable.ep)}: ${fixable.why.problem}${also}`,
      fixable.why.fix,
    );
  }
  if (explained.length === 1) return (explained[0] as { e: Error }).e;
  const e = new Error(explained.map((x) => `${where(x.ep)}: ${errorMessage(x.e)}`).join('; ')) as Error & {
    code?: string;
  };
  const code = (explained[explained.length - 1]?.e as { code?: string } | undefined)?.code;
  if (code) e.code = code;
  return e;
}

const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

function explain(c: ConnInfo, ep: Endpoint, e: unknown): { problem: string; fix: string } | undefined {
  const code = (e as { code?: string }).code ?? '';
  const msg = errorMessage(e);
  const mode = c.sslmode ?? 'prefer';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      problem: `the server's certificate is not for ${ep.host} (sslmode=verify-full checks the host name: ${msg})`,
      fix: 'Connect by a host name the certificate names, or use sslmode=verify-ca to check the CA only',
    };
  }
  if (UNKNOWN_CA.has(code)) {
    const ca = c.sslrootcert === 'system' || !c.sslrootcert ? 'the trusted roots' : c.sslrootcert;
    return {
      problem: `the server's certificate is not signed by a CA in ${ca} (${code})`,
      fix: 'Set sslrootcert to the CA file that signed the server certificate',
    };
  }
  if (code === 'CERT_HAS_EXPIRED')
    return { problem: "the server's certificate has expired", fix: 'Renew the server certificate' };
  if (/does not support SSL/i.test(msg)) {
    return {
      problem: `the server does not take TLS connections, and sslmode=${mode} requires TLS`,
      fix: 'Turn ssl on at the server, or lower sslmode to prefer',
    };
  }
  if (code === '28000' && /no encryption/.test(msg) && mode === 'disable') {
    return {
      problem: `the server takes this role only over TLS (pg_hba.conf hostssl) and sslmode=disable turns TLS off (${msg})`,
      fix: 'Use sslmode=require, or verify-full with sslrootcert',
    };
  }
  if (e instanceof NoPassword) {
    return {
      problem: `the server asks a password of "${c.user}" and none was found${c.passfile ? ` (also not in ${c.passfile})` : ''}`,
      fix: 'Put it in a password file (PGPASSFILE, mode 0600), a service file or PGPASSWORD, never in argv',
    };
  }
  if (code === '28P01') {
    return {
      problem: `password authentication failed for user "${c.user}"`,
      fix: `Check the password in the URL, PGPASSWORD${c.passfile ? ` or ${c.passfile}` : ', the password file'}`,
    };
  }
  if (code === '28000' || code === '3D000' || code === '42501') {
    return { problem: msg, fix: 'Give the role access (pg_hba.conf, GRANT CONNECT), or fix user and dbname' };
  }
  return undefined;
}
