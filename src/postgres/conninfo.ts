import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseUrl } from 'pg-connection-string';
// A static import, so the bundle carries it: pgpass's own entry reads PGPASSFILE from process.env.
import pgpass from 'pgpass/lib/helper.js';
import { UserError } from '../core/errors.js';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];
export const SESSION_ATTRS = [
  'any',
  'read-write',
  'read-only',
  'primary',
  'standby',
  'prefer-standby',
] as const;
export type SessionAttrs = (typeof SESSION_ATTRS)[number];

export interface Endpoint {
  host: string;
  port: number;
}

/** Where to reach a server: the one shape every part of Restorable talks to Postgres through. */
export interface ConnInfo {
  /** The (first) host: a name, an address, or a Unix socket folder. */
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
  /** Server settings for the session (`-c name=value ...`), e.g. a read-only session. */
  options?: string;
  /** Every host to try, in order, when there are several (libpq's multi-host); host:port is the first. */
  hosts?: Endpoint[];
  /** libpq's sslmode; absent means libpq's default, prefer. */
  sslmode?: SslMode;
  /** A CA file, or `system` for the default trusted roots. */
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  sslcrl?: string;
  targetSessionAttrs?: SessionAttrs;
  /** The password file consulted when no password is given (passfile=, PGPASSFILE, ~/.pgpass). */
  passfile?: string;
  applicationName?: string;
  /** Seconds; libpq's connect_timeout. */
  connectTimeout?: number;
  /** The input this connection came from: connection errors name it. */
  input?: string;
}

type Params = Record<string, string>;

/** The libpq keywords Restorable understands, and the environment variable that defaults each. */
const KEYWORDS: Record<string, string | undefined> = {
  host: 'PGHOST',
  port: 'PGPORT',
  user: 'PGUSER',
  password: 'PGPASSWORD',
  dbname: 'PGDATABASE',
  passfile: 'PGPASSFILE',
  service: 'PGSERVICE',
  options: 'PGOPTIONS',
  application_name: 'PGAPPNAME',
  fallback_application_name: undefined,
  connect_timeout: 'PGCONNECT_TIMEOUT',
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  sslcrl: 'PGSSLCRL',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
};

/**
 * libpq keywords Restorable does not pass on: each is a clear line saying so and what to do
 * instead, not "unknown parameter" (the user wrote real libpq).
 */
const NOT_SUPPORTED: Record<string, string> = {
  hostaddr: 'Give the address as host= instead (Restorable connects to the host it names)',
  sslpassword:
    'Decrypt the client key once (openssl pkey -in key.pem -out plain.pem) and keep it readable only by the runner (chmod 600)',
  sslsni: "Leave it out: TLS connections always send the host name (libpq's default, sslsni=1)",
  gssencmode: 'GSSAPI is not supported: use password (scram-sha-256) or certificate authentication',
  krbsrvname: 'GSSAPI is not supported: use password (scram-sha-256) or certificate authentication',
  gsslib: 'GSSAPI is not supported: use password (scram-sha-256) or certificate authentication',
  channel_binding:
    'Leave it out: SCRAM is used as the server offers it; require TLS with sslmode=verify-full to be sure of the server',
  require_auth:
    'Leave it out, and make the server side decide (pg_hba.conf: scram-sha-256 or cert); sslmode=verify-full makes sure it is your server',
  ssl_min_protocol_version: 'Leave it out: Node negotiates TLS 1.2 or newer',
  ssl_max_protocol_version: 'Leave it out: Node negotiates TLS 1.2 or newer',
  sslcertmode: 'Leave it out: a client certificate is sent when sslcert is given',
  requirepeer: "Leave it out: check the socket folder's owner instead (Unix sockets only)",
  keepalives: 'Leave it out: connections use TCP keepalives',
  keepalives_idle: 'Leave it out: connections use TCP keepalives',
  keepalives_interval: 'Leave it out: connections use TCP keepalives',
  keepalives_count: 'Leave it out: connections use TCP keepalives',
  tcp_user_timeout: 'Leave it out; connect_timeout bounds the connection',
  load_balance_hosts: 'Leave it out: hosts are tried in the order given',
  replication: 'Leave it out: Restorable opens normal sessions only',
};

/** Where distributions keep the trusted roots, as OpenSSL (and so libpq 16's sslrootcert=system) finds them. */
const SYSTEM_ROOTS = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

