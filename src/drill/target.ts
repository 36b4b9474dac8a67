import { randomBytes } from 'node:crypto';
import { UserError } from '../core/errors.js';
import { runSync } from '../core/exec.js';
import type { Logger } from '../core/log.js';
import { majorOf } from '../postgres/binaries.js';
import {
  type ConnInfo,
  ident,
  libpqEnv,
  MARKER,
  maskedUrl,
  parseDbUrl,
  withClient,
} from '../postgres/client.js';
import { BULK_LOAD_SETTINGS, removeCluster, type ScratchCluster } from '../postgres/cluster.js';

/** Where a drill restores: a scratch cluster it made, or a database it makes on an existing server. */
export interface DrillTarget {
  kind: 'scratch' | 'server';
  version: string;
  major: number;
  /** The connection used to create (and drop) the drill's database. */
  admin: ConnInfo;
  settings: Record<string, string>;
  conn(database: string): ConnInfo;
  /**
   * A URL for people, reports and later steps, with no password in it: a server's is shown as ***,
   * a scratch cluster's is read from its password file (passfile=).
   */
  url(database: string): string;
  /** Remove what the drill made: the whole cluster, or only the database it created. */
  teardown(database: string): Promise<void>;
  /** Leave it for later steps; returns what the post step (or `clean`) needs to remove it. */
  keep(database: string): string;
  /**
   * A scratch cluster kept for later steps: `user` may log in over TCP, and url() names it, not the
   * superuser. Returns its password, for the logger's secrets.
   */
  keepAs?(user: string): Promise<string>;
  /**
   * A scratch cluster's removal left to a later step (the action's post step): its server stopped
   * now, its folder and user removed by removeKept (or `clean`). Returns removeKept's handle.
   */
  handOff?(): Promise<string>;
}

export function scratchTarget(c: ScratchCluster): DrillTarget {
  let login = 'postgres';
  return {
    kind: 'scratch',
    version: c.version,
    major: c.major,
    admin: c.conn(),
    settings: BULK_LOAD_SETTINGS,
    conn: (db) => c.conn(db),
    url: (db) => c.shownUrl(db, login),
    teardown: () => c.stop(),
    keep: () => JSON.stringify({ kind: 'scratch', root: c.detach() }),
    handOff: async () => JSON.stringify({ kind: 'scratch', root: await c.handOff() }),
    keepAs: async (user) => {
      const password = await c.addLogin(user);
      login = user;
      return password;
    },
  };
}

/** Names that say production: such a server is refused unless allow-target-server is true. */
const PRODUCTION_LIKE = /prod|live/i;

export function parseTargetUrl(input: string, url: string, log: Logger): ConnInfo {
  const c = parseDbUrl(input, url, (p) => log.secret(p));
  if (!['postgres', 'template1'].includes(c.database)) {
    throw new UserError(
      input,
      `points at the database "${c.database}", which Restorable did not create, so it is left alone`,
      'Point it at the server, through its maintenance database (…/postgres): the drill creates its own restorable_drill_<id> there and drops it after',
    );
  }
  return c;
}

export function drillDatabaseName(): string {
  return `restorable_drill_${randomBytes(4).toString('hex')}`;
}

/**
 * An existing server. Interlocks: a server whose name, or any of whose databases, looks like
 * production is refused unless `allow`; the only database touched is the one created here, marked.
 */
export async function serverTarget(
  admin: ConnInfo,
  allow: boolean,
): Promise<DrillTarget | { refused: string }> {
  const facts = await withClient(admin, async (c) => {
    const dbs = (await c.query<{ datname: string }>('SELECT datname FROM pg_database')).rows.map(
      (r) => r.datname,
    );
    const name =
      (await c.query<{ n: string }>("SELECT current_setting('cluster_name') AS n")).rows[0]?.n ?? '';
    const version =
      (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '';
    return { dbs, name, version };
  });
  if (!allow) {
    const hosts = (admin.hosts ?? [admin]).map((h) => h.host);
    const hits = [...hosts, facts.name, ...facts.dbs].filter((n) => n && PRODUCTION_LIKE.test(n));
    if (hits.length > 0) {
      return {
        refused: `the target server looks like production (${hits.map((h) => `"${h}"`).join(', ')}); nothing was created on it`,
      };
    }
  }
  return {
    kind: 'server',
    version: facts.version,
    major: majorOf(facts.version) ?? 0,
    admin,
    settings: {},
    conn: (db) => ({ ...admin, database: db }),
    url: (db) => maskedUrl({ ...admin, database: db }),
    teardown: async (db) => {
      await dropDrillDatabase(admin, db);
    },
    keep: (db) => JSON.stringify({ kind: 'server', database: db }),
  };
}

/** Mark a database as the drill's own, right after creating it. */
export async function markDatabase(admin: ConnInfo, db: string): Promise<void> {
  await withClient(admin, (c) => c.query(`COMMENT ON DATABASE ${ident(db)} IS '${MARKER}'`));
}

/** Drop a drill database, and only one that carries the marker. */
export async function dropDrillDatabase(admin: ConnInfo, db: string): Promise<boolean> {
  return withClient(admin, async (c) => {
    const r = await c.query<{ d: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS d FROM pg_database WHERE datname = $1",
      [db],
    );
    if (r.rows[0]?.d !== MARKER) return false;
    await c.query(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`);
    return true;
  });
}

/**
 * On cancellation (synchronously, as signal handlers must): drop the database this process created
 * on an existing server, with `psql`. Only for a database created by this very run, so it needs no
 * marker check; best effort.
 */
export function dropCreatedDatabaseSync(psql: string, admin: ConnInfo, db: string): void {
  runSync(
    psql,
    ['-X', '-q', '-d', admin.database, '-c', `DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`],
    undefined,
    libpqEnv(admin),
  );
}

/** The post step and `clean`: remove a kept target, from what keep() returned. */
export async function removeKept(handle: string, admin?: ConnInfo): Promise<string | undefined> {
  const h = JSON.parse(handle) as { kind: 'scratch'; root: string } | { kind: 'server'; database: string };
  if (h.kind === 'scratch') return (await removeCluster(h.root)) ? h.root : undefined;
  if (admin && (await dropDrillDatabase(admin, h.database))) return h.database;
  return undefined;
}
