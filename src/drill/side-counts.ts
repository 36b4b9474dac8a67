import type pg from 'pg';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { type ConnInfo, ident, withClient } from '../postgres/client.js';
import type { DataItem, DataListener } from '../postgres/restore-progress.js';

/**
 * Exact row counts of the tables whose data pg_restore has finished, taken while the rest restores,
 * for the volume stage (which counts only what is not here). One side connection, one count at a
 * time, in the order the data items finish. It never waits for a lock the restore holds
 * (lock_timeout); a count that fails, a table whose data item starts again (a table twice in the
 * dump) and a table with inheritance children (its count would still grow) are left to the volume
 * stage.
 */
export class SideCounts implements DataListener {
  private readonly counts = new Map<string, number>();
  /** Tables the volume stage counts: restored again, or their count failed or did not apply. */
  private readonly again = new Set<string>();
  private readonly begun = new Set<string>();
  private readonly queue: DataItem[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  /** Counted before the restore ended (close was called). */
  private during = 0;
  private readonly worker: Promise<void>;

  constructor(
    conn: ConnInfo,
    private readonly log: Logger,
  ) {
    this.worker = withClient(conn, (c) => this.work(c)).catch((e: unknown) => {
      this.log.debug(`the side counts stopped (the volume stage counts the rest): ${errorMessage(e)}`);
    });
  }

  started(t: DataItem): void {
    if (this.begun.has(t.table)) {
      this.again.add(t.table);
      this.counts.delete(t.table);
    }
    this.begun.add(t.table);
  }

  finished(t: DataItem): void {
    if (this.closed || this.again.has(t.table)) return;
    this.queue.push(t);
    this.wake?.();
  }

  /** The restore ended: the count in flight finishes, the rest is the volume stage's. */
  async close(): Promise<Map<string, number>> {
    const during = this.during;
    this.closed = true;
    this.wake?.();
    await this.worker;
    const out = new Map([...this.counts].filter(([t]) => !this.again.has(t)));
    this.log.debug(`counted ${during} table${during === 1 ? '' : 's'} while the restore ran`);
    return out;
  }

  /** Tables counted before the restore ended. */
  get countedDuring(): number {
    return this.during;
  }

  private async work(c: pg.Client): Promise<void> {
    await c.query("SET lock_timeout = '50ms'");
    for (let t = await this.next(); t; t = await this.next()) {
      try {
        const n = await countOne(c, t);
        if (n === undefined || this.again.has(t.table)) this.again.add(t.table);
        else {
          this.counts.set(t.table, n);
          if (!this.closed) this.during++;
        }
      } catch (e) {
        this.again.add(t.table);
        this.log.debug(`${t.table} is counted after the restore (${errorMessage(e)})`);
      }
    }
  }

  private async next(): Promise<DataItem | undefined> {
    while (!this.closed && this.queue.length === 0) await new Promise<void>((r) => (this.wake = r));
    this.wake = undefined;
    return this.closed ? undefined : this.queue.shift();
  }
}

/** count(*) as the volume stage takes it, of a table without inheritance children; else undefined. */
async function countOne(c: pg.Client, t: DataItem): Promise<number | undefined> {
  const rel = `${ident(t.schema)}.${ident(t.name)}`;
  const kids = await c.query<{ n: string }>(
    'SELECT count(*) AS n FROM pg_inherits WHERE inhparent = $1::regclass',
    [rel],
  );
  if (Number(kids.rows[0]?.n ?? 0) > 0) return undefined;
  const r = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${rel}`);
  return Number(r.rows[0]?.n ?? 0);
}