/**
 * The file sslrootcert=system means: SSL_CERT_FILE (OpenSSL's own override), else the
 * distribution's bundle; undefined when there is none (then Node's bundled roots). Given to
 * node-postgres and, as PGSSLROOTCERT, to psql and pg_restore, whose libpq before 16 reads
 * "system" as a file name.
 */
export function systemRootFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return [env.SSL_CERT_FILE, ...SYSTEM_ROOTS].find((f) => f && fs.existsSync(f));
}

const FORMS =
  'Write it as postgresql://user@host:5432/database?sslmode=verify-full or as host=... dbname=...';

/** A keyword Restorable reads, else one line: a libpq one it does not support (and what instead), or unknown. */
function checkKeyword(input: string, k: string, where: string): void {
  const instead = NOT_SUPPORTED[k];
  if (instead)
    throw new UserError(input, `${where}sets "${k}", a libpq parameter Restorable does not support`, instead);
  if (!(k in KEYWORDS)) throw new UserError(input, `${where}has an unknown parameter "${k}"`, FORMS);
}

/**
 * Read a connection string (a postgres:// URL or a keyword/value string) the way libpq does: the
 * service file fills what it leaves out, then the PG* environment, then libpq's defaults. Every
 * password read (the string's, the service file's, PGPASSWORD, the password file's) is registered
 * as a secret the moment it is read.
 */
