import pg from 'pg';
import { errorMessage } from '../core/errors.js';
import type { ConnInfo } from '../postgres/client.js';
import type { Relation } from './relations.js';

/**
 * Reads pg_locks on its own connection every `intervalMs` while the migration runs, and keeps, per
 * table, the longest stretch during which some session held an ACCESS EXCLUSIVE lock on the table,
 * one of its indexes or its TOAST table. A stretch runs from the first sample that saw it to the
 * last: a lower bound, exact to one interval. Relations made by the migration itself are left out:
 * a table nobody could see yet blocks nobody.
 */
export class LockSampler {
  samples = 0;
  error?: string;
  private readonly open = new Map<string, { first: number; last: number }>();
  private readonly longest = new Map<string, number>();
  private stopped = false;
  private loop?: Promise<void>;
  private client?: pg.Client;

  constructor(
    private readonly conn: ConnInfo,
    private readonly tables: Map<string, Relation>,
    private readonly intervalMs: number,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({
      ...this.conn,
      connectionTimeoutMillis: 10_000,
      application_name: 'restorable lock sampler',
      statement_timeout: 5000,
    });
    await client.connect();
    this.client = client;
    await this.sample();
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await new Promise((r) => setTimeout(r, this.intervalMs));
      if (this.stopped) break;
      try {
        await this.sample();
      } catch (e) {
        this.error = errorMessage(e);
        break;
      }
    }
  }

  private async sample(): Promise<void> {
    const r = await (this.client as pg.Client).query<{ oid: string }>(
      `SELECT DISTINCT relation::text AS oid FROM pg_locks
        WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' AND granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    const now = performance.now();
    this.samples++;
    const held = new Set<string>();
    for (const row of r.rows) {
      const t = this.tables.get(row.oid)?.table;
      if (t) held.add(t);
    }
    for (const t of held) {
      const o = this.open.get(t);
      if (o) o.last = now;
      else this.open.set(t, { first: now, last: now });
    }
    for (const [t, o] of this.open) {
      if (held.has(t)) continue;
      this.close(t, o);
    }
  }

  private close(t: string, o: { first: number; last: number }): void {
    this.longest.set(t, Math.max(this.longest.get(t) ?? 0, (o.last - o.first) / 1000));
    this.open.delete(t);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    if (!this.error) {
      // One last look: a lock still held when the command has ended belongs to someone else's session.
      await this.sample().catch((e) => {
        this.error = errorMessage(e);
      });
    }
    for (const [t, o] of this.open) this.close(t, o);
    await this.client?.end().catch(() => {});
  }

  result(): { table: string; seconds: number }[] {
    return [...this.longest]
      .map(([table, s]) => ({ table, seconds: Math.round(s * 100) / 100 }))
      .sort((a, b) => b.seconds - a.seconds || (a.table < b.table ? -1 : 1));
  }
}
