import { timeStamp } from '../core/duration.js';
import type { Logger } from '../core/log.js';
import { parseDbUrl, withClient } from '../postgres/client.js';

/** The restore points Restorable plants start so; a target by such a name checks both halves. */
export const MARKER_PREFIX = 'restorable-marker-';

/** Plant a marker on the live server: a row before and after a restore point, WAL switched so both reach the archive. */
export async function plantMarker(url: string, log: Logger): Promise<{ name: string; plantedAt: string }> {
  const conn = parseDbUrl('marker-url', url, (s) => log.secret(s));
  const name = `${MARKER_PREFIX}${timeStamp().toLowerCase()}-${Math.random().toString(36).slice(2, 6)}`;
  return withClient(conn, async (c) => {
    await c.query('CREATE SCHEMA IF NOT EXISTS restorable');
    await c.query(
      `CREATE TABLE IF NOT EXISTS restorable.pitr_marker (
         id bigserial PRIMARY KEY, name text NOT NULL, phase text NOT NULL,
         at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    );
    await c.query("INSERT INTO restorable.pitr_marker (name, phase) VALUES ($1, 'before')", [name]);
    const at = (await c.query<{ at: Date }>('SELECT clock_timestamp() AS at')).rows[0]?.at as Date;
    await c.query('SELECT pg_create_restore_point($1)', [name]);
    await c.query("INSERT INTO restorable.pitr_marker (name, phase) VALUES ($1, 'after')", [name]);
    // Close the segment so the restore point and the row after it reach the archive now.
    await c.query('SELECT pg_switch_wal()');
    log.info(`planted marker ${name}: recover to it with target-name: ${name}`);
    return { name, plantedAt: at.toISOString() };
  });
}
