import type pg from 'pg';
import { timeStamp } from '../core/duration.js';
import { errorMessage, UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { parseDbUrl, withClient } from '../postgres/client.js';

/** The restore points Restorable plants start so; a target by such a name checks both halves. */
export const MARKER_PREFIX = 'restorable-marker-';

/** Plant a marker on the live server: a row before and after a restore point, WAL switched so both reach the archive. */
export async function plantMarker(url: string, log: Logger): Promise<{ name: string; plantedAt: string }> {
  const conn = parseDbUrl('marker-url', url, (s) => log.secret(s));
  const name = `${MARKER_PREFIX}${timeStamp().toLowerCase()}-${Math.random().toString(36).slice(2, 6)}`;
  return withClient(conn, async (c) => {
    await requireMarkerPrivileges(c);
    // One transaction up to the restore point: a refusal (a privilege, a read-only server) leaves
    // neither the table nor a half-planted row behind.
    await c.query('BEGIN');
    try {
      await c.query('CREATE SCHEMA IF NOT EXISTS restorable');
      await c.query(
        `CREATE TABLE IF NOT EXISTS restorable.pitr_marker (
           id bigserial PRIMARY KEY, name text NOT NULL, phase text NOT NULL,
           at timestamptz NOT NULL DEFAULT clock_timestamp())`,
      );
      await c.query("INSERT INTO restorable.pitr_marker (name, phase) VALUES ($1, 'before')", [name]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw markerRefused(e);
    }
    const at = (await c.query<{ at: Date }>('SELECT clock_timestamp() AS at')).rows[0]?.at as Date;
    await c.query('SELECT pg_create_restore_point($1)', [name]);
    await c.query("INSERT INTO restorable.pitr_marker (name, phase) VALUES ($1, 'after')", [name]);
    // Close the segment so the restore point and the row after it reach the archive now.
    await c.query('SELECT pg_switch_wal()');
    log.info(`planted marker ${name}: recover to it with target-name: ${name}`);
    return { name, plantedAt: at.toISOString() };
  });
}

const MARKER_FUNCTIONS = ['pg_create_restore_point(text)', 'pg_switch_wal()'];

/** Before anything is written: the role may run both functions a marker needs, or one line says which it lacks. */
async function requireMarkerPrivileges(c: pg.Client): Promise<void> {
  const r = await c.query<{ f: string; ok: boolean; role: string }>(
    "SELECT f, has_function_privilege(f, 'EXECUTE') AS ok, current_user AS role FROM unnest($1::text[]) AS f",
    [MARKER_FUNCTIONS],
  );
  const missing = r.rows.filter((x) => !x.ok).map((x) => x.f);
  if (missing.length === 0) return;
  const role = r.rows[0]?.role ?? '';
  throw new UserError(
    'marker-url',
    `the role "${role}" may not EXECUTE ${missing.join(' and ')}, which a marker needs; nothing was written`,
    `Grant it: ${missing.map((f) => `GRANT EXECUTE ON FUNCTION ${f} TO "${role}";`).join(' ')}`,
  );
}

/** The marker's table or row refused (a privilege, a read-only server): one line, the transaction rolled back. */
function markerRefused(e: unknown): unknown {
  const code = (e as { code?: string }).code;
  if (code !== '42501' && code !== '25006') return e;
  return new UserError(
    'marker-url',
    `could not write the marker row (${errorMessage(e)}); nothing was written`,
    'Connect to the primary as a role that may CREATE in the database (or owns the restorable schema) and INSERT into restorable.pitr_marker',
  );
}
