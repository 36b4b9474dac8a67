import type { TableRows } from '../archive/custom.js';
import { formatBytes } from '../core/duration.js';
import { tableName } from './tables.js';

/**
 * pg_restore --verbose's own progress lines (pg_backup_archiver.c's pg_log_info): left out of the
 * stderr that is classified, so a table named `x ERROR: y` is not an error, and a restore of many
 * objects does not push its real errors out of the kept tail.
 */
const VERBOSE =
  /^pg_restore: (creating |processing data for |processing (missed )?item |launching item |finished (item |main parallel loop)|skipping item |executing |connecting to database|entering |implied data-only|restoring large object|restored \d+ large object|disabling triggers|enabling triggers|dropping )/;

/** A TOC item of a parallel restore: `launching item 221 TABLE DATA album`. */
const ITEM = /^pg_restore: (processing item|processing missed item|launching item|finished item) (\d+) (.*)$/;
/** A serial restore's step: `creating TABLE "public.album"`, `processing data for table "public.album"`. */
const STEP = /^pg_restore: (creating|processing data for table|executing) (.*)$/;

/** A table whose data pg_restore loads: as the dump names it, and as listTables spells it. */
export interface DataItem {
  schema: string;
  name: string;
  /** `schema.table`, quoted only where needed (tables.ts's tableName). */
  table: string;
}

/**
 * Told when a table's data item begins and when it is done (--verbose): a parallel restore's
 * `finished item`, a serial one's next step. Only tables the walk knows by an unambiguous name.
 */
export interface DataListener {
  started(t: DataItem): void;
  finished(t: DataItem): void;
}

/** What the progress of a restore reads from the dump: the bytes read so far, for psql or stdin. */
interface BytesRead {
  readonly bytesRead: number;
}

/**
 * How far a restore is, from counters kept as it streams: the objects pg_restore has done (read
 * from --verbose) of the TOC's entries, the tables whose rows are loading (with the largest by the
 * walk's row counts), and for psql the dump's bytes read and the COPY in progress. The line is made
 * from them only when a progress line is drawn.
 */
export class RestoreProgress {
  private steps = 0;
  private items = 0;
  private parallel = false;
  /** Tables loading now: a parallel restore's items by id, a serial one's one table. */
  private readonly loading = new Map<string, string>();
  /** Row counts from the walk, as pg_restore spells a table (`public.album`; `album` in parallel) and by name. */
  private readonly rows = new Map<string, { name: string; rows: number }>();
  /** Tables as a serial restore names them (`schema.table`) and a parallel one (`table`); null: two share it. */
  private readonly bySerial = new Map<string, DataItem | null>();
  private readonly byTag = new Map<string, DataItem | null>();
  /** Data items loading, by id ('' for the serial one), as the dump names their table. */
  private readonly data = new Map<string, DataItem>();
  /** Told as each table's data begins and is done. */
  onData: DataListener | undefined;
  /** The dump file as it is read (psql, or pg_restore reading a decompressed stdin). */
  file: BytesRead | undefined;
  /** The table of the COPY psql is loading, as the dump names it. */
  copying: (() => string | undefined) | undefined;

  constructor(
    private readonly total: number,
    private readonly size: number,
    tables: readonly TableRows[] = [],
  ) {
    // A parallel restore names a table's data by its name alone: known when no other schema has it.
    const named = new Map<string, number>();
    for (const t of tables) named.set(t.table, (named.get(t.table) ?? 0) + 1);
    for (const t of tables) {
      const name = tableName(t.schema, t.table);
      const entry = { name, rows: t.rows };
      const item = { schema: t.schema, name: t.table, table: name };
      const add = (m: Map<string, DataItem | null>, key: string) =>
        m.set(key, m.has(key) && m.get(key)?.table !== name ? null : item);
      add(this.bySerial, `${t.schema}.${t.table}`);
      add(this.byTag, t.table);
      this.rows.set(`${t.schema}.${t.table}`, entry);
      this.rows.set(entry.name, entry);
      if (named.get(t.table) === 1) this.rows.set(t.table, entry);
    }
  }

  /** pg_restore's own progress line, not to be classified. */
  static isVerbose(line: string): boolean {
    return VERBOSE.test(line);
  }

  /** One line of pg_restore --verbose's stderr. */
  line(line: string): void {
    const item = ITEM.exec(line);
    if (item) {
      this.parallel = true;
      this.dataDone(''); // a serial item of a parallel restore (processing item) is done at the next
      const [, what, id = '', rest = ''] = item;
      const table = rest.startsWith('TABLE DATA ') ? rest.slice('TABLE DATA '.length) : undefined;
      if (what === 'launching item') {
        if (table !== undefined) this.loading.set(id, table);
        if (table !== undefined) this.dataStarted(id, table);
        return;
      }
      if (what === 'finished item') this.dataDone(id);
      else if (table !== undefined) this.dataStarted('', table);
      this.items++;
      this.loading.delete(id);
      return;
    }
    const step = STEP.exec(line);
    if (!step || this.parallel) return;
    this.steps++;
    this.loading.clear();
    this.dataDone('');
    if (step[1] !== 'processing data for table') return;
    const table = (step[2] ?? '').replace(/^"|"$/g, '');
    this.loading.set('', table);
    this.dataStarted('', table);
  }

  /** A data item began (by its id, '' for the serial one): told, when the walk knows its table. */
  private dataStarted(id: string, table: string): void {
    const item = (this.parallel ? this.byTag : this.bySerial).get(table);
    if (!item || !this.onData) return;
    this.data.set(id, item);
    this.onData.started(item);
  }

  /** A data item is done: its table's rows are in (and committed). */
  private dataDone(id: string): void {
    const item = this.data.get(id);
    if (!item) return;
    this.data.delete(id);
    this.onData?.finished(item);
  }

  /** `12 of 59 objects, loading public.invoice_line (2240 rows)`; `read 40 MiB of 1.2 GiB` for psql. */
  describe(): string | undefined {
    const parts: string[] = [];
    const done = this.parallel ? this.items : this.steps;
    if (this.total > 0 && !this.copying) parts.push(`${Math.min(done, this.total)} of ${this.total} objects`);
    if (this.file)
      parts.push(
        `read ${formatBytes(this.file.bytesRead)}${this.size > 0 ? ` of ${formatBytes(this.size)}` : ''}`,
      );
    const names = this.copying ? [this.copying()].filter((n) => n !== undefined) : [...this.loading.values()];
    if (names.length > 0) parts.push(this.inFlight(names));
    return parts.length > 0 ? parts.join(', ') : undefined;
  }

  /** The tables loading, named by the largest of them (by rows in the dump). */
  private inFlight(names: string[]): string {
    const known = names.map((n) => this.rows.get(n) ?? { name: n, rows: -1 });
    const largest = known.reduce((a, b) => (b.rows > a.rows ? b : a));
    const rows = largest.rows >= 0 ? ` (${largest.rows} rows)` : '';
    return names.length === 1
      ? `loading ${largest.name}${rows}`
      : `loading ${names.length} tables, the largest ${largest.name}${rows}`;
  }
}
