import type { TableRows } from './custom.js';

/** The longest part of a SQL line (outside COPY data) kept across chunks; the rest is not read. */
const MAX_SQL_LINE = 1024 * 1024;
const NL = 10;
const COPY_HEAD = /^COPY ((?:"(?:[^"]|"")+"|[^\s."]+)\.(?:"(?:[^"]|"")+"|[^\s."]+))(?: \(.*\))? FROM stdin;$/;

/** `"a""b"` to `a"b`; an unquoted name as it is. */
function unquote(part: string): string {
  return part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part;
}

/** `schema.table` of a COPY statement, each part unquoted. */
function copyTarget(name: string): { schema: string; table: string } {
  const m = /^("(?:[^"]|"")+"|[^\s."]+)\.(.+)$/.exec(name) as RegExpExecArray;
  return { schema: unquote(m[1] as string), table: unquote(m[2] as string) };
}

/**
 * A plain dump's lines as they stream: the rows of each `COPY ... FROM stdin;` block (one line per
 * row up to the `\.` line; COPY text writes a newline inside a value as `\n`), and every line
 * outside COPY data handed to `onSql`. Rows are never kept, only counted.
 */
export class PlainLines {
  private readonly rows = new Map<string, TableRows>();
  private copy: TableRows | undefined;
  /** The start of a line the last chunk did not finish (in COPY data, only its first 3 bytes). */
  private carry: Buffer[] = [];
  private carryBytes = 0;

  constructor(private readonly onSql: (line: string) => void = () => {}) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(NL); nl !== -1; nl = chunk.indexOf(NL, start)) {
      if (this.carryBytes > 0) {
        this.keep(chunk.subarray(0, nl));
        this.line(Buffer.concat(this.carry));
        this.carry = [];
        this.carryBytes = 0;
      } else this.line(chunk.subarray(start, nl));
      start = nl + 1;
    }
    if (start < chunk.length) this.keep(chunk.subarray(start));
  }

  /** The dump ended: a last line without its newline counts too. */
  end(): TableRows[] {
    if (this.carryBytes > 0) this.line(Buffer.concat(this.carry));
    this.carry = [];
    this.carryBytes = 0;
    return [...this.rows.values()];
  }

  private keep(part: Buffer): void {
    const room = (this.copy ? 3 : MAX_SQL_LINE) - this.carryBytes;
    if (room <= 0) return;
    // Copied: the chunk's buffer may be reused once push returns.
    const kept = Buffer.from(part.subarray(0, room));
    this.carry.push(kept);
    this.carryBytes += kept.length;
  }

  private line(b: Buffer): void {
    if (this.copy) {
      if (b.length === 2 && b[0] === 0x5c && b[1] === 0x2e) this.copy = undefined;
      else this.copy.rows++;
      return;
    }
    const text = b.toString('utf8');
    const head = b[0] === 0x43 ? COPY_HEAD.exec(text) : null; // C
    if (head) {
      const { schema, table } = copyTarget(head[1] as string);
      const key = `${schema}\u0000${table}`;
      // With --load-via-partition-root, each partition's rows are one more block for the root.
      this.copy = this.rows.get(key) ?? { schema, table, rows: 0 };
      this.rows.set(key, this.copy);
      return;
    }
    this.onSql(text);
  }
}
