import { describe, expect, it } from 'vitest';
import { maskedUrl, parseDbUrl } from '../../src/postgres/client.js';

describe('database URLs', () => {
  it('reads host, port, user, database and password; the password is registered as a secret', () => {
    const secrets: string[] = [];
    const c = parseDbUrl('source-url', 'postgresql://reader:s%3Acret@db.internal:6432/app', (s) =>
      secrets.push(s),
    );
    expect(c).toEqual({
      host: 'db.internal',
      port: 6432,
      user: 'reader',
      database: 'app',
      password: 's:cret',
    });
    expect(secrets).toEqual(['s:cret']);
    expect(maskedUrl(c)).toBe('postgresql://reader:***@db.internal:6432/app');
  });

  it('a ?host= Unix socket folder wins over the host part, which may be empty', () => {
    const c = parseDbUrl(
      'database-url',
      'postgresql://postgres@localhost:5433/postgres?host=%2Ftmp%2Fsock',
      () => {},
    );
    expect(c.host).toBe('/tmp/sock');
    expect(parseDbUrl('x', 'postgresql:///app?host=/run/postgresql', () => {}).host).toBe('/run/postgresql');
    expect(maskedUrl(c)).toBe('postgresql://postgres@localhost:5433/postgres?host=%2Ftmp%2Fsock');
  });

  it('refuses what is not a PostgreSQL URL, naming the input', () => {
    expect(() => parseDbUrl('target-url', 'mysql://x@y/z', () => {})).toThrow(
      /^target-url: is not a PostgreSQL URL/,
    );
    expect(() => parseDbUrl('target-url', 'postgresql:///app', () => {})).toThrow(/is not a PostgreSQL URL/);
  });
});
