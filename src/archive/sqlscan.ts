/**
 * SQL in a dump that pg_dump never writes: statements that run a program on the server or read or
 * write its files when the dump is restored. What runs at restore is flagged, what is only defined
 * is not: a function whose body (dollar-quoted) says `COPY ... TO PROGRAM` is the application's
 * code, restored and not run; a top-level `COPY ... TO PROGRAM`, a `SELECT lo_import('/etc/...')`, a
 * `DO` block that calls pg_read_file, a GRANT of pg_execute_server_program are flagged.
 */

/** Statements that execute when restored (as opposed to CREATE, ALTER, COMMENT, which define). */
const EXECUTES = /^(SELECT|WITH|VALUES|DO|CALL|INSERT|UPDATE|DELETE|MERGE|EXECUTE|TABLE)$/;
const SERVER_FILE_CALL =
  /(?:^|[^\w$"])"?(lo_import|lo_export|pg_read_file|pg_read_binary_file|pg_file_write|pg_file_rename|pg_file_unlink)"?\s*\(/i;
const SERVER_ROLE = /\b(pg_execute_server_program|pg_read_server_files|pg_write_server_files)\b/i;
/** The most of one statement's text kept for matching (function bodies are not kept). */
const MAX_STATEMENT = 1024 * 1024;

/** What a statement (its text outside string literals and comments) does on the server, if anything. */
export function serverAccess(skeleton: string): string | undefined {
  const first = /^\s*([A-Za-z]+)/.exec(skeleton)?.[1]?.toUpperCase() ?? '';
  if (first === 'COPY') {
    if (/\b(TO|FROM)\s+PROGRAM\b/i.test(skeleton)) return 'COPY ... PROGRAM runs a program on the server';
    if (/\b(TO|FROM)\s+'/i.test(skeleton)) return 'COPY ... to or from a file reads or writes a server file';
  }
  const call = SERVER_FILE_CALL.exec(skeleton);
  if (call && (EXECUTES.test(first) || first === 'COPY'))
    return `${call[1]?.toLowerCase()}() reads or writes a server file`;
  const role = SERVER_ROLE.exec(skeleton);
  if (role && /^(GRANT|ALTER|CREATE)$/.test(first))
    return `a grant of ${role[1]?.toLowerCase()} lets a role run programs or read or write server files`;
  return undefined;
}

/**
 * Splits SQL text into statements as it is fed (line by line), tracking string literals, quoted
 * identifiers, dollar quotes and comments, and hands each statement's skeleton to `found` when it
 * does something on the server: literals become `'…'`, dollar-quoted bodies `$$` (but a DO block's,
 * which runs), comments go.
 */
export class SqlScanner {
  private text = '';
  private state: 'code' | 'single' | 'double' | 'dollar' | 'line' | 'block' = 'code';
  private tag = '';
  private keepBody = false;

  constructor(private readonly found: (what: string, statement: string) => void) {}

  /** Feed whole lines (or a whole text): a token never spans two pieces. */
  feed(s: string): void {
    for (let i = 0; i < s.length; i++) i = this.step(s, i, s[i] as string, s[i + 1]);
  }

  /** The text ended: its last statement, even without a semicolon. */
  end(): void {
    this.flush();
    this.state = 'code';
  }

  private step(s: string, i: number, c: string, next: string | undefined): number {
    switch (this.state) {
      case 'line':
        if (c === '\n') this.state = 'code';
        return i;
      case 'block':
        if (c === '*' && next === '/') {
          this.state = 'code';
          return i + 1;
        }
        return i;
      case 'single':
        if (c === "'" && next === "'") return i + 1;
        if (c === "'") {
          this.state = 'code';
          this.add("…'");
        }
        return i;
      case 'double':
        this.add(c);
        if (c === '"') this.state = 'code';
        return i;
      case 'dollar':
        if (c === '$' && s.startsWith(this.tag, i)) {
          this.state = 'code';
          this.add(this.tag);
          return i + this.tag.length - 1;
        }
        if (this.keepBody) this.add(c);
        return i;
      default:
        return this.code(s, i, c, next);
    }
  }

  private code(s: string, i: number, c: string, next: string | undefined): number {
    if (c === '-' && next === '-') this.state = 'line';
    else if (c === '/' && next === '*') this.state = 'block';
    else if (c === "'") {
      this.state = 'single';
      this.add("'");
    } else if (c === '"') {
      this.state = 'double';
      this.add(c);
    } else if (c === '$' && /^\$[A-Za-z_]*\$/.test(s.slice(i, i + 64))) {
      this.tag = (/^\$[A-Za-z_]*\$/.exec(s.slice(i, i + 64)) as RegExpExecArray)[0];
      this.state = 'dollar';
      this.keepBody = /^\s*DO\b/i.test(this.text);
      this.add(this.tag);
      return i + this.tag.length - 1;
    } else if (c === ';') this.flush();
    else this.add(c);
    return i;
  }

  private add(t: string): void {
    if (this.text.length < MAX_STATEMENT) this.text += t;
  }

  private flush(): void {
    const statement = this.text.trim();
    this.text = '';
    if (!statement) return;
    const what = serverAccess(statement);
    if (what) this.found(what, statement.slice(0, 200));
  }
}

/** Words without which no statement is flagged: most SQL is not scanned character by character. */
const MAYBE = /program|lo_(?:im|ex)port|pg_read_|pg_file_|_server_|\bcopy\b/i;

/** The statements of one piece of SQL (a TOC entry's) that do something on the server. */
export function scanSql(sql: string): { what: string; statement: string }[] {
  const out: { what: string; statement: string }[] = [];
  if (!MAYBE.test(sql)) return out;
  const scanner = new SqlScanner((what, statement) => out.push({ what, statement }));
  scanner.feed(sql);
  scanner.end();
  return out;
}
