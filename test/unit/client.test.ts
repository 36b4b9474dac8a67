import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childEnv } from '../../src/core/exec.js';
import { libpqEnv, maskedUrl, parseDbUrl } from '../../src/postgres/client.js';

/** No PG* defaults: what the string says, and libpq's defaults. */
const env = { PATH: process.env.PATH };
const parse = (url: string, e: NodeJS.ProcessEnv = env) => parseDbUrl('x', url, () => {}, e);

describe('database URLs', () => {
  it('reads host, port, user, database and password; the password is registered as a secret', () => {
    const secrets: string[] = [];
    const c = parseDbUrl(
      'source-url',
      'postgresql://reader:s%3Acret@db.internal:6432/app',
      (s) => secrets.push(s),
      env,
    );
    expect(c).toEqual({
      host: 'db.internal',
      port: 6432,
      user: 'reader',
      database: 'app',
      password: 's:cret',
      input: 'source-url',
    });
    expect(secrets).toEqual(['s:cret']);
    expect(maskedUrl(c)).toBe('postgresql://reader:***@db.internal:6432/app');
  });

  it('a ?host= Unix socket folder wins over the host part, which may be empty; ?port= is honoured', () => {
    const c = parse('postgresql://postgres@localhost:5433/postgres?host=%2Ftmp%2Fsock');
    expect(c.host).toBe('/tmp/sock');
    expect(parse('postgresql:///app?host=/run/postgresql').host).toBe('/run/postgresql');
    expect(maskedUrl(c)).toBe('postgresql://postgres@localhost:5433/postgres?host=%2Ftmp%2Fsock');
    expect(parse('postgresql://postgres@/shop?host=/run/postgresql&port=5433')).toMatchObject({
      host: '/run/postgresql',
      port: 5433,
      user: 'postgres',
      database: 'shop',
    });
    expect(parse('postgresql:///shop?host=/tmp&port=57004')).toMatchObject({ host: '/tmp', port: 57004 });
  });

  it('several hosts, in order, with target_session_attrs; libpqEnv passes them all to libpq', () => {
    const c = parse('postgresql://u@a:1,[::1]:2,b/db?target_session_attrs=read-write&sslmode=require');
    expect(c.hosts).toEqual([
      { host: 'a', port: 1 },
      { host: '::1', port: 2 },
      { host: 'b', port: 5432 },
    ]);
    expect(maskedUrl(c)).toBe(
      'postgresql://u@a:1,[::1]:2,b:5432/db?sslmode=require&target_session_attrs=read-write',
    );
    expect(libpqEnv(c)).toMatchObject({
      PGHOST: 'a,::1,b',
      PGPORT: '1,2,5432',
      PGSSLMODE: 'require',
      PGTARGETSESSIONATTRS: 'read-write',
    });
  });

  it('keyword/value strings, quoted values and escapes included', () => {
    const secrets: string[] = [];
    const c = parseDbUrl(
      'target-url',
      "host=a,b port=1,2 user=app dbname='my db' password='it\\'s' application_name=x",
      (s) => secrets.push(s),
      env,
    );
    expect(c).toMatchObject({ host: 'a', database: 'my db', password: "it's", applicationName: 'x' });
    expect(c.hosts?.map((h) => h.port)).toEqual([1, 2]);
    expect(secrets).toEqual(["it's"]);
    expect(maskedUrl(c)).toBe('postgresql://app:***@a:1,b:2/my%20db?application_name=x');
  });

  it('the PG* environment fills what the string leaves out, the string wins', () => {
    const e = {
      PGHOST: 'envhost',
      PGPORT: '7000',
      PGUSER: 'envuser',
      PGPASSWORD: 'envpw',
      PGSSLMODE: 'verify-ca',
    };
    const secrets: string[] = [];
    const root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'client-')), 'ca.crt');
    fs.writeFileSync(root, 'x');
    const c = parseDbUrl('x', `dbname=app sslrootcert=${root}`, (s) => secrets.push(s), e);
    expect(c).toMatchObject({
      host: 'envhost',
      port: 7000,
      user: 'envuser',
      database: 'app',
      sslmode: 'verify-ca',
    });
    expect(secrets).toEqual(['envpw']);
    expect(parse('postgresql://other@h:1/db', { ...e, PGSSLMODE: 'require' })).toMatchObject({
      host: 'h',
      port: 1,
      user: 'other',
    });
    // Secrets never travel in argv, and an unmasked one never in maskedUrl.
    expect(maskedUrl(c)).not.toContain('envpw');
    fs.rmSync(path.dirname(root), { recursive: true });
  });

  it('refuses what is not a PostgreSQL URL, and bad parameters, in one line naming the input', () => {
    expect(() => parseDbUrl('target-url', 'mysql://x@y/z', () => {})).toThrow(
      /^target-url: is not a PostgreSQL URL/,
    );
    expect(() => parse('postgresql://h/db?sslmode=sometimes')).toThrow(
      /^x: has sslmode=sometimes, which is not one of disable, allow, prefer, require, verify-ca, verify-full/,
    );
    expect(() => parse('postgresql://h/db?target_session_attrs=fast')).toThrow(/target_session_attrs=fast/);
    expect(() => parse('postgresql://h/db?colour=blue')).toThrow(/^x: has an unknown parameter "colour"/);
    // Real libpq parameters that Restorable does not pass on: said so, with what to do instead.
    expect(() => parse('postgresql://h/db?hostaddr=10.0.0.5')).toThrow(
      /^x: sets "hostaddr", a libpq parameter Restorable does not support\. Give the address as host= instead/,
    );
    expect(() => parse('host=h dbname=db sslpassword=s3cret')).toThrow(
      /^x: sets "sslpassword", a libpq parameter Restorable does not support\. Decrypt the client key once/,
    );
    for (const k of [
      'gssencmode=disable',
      'channel_binding=require',
      'require_auth=scram-sha-256',
      'sslsni=0',
    ])
      expect(() => parse(`postgresql://h/db?${k}`)).toThrow(
        /a libpq parameter Restorable does not support\. \S/,
      );
    expect(() => parse('postgresql://h:99999/db')).toThrow(
      /^x: has a port "99999" that is not a port number/,
    );
    expect(() => parse('host=a,b,c port=1,2')).toThrow(/^x: has 3 hosts and 2 ports/);
    expect(() => parse('postgresql://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt')).toThrow(
      /^x: names sslrootcert \/nonexistent\/ca\.crt, which cannot be read/,
    );
    expect(() => parse('postgresql://h/db?sslmode=require&sslrootcert=system')).toThrow(
      /sslrootcert=system needs sslmode=verify-full/,
    );
    expect(parse('postgresql://h/db?sslrootcert=system').sslmode).toBe('verify-full');
  });

  it('a password in a bad string never reaches the error line', () => {
    let message = '';
    try {
      parse("host=h password='s3cret unterminated");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^x: cannot be read after password= \(a quote left open/);
    expect(message).not.toContain('s3cret');
    // A / in a password that was not percent-encoded cuts the URL in two: no piece of it is shown.
    for (const url of [
      'postgresql://app:pa/s3cret@h/db',
      'postgresql://app:s3cret?x@h/db',
      'postgresql://app@h:s3cret/db',
    ]) {
      let m = '';
      try {
        parse(url);
      } catch (e) {
        m = (e as Error).message;
      }
      expect(m, url).toMatch(/^x: /);
      expect(m, url).not.toContain('s3cret');
    }
  });
});

