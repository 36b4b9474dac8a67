import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCompareOptions } from '../../src/comparison/options.js';
import { runCompare } from '../../src/comparison/run.js';
import { run } from '../../src/core/exec.js';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { parseDrillOptions } from '../../src/drill/options.js';
import { runDrill } from '../../src/drill/run.js';
import { plantMarker } from '../../src/pitr/marker.js';
import { findAll } from '../../src/postgres/binaries.js';
import { type ConnInfo, libpqEnv, parseDbUrl, queryRows } from '../../src/postgres/client.js';
import { freePort, ownerOf, ScratchCluster, scratchFolder } from '../../src/postgres/cluster.js';
import { dropScratchUser, makeScratchUser } from '../../src/postgres/scratch-user.js';
import { sql, startCluster, tempDir } from '../harness/pg.js';

let dir: string;
let tls: ScratchCluster;
let plainA: ScratchCluster;
let plainB: ScratchCluster;
let psql: string;
/** As root, the TLS server's user is made first: its key must be readable by it before the server starts. */
const serverUser = makeScratchUser();
const none = { PATH: process.env.PATH };

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for localhost and 127.0.0.1 signed by it, a client certificate, and a CA nobody used. */
function makeCertificates(): void {
  const key = (name: string) => ['-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`];
  openssl(['req', '-x509', ...key('ca'), '-out', 'ca.crt', '-days', '2', '-subj', '/CN=restorable test CA']);
  openssl(['req', '-x509', ...key('other'), '-out', 'other.crt', '-days', '2', '-subj', '/CN=another CA']);
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(['req', ...key('server'), '-out', 'server.csr', '-subj', '/CN=localhost']);
  openssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  ]);
  openssl(['req', ...key('client'), '-out', 'client.csr', '-subj', '/CN=certuser']);
  openssl([
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-out',
    'client.crt',
    '-days',
    '2',
  ]);
  fs.chmodSync(dir, 0o755);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), f.endsWith('.key') ? 0o600 : 0o644);
  const owner = ownerOf(serverUser);
  if (owner) fs.chownSync(path.join(dir, 'server.key'), owner.uid, owner.gid);
}

const f = (name: string) => path.join(dir, name);

beforeAll(async () => {
  dir = tempDir('connect');
  makeCertificates();
  tls = await startCluster({
    label: 'test-tls',
    ...(serverUser ? { osUser: serverUser } : {}),
    settings: {
      listen_addresses: '127.0.0.1,127.0.0.2',
      ssl: 'on',
      ssl_cert_file: f('server.crt'),
      ssl_key_file: f('server.key'),
      ssl_ca_file: f('ca.crt'),
    },
  });
  fs.writeFileSync(
    path.join(tls.dataDir, 'pg_hba.conf'),
    [
      'local all all trust',
      'hostssl all certuser 127.0.0.0/8 cert',
      'hostssl all all 127.0.0.0/8 scram-sha-256',
      '',
    ].join('\n'),
  );
  await sql(
    tls,
    'postgres',
    `CREATE ROLE app LOGIN CREATEDB PASSWORD 's3cret'; CREATE ROLE certuser LOGIN;
     CREATE ROLE marker LOGIN PASSWORD 'm4rker'; SELECT pg_reload_conf()`,
  );
  [plainA, plainB] = await Promise.all([
    startCluster({ label: 'test-a' }),
    startCluster({ label: 'test-b' }),
  ]);
  psql = (await findAll('psql'))[0]?.path as string;
}, 120_000);

