import pg from 'pg';

/** Where to reach a server: the one shape every part of Restorable talks to Postgres through. */
export interface ConnInfo {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
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