describe('the password file', () => {
  it('registers the passwords it holds for the hosts and user as secrets; a file others may read is ignored, as libpq does', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-'));
    const file = path.join(dir, 'pgpass');
    fs.writeFileSync(file, 'a:5432:*:u:pw-a\nb:*:shop:u:pw-b\nc:5432:*:u:pw-c\na:5432:*:other:pw-o\n', {
      mode: 0o600,
    });
    const secrets: string[] = [];
    const c = parseDbUrl('x', 'host=a,b dbname=shop user=u', (s) => secrets.push(s), { PGPASSFILE: file });
    expect(secrets).toEqual(['pw-a', 'pw-b']);
    expect(libpqEnv(c)).toMatchObject({ PGPASSFILE: file });
    expect(libpqEnv(c).PGPASSWORD).toBeUndefined();
    fs.chmodSync(file, 0o644);
    const open: string[] = [];
    parseDbUrl('x', 'host=a dbname=shop user=u', (s) => open.push(s), { PGPASSFILE: file });
    expect(open).toEqual([]);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('the libpq environment of a program', () => {
  it("carries the connection's own PG* variables; the runner's stay out", () => {
    const saved = { ...process.env };
    Object.assign(process.env, { PGSERVICE: 'runner', PGSSLKEY: '/runner/key', PGPASSWORD: 'runner-pw' });
    try {
      const c = parse(
        'postgresql://u:pw@a:1,b:2/db?sslmode=require&target_session_attrs=primary&application_name=r',
      );
      expect(childEnv(libpqEnv(c))).toMatchObject({
        PGHOST: 'a,b',
        PGPORT: '1,2',
        PGUSER: 'u',
        PGPASSWORD: 'pw',
        PGSSLMODE: 'require',
        PGTARGETSESSIONATTRS: 'primary',
        PGAPPNAME: 'r',
      });
      const env = childEnv(libpqEnv(c));
      expect(env.PGSERVICE).toBeUndefined();
      expect(env.PGSSLKEY).toBeUndefined();
    } finally {
      for (const k of ['PGSERVICE', 'PGSSLKEY', 'PGPASSWORD']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});

describe('childEnv', () => {
  it("passes a tool's inherited settings, except one set empty (a secret the caller did not pass)", () => {
    const names = ['WALG_LIBSODIUM_KEY', 'WALG_S3_PREFIX', 'AWS_SESSION_TOKEN', 'TZ'];
    const saved = Object.fromEntries(names.map((k) => [k, process.env[k]]));
    Object.assign(process.env, {
      WALG_LIBSODIUM_KEY: '',
      WALG_S3_PREFIX: 's3://b/p',
      AWS_SESSION_TOKEN: '',
      TZ: '',
    });
    try {
      const env = childEnv({}, ['WALG_', 'AWS_']);
      expect(env.WALG_S3_PREFIX).toBe('s3://b/p');
      expect('WALG_LIBSODIUM_KEY' in env).toBe(false);
      expect('AWS_SESSION_TOKEN' in env).toBe(false);
      // The few variables every program gets pass as they are, empty or not.
      expect(env.TZ).toBe('');
    } finally {
      for (const k of names) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