export function parseDbUrl(
  input: string,
  value: string,
  secret: (s: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): ConnInfo {
  const text = value.trim();
  const given = /^postgres(ql)?:\/\//i.test(text)
    ? fromUrl(input, text)
    : text.includes('=')
      ? fromKeywords(input, text)
      : undefined;
  if (!given) throw new UserError(input, 'is not a PostgreSQL URL or keyword/value string', FORMS);
  if (given.password) secret(given.password);
  for (const k of Object.keys(given)) checkKeyword(input, k, '');
  const p = { ...serviceParams(input, given.service ?? env.PGSERVICE, env), ...given };
  for (const [k, v] of Object.entries(KEYWORDS)) {
    const fromEnv = v ? env[v] : undefined;
    if (p[k] === undefined && fromEnv !== undefined && fromEnv !== '') p[k] = fromEnv;
  }
  if (p.password && !given.password) secret(p.password);
  return toConnInfo(input, p, secret);
}

/** The host handed to the parser, whose own host handling cannot read a host list. */
const PLACEHOLDER = 'placeholder.invalid';

/** A URL, through pg-connection-string; the host list (a,b:5433) is split here, which it cannot. */
function fromUrl(input: string, url: string): Params | undefined {
  const m = /^postgres(?:ql)?:\/\/([^/?#]*)(.*)$/is.exec(url);
  if (!m) return undefined;
  const authority = m[1] as string;
  if (/@/.test((m[2] as string).split('?')[0] as string)) {
    // Nothing of it is echoed: what follows may be a password cut in two.
    throw new UserError(
      input,
      'has an @ after its host part',
      'Percent-encode a / ? # or @ in the user name or password (%2F %3F %23 %40)',
    );
  }
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostList = authority.slice(at + 1);
  // The parser reads sslcert/sslkey/sslrootcert files itself and maps sslmode to its own `ssl`; the
  // ssl* parameters are carried past it under another name and read here, where errors name the input.
  const rest = (m[2] as string).replace(/([?&])(ssl\w*)=/gi, '$1restorable_$2=');
  let parsed: Record<string, unknown>;
  try {
    parsed = parseUrl(
      `postgresql://${userinfo}${PLACEHOLDER}${rest.startsWith('/') || rest === '' ? '' : '/'}${rest}`,
    ) as unknown as Record<string, unknown>;
  } catch {
    throw new UserError(input, 'is not a valid PostgreSQL URL', FORMS);
  }
  const out: Params = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string' || v === '' || k === 'ssl') continue;
    out[k.replace(/^restorable_/, '')] = v;
  }
  delete out.host;
  delete out.port;
  if (out.database !== undefined) out.dbname = out.database;
  delete out.database;
  // ?host= wins over the host part; the host part's ports stay unless ?port= is given too.
  const split = hostList === '' ? {} : splitHostList(input, hostList);
  Object.assign(out, split);
  if (typeof parsed.host === 'string' && parsed.host !== PLACEHOLDER) out.host = parsed.host;
  if (typeof parsed.port === 'string' && parsed.port !== '') out.port = parsed.port;
  return out;
}

/** `a:1,[::1]:2,b` into host=a,::1,b port=1,2,(empty: the default). */
function splitHostList(input: string, list: string): Params {
  const hosts: string[] = [];
  const ports: string[] = [];
  for (const part of list.split(',')) {
    const m = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(part);
    if (!m) throw new UserError(input, 'has a host that cannot be read', FORMS);
    hosts.push(decodeURIComponent((m[1] as string).replace(/^\[(.*)\]$/, '$1')));
    ports.push(m[2] ?? '');
  }
  return { host: hosts.join(','), ...(ports.some((p) => p !== '') ? { port: ports.join(',') } : {}) };
}

/** libpq's keyword/value form: `key=value` pairs, values optionally in single quotes with \ escapes. */
function fromKeywords(input: string, text: string): Params {
  const out: Params = {};
  const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|((?:[^\s'\\]|\\.)*))/gy;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out[m[1] as string] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
    at = re.lastIndex;
  }
  if (text.slice(at).trim() !== '') {
    // The rest is not echoed: it may hold a password.
    const after = Object.keys(out).pop();
    throw new UserError(
      input,
      `cannot be read ${after ? `after ${after}=` : 'from the start'} (a quote left open, or a word without =)`,
      FORMS,
    );
  }
  return out;
}

/** The named service's settings: PGSERVICEFILE or ~/.pg_service.conf first, then PGSYSCONFDIR's. */
function serviceParams(input: string, service: string | undefined, env: NodeJS.ProcessEnv): Params {
  if (!service) return {};
  const files = [
    env.PGSERVICEFILE ?? path.join(os.homedir(), '.pg_service.conf'),
    path.join(env.PGSYSCONFDIR ?? '/etc/postgresql-common', 'pg_service.conf'),
  ];
  for (const file of files) {
    const found = readService(file, service);
    if (!found) continue;
    for (const k of Object.keys(found)) {
      if (k === 'service') {
        throw new UserError(input, `service "${service}" in ${file} has an unknown parameter "${k}"`, FORMS);
      }
      checkKeyword(input, k, `service "${service}" in ${file} `);
    }
    return found;
  }
  throw new UserError(
    input,
    `names the service "${service}", which is in none of ${files.join(', ')}`,
    'Define it there ([name] then key=value lines), or point PGSERVICEFILE at the file that has it',
  );
}

function readService(file: string, service: string): Params | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let current: Params | undefined;
  let found: Params | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[(.*)\]$/.exec(line);
    if (section) {
      current = section[1] === service ? {} : undefined;
      if (current) found = current;
      continue;
    }
    const eq = line.indexOf('=');
    if (current && eq > 0) current[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return found;
}

function oneOf<T extends string>(
  input: string,
  name: string,
  v: string | undefined,
  all: readonly T[],
): T | undefined {
  if (v === undefined) return undefined;
  if ((all as readonly string[]).includes(v)) return v as T;
  throw new UserError(
    input,
    `has ${name}=${v}, which is not one of ${all.join(', ')}`,
    `Set ${name} to one of them`,
  );
}

function endpoints(input: string, p: Params): Endpoint[] {
  const defaultHost = fs.existsSync('/var/run/postgresql') ? '/var/run/postgresql' : 'localhost';
  const hosts = (p.host ?? '').split(',').map((h) => h || defaultHost);
  const ports = (p.port ?? '').split(',');
  if (ports.length !== 1 && ports.length !== hosts.length) {
    throw new UserError(
      input,
      `has ${hosts.length} hosts and ${ports.length} ports`,
      'Give one port for all hosts, or one per host, in the same order',
    );
  }
  return hosts.map((host, i) => {
    const raw = (ports.length === 1 ? ports[0] : ports[i]) || '5432';
    const port = Number(raw);
    if (!/^\d+$/.test(raw) || port < 1 || port > 65535) {
      throw new UserError(
        input,
        `has a port${/^\d{1,8}$/.test(raw) ? ` "${raw}"` : ''} that is not a port number`,
        'Use a number from 1 to 65535',
      );
    }
    return { host, port };
  });
}

function readable(input: string, name: string, file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new UserError(
      input,
      `names ${name} ${file}, which cannot be read`,
      `Fix the path of ${name}, or make the file readable`,
    );
  }
  return file;
}

function sslFiles(input: string, p: Params, mode: SslMode | undefined): Partial<ConnInfo> {
  const root = p.sslrootcert;
  if (root === 'system' && mode !== undefined && mode !== 'verify-full') {
    throw new UserError(
      input,
      `has sslrootcert=system with sslmode=${mode}`,
      'sslrootcert=system needs sslmode=verify-full (as libpq requires): set it, or name a CA file',
    );
  }
  const out: Partial<ConnInfo> = {};
  const rootcert = root === 'system' ? root : readable(input, 'sslrootcert', root);
  if (rootcert) out.sslrootcert = rootcert;
  for (const k of ['sslcert', 'sslkey', 'sslcrl'] as const) {
    const f = readable(input, k, p[k]);
    if (f) out[k] = f;
  }
  if (mode === 'verify-ca' || mode === 'verify-full') {
    const fallback = path.join(os.homedir(), '.postgresql', 'root.crt');
    if (!out.sslrootcert && !fs.existsSync(fallback)) {
      throw new UserError(
        input,
        `has sslmode=${mode} but no CA to verify the server with (no sslrootcert, no ${fallback})`,
        'Set sslrootcert to the CA file that signed the server certificate, or sslrootcert=system for the trusted roots',
      );
    }
  }
  return out;
}

function toConnInfo(input: string, p: Params, secret: (s: string) => void): ConnInfo {
  const sslmode = oneOf(
    input,
    'sslmode',
    p.sslmode ?? (p.sslrootcert === 'system' ? 'verify-full' : undefined),
    SSL_MODES,
  );
  const attrs = oneOf(input, 'target_session_attrs', p.target_session_attrs, SESSION_ATTRS);
  const eps = endpoints(input, p);
  const first = eps[0] as Endpoint;
  const user = p.user ?? os.userInfo().username;
  const timeout = p.connect_timeout === undefined ? undefined : Number(p.connect_timeout);
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 0)) {
    throw new UserError(input, `has connect_timeout=${p.connect_timeout}`, 'Give whole seconds');
  }
  const passfile = p.passfile ?? (fs.existsSync(defaultPassfile()) ? defaultPassfile() : undefined);
  const c: ConnInfo = {
    host: first.host,
    port: first.port,
    user,
    database: p.dbname ?? user,
    ...(p.password ? { password: p.password } : {}),
    ...(p.options ? { options: p.options } : {}),
    ...(eps.length > 1 ? { hosts: eps } : {}),
    ...(sslmode ? { sslmode } : {}),
    ...sslFiles(input, p, sslmode),
    ...(attrs ? { targetSessionAttrs: attrs } : {}),
    ...(passfile && !p.password ? { passfile } : {}),
    ...(p.application_name || p.fallback_application_name
      ? { applicationName: (p.application_name || p.fallback_application_name) as string }
      : {}),
    ...(timeout !== undefined ? { connectTimeout: timeout } : {}),
    input,
  };
  if (c.passfile) for (const pw of passfileSecrets(c)) secret(pw);
  return c;
}

/** libpq's password file when none is named. */
export function defaultPassfile(): string {
  return path.join(os.homedir(), '.pgpass');
}

type PassEntry = NonNullable<ReturnType<typeof pgpass.parseLine>>;

function passEntries(file: string): PassEntry[] {
  try {
    const stat = fs.statSync(file);
    // pgpass's own rule (a regular file, no group or world access), minus its PGPASSWORD check:
    // the environment was read when the connection was parsed.
    if (!stat.isFile() || (stat.mode & 0o077) !== 0) return [];
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => pgpass.parseLine(l.replace(/\r$/, '')))
      .filter((e): e is PassEntry => e !== null && pgpass.isValidEntry(e));
  } catch {
    return [];
  }
}

/** Every password the file holds for this connection's hosts and user (whatever the database). */
function passfileSecrets(c: ConnInfo): string[] {
  const eps = c.hosts ?? [c];
  return passEntries(c.passfile as string)
    .filter((e) =>
      eps.some((ep) =>
        pgpass.match({ host: passHost(ep.host, e), port: ep.port, database: e.database, user: c.user }, e),
      ),
    )
    .map((e) => e.password);
}

/** A socket folder matches its own path in the password file, or `localhost` (as in libpq). */
function passHost(host: string, e: PassEntry): string {
  return host.startsWith('/') && e.host === 'localhost' ? 'localhost' : host;
}

/** The password file's password for one host of `c`, in `c`'s database; undefined when it has none. */
export function passwordFromFile(c: ConnInfo, ep: Endpoint): string | undefined {
  if (!c.passfile) return undefined;
  const want = (e: PassEntry) => ({
    host: passHost(ep.host, e),
    port: ep.port,
    database: c.database,
    user: c.user,
  });
  return passEntries(c.passfile).find((e) => pgpass.match(want(e), e))?.password;
}