afterAll(async () => {
  await Promise.all([tls?.stop(), plainA?.stop(), plainB?.stop()]);
  if (serverUser) dropScratchUser(serverUser);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The superuser of a scratch cluster over TCP: its password (a standby's is its primary's). */
const su = (c: ScratchCluster) => `postgres:${c.secret()}`;
const parse = (url: string, env: NodeJS.ProcessEnv = none) => parseDbUrl('source-url', url, () => {}, env);
const tlsUrl = (host: string, query: string, user = 'app:s3cret') =>
  `postgresql://${user}@${host}:${tls.port}/postgres?${query}`;

/** Whether the session is encrypted, asked through node-postgres. */
async function encrypted(c: ConnInfo): Promise<boolean> {
  const rows = await queryRows<{ ssl: boolean }>(
    c,
    'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
  );
  return rows[0]?.ssl === true;
}

/** The same through psql, which gets the connection only through libpqEnv. */
async function psqlSays(
  c: ConnInfo,
  query: string,
): Promise<{ code: number | null; out: string; err: string }> {
  const r = await run(psql, ['-X', '-At', '-c', query], { env: libpqEnv(c) });
  return { code: r.code, out: r.stdout.trim(), err: r.stderr.trim() };
}
const SSL_QUERY = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

describe('TLS as libpq means it', () => {
  it('require and verify-full connect, encrypted, through node-postgres and psql', async () => {
    for (const c of [
      parse(tlsUrl('127.0.0.1', 'sslmode=require')),
      parse(tlsUrl('localhost', `sslmode=verify-full&sslrootcert=${f('ca.crt')}`)),
      parse(tlsUrl('127.0.0.1', `sslmode=verify-full&sslrootcert=${f('ca.crt')}`)),
      // prefer (libpq's default) encrypts when the server can; allow tries plain first, which hostssl refuses.
      parse(tlsUrl('127.0.0.1', 'application_name=x')),
      parse(tlsUrl('127.0.0.1', 'sslmode=allow')),
    ]) {
      expect(await encrypted(c)).toBe(true);
      expect(await psqlSays(c, SSL_QUERY)).toMatchObject({ code: 0, out: 't' });
    }
  });

  it('verify-full against another host name, an unknown CA, disable against hostssl: one line naming the input', async () => {
    const wrongHost = parse(tlsUrl('127.0.0.2', `sslmode=verify-full&sslrootcert=${f('ca.crt')}`));
    await expect(encrypted(wrongHost)).rejects.toThrow(
      /^source-url: could not connect to 127\.0\.0\.2:\d+: the server's certificate is not for 127\.0\.0\.2 .*\. Connect by a host name the certificate names/,
    );
    expect((await psqlSays(wrongHost, 'SELECT 1')).code).not.toBe(0);
    // verify-ca checks the chain only: the same host is fine.
    expect(await encrypted(parse(tlsUrl('127.0.0.2', `sslmode=verify-ca&sslrootcert=${f('ca.crt')}`)))).toBe(
      true,
    );

    const unknownCa = parse(tlsUrl('localhost', `sslmode=verify-full&sslrootcert=${f('other.crt')}`));
    await expect(encrypted(unknownCa)).rejects.toThrow(
      /^source-url: could not connect to localhost:\d+: the server's certificate is not signed by a CA in .*other\.crt/,
    );
    expect((await psqlSays(unknownCa, 'SELECT 1')).code).not.toBe(0);
    // require with a root certificate verifies the chain, as in libpq.
    await expect(
      encrypted(parse(tlsUrl('localhost', `sslmode=require&sslrootcert=${f('other.crt')}`))),
    ).rejects.toThrow(/not signed by a CA/);

    // sslrootcert=system: Node's trusted roots, which never signed this test's CA.
    await expect(encrypted(parse(tlsUrl('localhost', 'sslrootcert=system')))).rejects.toThrow(
      /^source-url: could not connect to localhost:\d+: the server's certificate is not signed by a CA in the trusted roots/,
    );

    const disabled = parse(tlsUrl('127.0.0.1', 'sslmode=disable'));
    await expect(encrypted(disabled)).rejects.toThrow(
      /^source-url: could not connect to 127\.0\.0\.1:\d+: the server takes this role only over TLS .*sslmode=disable.*\. Use sslmode=require/,
    );
    expect((await psqlSays(disabled, 'SELECT 1')).err).toMatch(/no encryption/);

    await expect(encrypted(parse(tlsUrl('127.0.0.1', 'sslmode=require', 'app:wrong')))).rejects.toThrow(
      /^source-url: could not connect to 127\.0\.0\.1:\d+: password authentication failed for user "app"\. /,
    );
    await expect(encrypted(parse(tlsUrl('127.0.0.1', 'sslmode=require', 'app')))).rejects.toThrow(
      /^source-url: could not connect .*: the server asks a password of "app" and none was found/,
    );
  });

  it('a client certificate authenticates (cert auth)', async () => {
    const c = parse(
      tlsUrl(
        'localhost',
        `sslmode=verify-full&sslrootcert=${f('ca.crt')}&sslcert=${f('client.crt')}&sslkey=${f('client.key')}`,
        'certuser',
      ),
    );
    expect(await queryRows<{ u: string }>(c, 'SELECT current_user AS u')).toEqual([{ u: 'certuser' }]);
    expect(await psqlSays(c, 'SELECT current_user')).toMatchObject({ code: 0, out: 'certuser' });
  });
});

describe('passwords and services, never in argv', () => {
  it('a password file named by PGPASSFILE (0600) gives node-postgres and psql the password', async () => {
    const file = f('pgpass');
    fs.writeFileSync(file, `localhost:${tls.port}:*:app:s3cret\n`, { mode: 0o600 });
    const secrets: string[] = [];
    const c = parseDbUrl(
      'source-url',
      tlsUrl('localhost', 'sslmode=require', 'app'),
      (s) => secrets.push(s),
      {
        ...none,
        PGPASSFILE: file,
      },
    );
    expect(secrets).toEqual(['s3cret']);
    expect(c.password).toBeUndefined();
    expect(libpqEnv(c)).toMatchObject({ PGPASSFILE: file, PGSSLMODE: 'require' });
    expect(libpqEnv(c).PGPASSWORD).toBeUndefined();
    expect(await encrypted(c)).toBe(true);
    expect(await psqlSays(c, 'SELECT current_user')).toMatchObject({ code: 0, out: 'app' });
  });

  it('PGSERVICE with a service file (PGSERVICEFILE) fills what the string leaves out', async () => {
    const file = f('pg_service.conf');
    fs.writeFileSync(
      file,
      `# test\n[shop]\nhost=localhost\nport=${tls.port}\nuser=app\npassword=s3cret\ndbname=postgres\nsslmode=verify-full\nsslrootcert=${f('ca.crt')}\n`,
    );
    const env = { ...none, PGSERVICEFILE: file, PGSERVICE: 'shop' };
    const secrets: string[] = [];
    const c = parseDbUrl('source-url', 'application_name=svc', (p) => secrets.push(p), env);
    expect(secrets).toEqual(['s3cret']);
    expect(c).toMatchObject({
      host: 'localhost',
      user: 'app',
      sslmode: 'verify-full',
      applicationName: 'svc',
    });
    expect(await encrypted(c)).toBe(true);
    expect(await psqlSays(c, 'SELECT current_user')).toMatchObject({ code: 0, out: 'app' });
    expect(() => parseDbUrl('source-url', 'service=nope', () => {}, env)).toThrow(
      /^source-url: names the service "nope", which is in none of /,
    );
  });
});

describe('sockets and several hosts', () => {
  it('a socket URL with host= and port= reaches the server on that port', async () => {
    for (const s of [plainA, plainB]) {
      const c = parse(
        `postgresql://postgres@/postgres?host=${encodeURIComponent(s.socketDir)}&port=${s.port}`,
      );
      expect(await queryRows(c, "SELECT current_setting('port') AS p")).toEqual([{ p: String(s.port) }]);
      expect(await psqlSays(c, 'SHOW port')).toMatchObject({ code: 0, out: String(s.port) });
      const kv = parse(`host=${s.socketDir} port=${s.port} user=postgres dbname=postgres`);
      expect(await queryRows(kv, "SELECT current_setting('port') AS p")).toEqual([{ p: String(s.port) }]);
    }
  });

  it('the first host down, the second answers (node-postgres and psql)', async () => {
    const down = await freePort();
    const c = parse(
      `postgresql://${su(plainB)}@127.0.0.1:${down},127.0.0.1:${plainB.port}/postgres?sslmode=disable`,
    );
    expect(await queryRows(c, "SELECT current_setting('port') AS p")).toEqual([{ p: String(plainB.port) }]);
    expect(await psqlSays(c, 'SHOW port')).toMatchObject({ code: 0, out: String(plainB.port) });
  });
});

describe('a hot standby', () => {
  let primary: ScratchCluster;
  let standby: ScratchCluster;

  beforeAll(async () => {
    primary = await startCluster({ label: 'test-primary', tuning: 'default' });
    await sql(primary, 'postgres', 'CREATE DATABASE shop');
    await sql(
      primary,
      'shop',
      'CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 300)',
    );
    const root = scratchFolder('test-standby', primary.osUser);
    const data = path.join(root, 'data');
    const bb = await run(
      path.join(primary.bin.dir, 'pg_basebackup'),
      [
        '-h',
        primary.socketDir,
        '-p',
        String(primary.port),
        '-U',
        'postgres',
        '-D',
        data,
        '-R',
        '--checkpoint=fast',
      ],
      { user: primary.osUser },
    );
    if (bb.code !== 0) throw new Error(`pg_basebackup failed: ${bb.stderr}`);
    const port = await freePort();
    fs.appendFileSync(
      path.join(data, 'postgresql.auto.conf'),
      `port = ${port}\nunix_socket_directories = '${path.join(root, 'socket')}'\nhot_standby = on\n`,
    );
    const start = await run(
      path.join(primary.bin.dir, 'pg_ctl'),
      ['-D', data, '-l', path.join(root, 'server.log'), '-w', '-t', '60', 'start'],
      { user: primary.osUser },
    );
    if (start.code !== 0) throw new Error(`the standby did not start: ${start.stderr}`);
    standby = ScratchCluster.adopt(root, port, primary.bin, primary.osUser, {});
  }, 180_000);

  afterAll(async () => {
    await Promise.all([standby?.stop(), primary?.stop()]);
  });

  const both = (attrs: string) =>
    parse(
      `postgresql://${su(primary)}@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/postgres?target_session_attrs=${attrs}`,
    );
  const recovery = async (c: ConnInfo) =>
    (await queryRows<{ r: boolean }>(c, 'SELECT pg_is_in_recovery() AS r'))[0]?.r;

  it('target_session_attrs picks the primary or the standby, for node-postgres and psql', async () => {
    expect(await recovery(both('any'))).toBe(true);
    expect(await recovery(both('read-write'))).toBe(false);
    expect(await recovery(both('primary'))).toBe(false);
    expect(await recovery(both('standby'))).toBe(true);
    expect(await recovery(both('prefer-standby'))).toBe(true);
    expect(await psqlSays(both('read-write'), 'SELECT pg_is_in_recovery()')).toMatchObject({
      code: 0,
      out: 'f',
    });
    const onlyPrimary = parse(
      `postgresql://${su(primary)}@127.0.0.1:${primary.port}/postgres?target_session_attrs=standby`,
    );
    await expect(recovery(onlyPrimary)).rejects.toThrow(/the session is not standby/);
  });

  it('compare-counts counts on the standby', async () => {
    // The standby has replayed the orders once it answers with them.
    const standbyShop = `postgresql://${su(primary)}@127.0.0.1:${standby.port}/shop`;
    for (let i = 0; i < 100; i++) {
      const n = await queryRows<{ n: string }>(parse(standbyShop), 'SELECT count(*) AS n FROM orders').catch(
        () => [],
      );
      if (n[0]?.n === '300') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const log = memoryLogger();
    const r = await runCompare(
      parseCompareOptions({ 'source-url': standbyShop, 'target-url': primary.url('shop') }, 'input', log),
      log,
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    const disabled = parseCompareOptions(
      { 'source-url': standbyShop, 'target-url': tlsUrl('127.0.0.1', 'sslmode=disable') },
      'input',
      log,
    );
    await expect(runCompare(disabled, log)).rejects.toThrow(
      /^target-url: could not connect .*sslmode=disable/,
    );
  });
});

describe('least privileges', () => {
  it('a marker role without EXECUTE on pg_create_restore_point: one line naming it, nothing written', async () => {
    await sql(tls, 'postgres', 'GRANT CREATE ON DATABASE postgres TO marker');
    const url = tlsUrl('localhost', `sslmode=verify-full&sslrootcert=${f('ca.crt')}`, 'marker:m4rker');
    await expect(plantMarker(url, memoryLogger())).rejects.toThrow(
      /^marker-url: the role "marker" may not EXECUTE pg_create_restore_point\(text\) and pg_switch_wal\(\), which a marker needs; nothing was written\. Grant it: GRANT EXECUTE ON FUNCTION pg_create_restore_point\(text\) TO "marker";/,
    );
    const left = await queryRows(tls.conn(), "SELECT 1 FROM pg_namespace WHERE nspname = 'restorable'");
    expect(left).toEqual([]);
  });

  it('a compare source that may not read a table, a drill target without CREATEDB: one line naming the grant', async () => {
    await sql(plainB, 'postgres', 'CREATE DATABASE shop');
    await sql(plainB, 'postgres', "CREATE ROLE nobody LOGIN PASSWORD 'n0body'");
    await sql(plainB, 'shop', 'CREATE TABLE secret_orders (id int); GRANT USAGE ON SCHEMA public TO nobody');
    const log = memoryLogger();
    const opts = parseCompareOptions(
      {
        'source-url': `postgresql://nobody:n0body@127.0.0.1:${plainB.port}/shop`,
        'target-url': plainB.url('shop'),
      },
      'input',
      log,
    );
    await expect(runCompare(opts, log)).rejects.toThrow(
      /^source-url: the role "nobody" was refused: permission denied for table secret_orders\. Grant it: GRANT SELECT ON secret_orders TO "nobody";/,
    );
    const dump = await dumpDatabase(plainB, 'shop', path.join(dir, 'secret.dump'));
    const drill = parseDrillOptions(
      {
        source: dump,
        'max-age': '1000d',
        checksum: 'skip',
        'target-url': `postgresql://nobody:n0body@127.0.0.1:${plainB.port}/postgres`,
      },
      'input',
    );
    await expect(runDrill(drill, memoryLogger())).rejects.toThrow(
      /^target-url: the role "nobody" was refused: permission denied to create database\. Give the role CREATEDB: ALTER ROLE "nobody" CREATEDB;/,
    );
  });

  it('a target-url drill through TLS verify-full, as a CREATEDB role: pg_restore and psql get the TLS settings', async () => {
    await sql(plainA, 'postgres', 'CREATE DATABASE shop');
    await sql(
      plainA,
      'shop',
      'CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 50)',
    );
    const dump = await dumpDatabase(plainA, 'shop', path.join(dir, 'shop.dump'));
    const plain = await dumpDatabase(plainA, 'shop', path.join(dir, 'shop.sql'), { format: 'p' });
    for (const source of [dump, plain]) {
      const opts = parseDrillOptions(
        {
          source,
          'max-age': '1000d',
          checksum: 'skip',
          'target-url': tlsUrl('localhost', `sslmode=verify-full&sslrootcert=${f('ca.crt')}`),
        },
        'input',
      );
      const r = await runDrill(opts, memoryLogger());
      expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    }
    // sslrootcert=system: the system's roots (SSL_CERT_FILE, as OpenSSL reads it, else the
    // distribution's bundle), for node-postgres and for psql/pg_restore, whose libpq 15 would
    // read "system" as a file name. Here the system's roots are the test's CA.
    const was = process.env.SSL_CERT_FILE;
    process.env.SSL_CERT_FILE = f('ca.crt');
    try {
      for (const source of [dump, plain]) {
        const opts = parseDrillOptions(
          {
            source,
            'max-age': '1000d',
            checksum: 'skip',
            'target-url': tlsUrl('localhost', 'sslrootcert=system'),
          },
          'input',
        );
        const r = await runDrill(opts, memoryLogger());
        expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
      }
    } finally {
      if (was === undefined) delete process.env.SSL_CERT_FILE;
      else process.env.SSL_CERT_FILE = was;
    }
    // The distribution's roots do not hold the test's CA: refused, as libpq would.
    const system = parseDrillOptions(
      {
        source: dump,
        'max-age': '1000d',
        checksum: 'skip',
        'target-url': tlsUrl('localhost', 'sslrootcert=system'),
      },
      'input',
    );
    await expect(runDrill(system, memoryLogger())).rejects.toThrow(
      /^target-url: could not connect to localhost:\d+: /,
    );
    // A TLS mistake on target-url is the user's to fix: one line naming the input, not a finding.
    const wrongCa = parseDrillOptions(
      {
        source: dump,
        'max-age': '1000d',
        checksum: 'skip',
        'target-url': tlsUrl('localhost', `sslmode=verify-full&sslrootcert=${f('other.crt')}`),
      },
      'input',
    );
    await expect(runDrill(wrongCa, memoryLogger())).rejects.toThrow(
      /^target-url: could not connect to localhost:\d+: the server's certificate is not signed by a CA in /,
    );
    // A wrong password is the password's fix, not "missing server binaries, no disk space".
    const wrongPassword = parseDrillOptions(
      {
        source: dump,
        'max-age': '1000d',
        checksum: 'skip',
        'target-url': tlsUrl('localhost', `sslmode=verify-full&sslrootcert=${f('ca.crt')}`, 'app:wrong'),
      },
      'input',
    );
    await expect(runDrill(wrongPassword, memoryLogger())).rejects.toThrow(
      /^target-url: could not connect to localhost:\d+: password authentication failed for user "app"\. Check the password in the URL, PGPASSWORD/,
    );
    const left = await queryRows<{ d: string }>(
      tls.conn(),
      "SELECT datname AS d FROM pg_database WHERE datname LIKE 'restorable_drill_%'",
    );
    expect(left).toEqual([]);
  });
});
