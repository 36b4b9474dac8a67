import { StringDecoder } from 'node:string_decoder';
import { PARTITIONED, type TableRows } from './custom.js';

/**
 * A plain dump read the way psql reads it. psql runs every backslash outside quotes and comments as
 * a meta-command (`\!` runs a shell), and a plain dump is the attacker's text, so the lexer follows
 * psql's own rules (psqlscan.l: quotes, dollar quotes, nested comments, parentheses and BEGIN ATOMIC
 * bodies that a `;` does not end, COPY ... FROM stdin data up to `\.`) and hands out the dump as
 * pieces: whole SQL statements, meta-commands, and COPY data. The scan (verify's walk) and the filter
 * in front of psql (the restore) both read a dump through it, so what is judged is what is loaded.
 */

/**
 * Findings that mean the dump would act outside its database, run a program or touch the server's
 * files: nothing of such a dump is run (no schema replay, no drill).
 */
export const UNSAFE_RULES: ReadonlySet<string> = new Set([
  'PLAIN_META_COMMAND',
  'DUMP_OUTSIDE_DATABASE',
  'DUMP_SERVER_ACCESS',
]);

export type Piece =
  /**
   * One SQL statement, up to and including its `;` (or the text left at the end). A statement longer
   * than MAX_STATEMENT goes out in parts, so memory stays flat whatever the dump; `more` marks the
   * parts after the first, which are not judged as statements of their own.
   */
  | { kind: 'sql'; text: string; line: number; more?: boolean }
  /** From a backslash outside quotes to the end of its line. */
  | { kind: 'meta'; text: string; line: number }
  /** Lines of COPY data, newlines included; `end` is the `\.` line. */
  | { kind: 'copy'; text: string; line: number; end: boolean };

type State =
  | { s: 'normal' }
  | { s: 'quote'; escapes: boolean }
  | { s: 'ident' }
  | { s: 'dollar'; tag: string }
  | { s: 'comment'; depth: number };

const MAX_STATEMENT = 8 * 1024 * 1024;
const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT = /[A-Za-z_0-9$\u0080-\uffff]+/y;
const DOLLAR = /\$([A-Za-z_\u0080-\uffff][A-Za-z_0-9\u0080-\uffff]*)?\$/y;
/** What pg_dump's COPY output (COPY TO, text format) writes after a backslash: nothing else. */
const COPY_ESCAPES = new Set(['N', '\\', 'b', 'f', 'n', 'r', 't', 'v']);

export class PlainLexer {
  private state: State = { s: 'normal' };
  private stmt = '';
  private stmtLine = 0;
  private parens = 0;
  /** psql's heuristic: in CREATE [OR REPLACE] FUNCTION|PROCEDURE, BEGIN ... END holds `;`. */
  private words: string[] = [];
  private beginDepth = 0;
  private copyPending = false;
  /** Part of the statement under way has gone out already (it is over MAX_STATEMENT). */
  private long = false;
  private inCopy = false;
  private line = 0;

  /** Lex one line (without its newline); pieces come out in order. */
  lexLine(text: string, emit: (p: Piece) => void): void {
    this.line++;
    if (this.inCopy) {
      const end = text === '\\.' || text === '\\.\r';
      if (end) this.inCopy = false;
      emit({ kind: 'copy', text: `${text}\n`, line: this.line, end });
      return;
    }
    this.lexSql(text, emit);
    if (this.copyPending) {
      // The rest of the COPY's line goes out before its data.
      if (this.stmt) emit({ kind: 'sql', text: this.stmt, line: this.line });
      this.stmt = '';
      this.copyPending = false;
      this.inCopy = true;
    }
  }

  /** What is left when the input ends: a statement without its `;`. */
  finish(emit: (p: Piece) => void): void {
    if (this.stmt.trim()) emit({ kind: 'sql', text: this.stmt, line: this.stmtLine });
    this.stmt = '';
  }

  private lexSql(text: string, emit: (p: Piece) => void): void {
    let i = 0;
    let from = 0;
    const take = (to: number) => {
      if (to > from) {
        const piece = text.slice(from, to);
        if (!this.stmt.trim() && piece.trim()) this.stmtLine = this.line;
        this.stmt += piece;
        if (this.stmt.length > MAX_STATEMENT) {
          emit({ kind: 'sql', text: this.stmt, line: this.stmtLine, ...(this.long ? { more: true } : {}) });
          this.stmt = '';
          this.long = true;
        }
      }
      from = to;
    };
    while (i < text.length) {
      if (this.state.s !== 'normal') {
        i = this.skipQuoted(text, i);
        continue;
      }
      const c = text[i] as string;
      if (c === '-' && text[i + 1] === '-') {
        i = text.length;
        continue;
      }
      const opened = this.openQuoted(text, i);
      if (opened !== undefined) {
        i = opened;
        continue;
      }
      if (IDENT_START.test(c)) {
        IDENT.lastIndex = i;
        const word = (IDENT.exec(text) as RegExpExecArray)[0];
        this.word(word.toLowerCase());
        i += word.length;
        continue;
      }
      if (c === '(') this.parens++;
      else if (c === ')') this.parens = Math.max(0, this.parens - 1);
      else if (c === ';' && this.parens === 0 && this.beginDepth === 0) {
        take(i + 1);
        this.endStatement(emit);
        i++;
        continue;
      } else if (c === '\\') {
        take(i);
        emit({ kind: 'meta', text: text.slice(i), line: this.line });
        from = text.length;
        break;
      }
      i++;
    }
    take(text.length);
    this.stmt += '\n';
  }

  /** Where a string, quoted name, dollar quote or comment starting at `i` lets lexing go on; undefined when none starts. */
  private openQuoted(text: string, i: number): number | undefined {
    const c = text[i];
    if (c === '/' && text[i + 1] === '*') {
      this.state = { s: 'comment', depth: 1 };
      return i + 2;
    }
    if (c === "'") {
      const prev = text[i - 1];
      const escapes = (prev === 'E' || prev === 'e') && !IDENT_START.test(text[i - 2] ?? ' ');
      this.state = { s: 'quote', escapes };
      return i + 1;
    }
    if (c === '"') {
      this.state = { s: 'ident' };
      return i + 1;
    }
    if (c !== '$') return undefined;
    DOLLAR.lastIndex = i;
    const m = DOLLAR.exec(text);
    if (!m) return i + 1;
    this.state = { s: 'dollar', tag: m[0] };
    return i + m[0].length;
  }

  /** One step inside a string, a quoted name, a dollar quote or a comment: where lexing goes on. */
  private skipQuoted(text: string, i: number): number {
    const st = this.state;
    const c = text[i];
    if (st.s === 'quote') {
      if (c === '\\' && st.escapes) return i + 2;
      if (c === "'") this.state = { s: 'normal' };
      return i + 1;
    }
    if (st.s === 'ident') {
      if (c === '"') this.state = { s: 'normal' };
      return i + 1;
    }
    if (st.s === 'dollar') {
      const close = text.indexOf(st.tag, i);
      if (close === -1) return text.length;
      this.state = { s: 'normal' };
      return close + st.tag.length;
    }
    if (st.s === 'comment') {
      if (c === '*' && text[i + 1] === '/') {
        st.depth--;
        if (st.depth === 0) this.state = { s: 'normal' };
        return i + 2;
      }
      if (c === '/' && text[i + 1] === '*') {
        st.depth++;
        return i + 2;
      }
    }
    return i + 1;
  }

  private word(w: string): void {
    if (this.words.length < 4) this.words.push(w);
    const [a, b, c, d] = this.words;
    const routine = (x: string | undefined) => x === 'function' || x === 'procedure';
    if (a !== 'create' || !(routine(b) || (b === 'or' && c === 'replace' && routine(d)))) return;
    if (w === 'begin') this.beginDepth++;
    else if (w === 'case' && this.beginDepth > 0) this.beginDepth++;
    else if (w === 'end' && this.beginDepth > 0) this.beginDepth--;
  }

  private endStatement(emit: (p: Piece) => void): void {
    const text = this.stmt;
    this.stmt = '';
    this.words = [];
    this.beginDepth = 0;
    const more = this.long;
    this.long = false;
    if (more) {
      emit({ kind: 'sql', text, line: this.stmtLine, more });
      return;
    }
    if (/^COPY\b[\s\S]*\bFROM\s+stdin\b/i.test(codeOf(text))) this.copyPending = true;
    emit({ kind: 'sql', text, line: this.stmtLine });
  }
}

/** A statement's code: comments out, white space folded, string and identifier quotes kept. */
export function codeOf(sql: string): string {
  return sql
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The first backslash in a COPY data line that pg_dump's COPY output would not have written. */
export function foreignCopyEscape(line: string): number {
  for (let i = line.indexOf('\\'); i !== -1; i = line.indexOf('\\', i + 2)) {
    if (!COPY_ESCAPES.has(line[i + 1] ?? '')) return i;
  }
  return -1;
}

/** An identifier as pg_dump writes it (bare, or double-quoted), unquoted. */
function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name;
}
const NAME = String.raw`("(?:[^"]|"")+"|[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*)`;
const DATABASE_STATEMENT = new RegExp(
  String.raw`^(?:CREATE DATABASE|DROP DATABASE(?: IF EXISTS)?|ALTER DATABASE|COMMENT ON DATABASE|SECURITY LABEL(?: FOR \S+)? ON DATABASE|(?:GRANT|REVOKE) .*? ON DATABASE) ${NAME}`,
  'i',
);
/** Statements that act on the whole server, never written by pg_dump (pg_dumpall's, or an attacker's). */
const SERVER_STATEMENT =
  /^(?:(?:CREATE|ALTER|DROP) (?:ROLE|USER|GROUP|TABLESPACE|SUBSCRIPTION)\b|ALTER SYSTEM\b)/i;

/** The database a statement names, when it is one of the statements about a database as a whole. */
export function databaseOf(code: string): string | undefined {
  const m = DATABASE_STATEMENT.exec(code);
  return m ? unquote(m[1] as string) : undefined;
}

/** pg_dump's own psql lines: `\restrict KEY` / `\unrestrict KEY`, and `\connect` to one database. */
export function pgDumpMeta(
  text: string,
): { kind: 'restrict' } | { kind: 'connect'; database: string } | undefined {
  const t = text.trim();
  if (/^\\(un)?restrict [A-Za-z0-9]+$/.test(t)) return { kind: 'restrict' };
  const plain = /^\\connect ([A-Za-z_][\w$]*)$/.exec(t);
  if (plain) return { kind: 'connect', database: plain[1] as string };
  // appendPsqlMetaConnect for a name that needs quoting: \connect -reuse-previous=on "dbname='x'"
  const quoted = /^\\connect -reuse-previous=on "dbname='((?:[^'\\]|\\.|'')*)'"$/.exec(t);
  if (quoted)
    return {
      kind: 'connect',
      database: (quoted[1] as string).replace(/\\(.)/g, '$1').replace(/''/g, "'").replace(/""/g, '"'),
    };
  return undefined;
}

/** What in a plain dump would act outside the one database it restores into, found as it is read. */
export interface PlainHazard {
  kind: 'meta' | 'copy-escape' | 'other-database' | 'server';
  line: number;
  /** The line or statement, cut short: catalog SQL, never row values (COPY data is not quoted). */
  text: string;
}

/**
 * Judges each piece: pg_dump's own `\restrict`, its `\connect` to the database it created and that
 * database's statements are the dump's; every other meta-command, a COPY data line pg_dump would not
 * write, a statement about another database or the whole server is a hazard.
 */
export class PlainJudge {
  /** The database the dump's CREATE DATABASE names (pg_dump -C), once seen. */
  database: string | undefined;
  /** pg_dump -c -C drops its database before it creates it: judged when the CREATE comes. */
  private dropBefore: PlainHazard | undefined;

  /** `drop`: leave the piece out of what psql gets (the tool handles the database itself). */
  judge(p: Piece): { drop: boolean; hazard?: PlainHazard } {
    const short = (s: string) => (s.length > 160 ? `${s.slice(0, 157)}...` : s);
    if (p.kind === 'copy') {
      if (p.end || foreignCopyEscape(p.text.slice(0, -1)) === -1) return { drop: false };
      return { drop: false, hazard: { kind: 'copy-escape', line: p.line, text: '(COPY data)' } };
    }
    if (p.kind === 'meta') {
      const own = pgDumpMeta(p.text);
      if (own?.kind === 'restrict') return { drop: true };
      if (own?.kind === 'connect' && own.database === this.database) return { drop: true };
      return { drop: true, hazard: { kind: 'meta', line: p.line, text: short(p.text.trim()) } };
    }
    if (p.more) return { drop: false };
    const code = codeOf(p.text);
    const db = databaseOf(code);
    if (db !== undefined) {
      const hazard: PlainHazard = { kind: 'other-database', line: p.line, text: short(code) };
      if (this.database === undefined && /^DROP DATABASE/i.test(code)) {
        this.dropBefore ??= hazard;
        return { drop: true };
      }
      if (this.database === undefined && /^CREATE DATABASE/i.test(code)) {
        this.database = db;
        if (this.dropBefore && databaseOf(codeOf(this.dropBefore.text)) === db) this.dropBefore = undefined;
      }
      if (db === this.database) return { drop: true };
      return { drop: true, hazard };
    }
    if (SERVER_STATEMENT.test(code))
      return { drop: true, hazard: { kind: 'server', line: p.line, text: short(code) } };
    return { drop: false };
  }

  /** At the end: a DROP DATABASE that no CREATE DATABASE of the same name followed. */
  finish(): PlainHazard | undefined {
    const left = this.dropBefore;
    this.dropBefore = undefined;
    return left;
  }
}

/** Bytes in, pieces out: the dump cut into lines (UTF-8 kept whole across chunks) for the lexer. */
export class PlainPieces {
  private readonly lexer = new PlainLexer();
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  constructor(private readonly emit: (p: Piece) => void) {}

  push(chunk: Buffer): void {
    const lines = (this.partial + this.decoder.write(chunk)).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.lexer.lexLine(line, this.emit);
  }

  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest) this.lexer.lexLine(rest, this.emit);
    this.lexer.finish(this.emit);
  }
}

const COPY_HEAD = /^COPY ((?:"(?:[^"]|"")+"|[^\s."]+)\.(?:"(?:[^"]|"")+"|[^\s."]+))(?: \(.*\))? FROM stdin;$/;

/** `schema.table` of a COPY statement, each part unquoted. */
function copyTarget(name: string): { schema: string; table: string } {
  const m = /^("(?:[^"]|"")+"|[^\s."]+)\.(.+)$/.exec(name) as RegExpExecArray;
  return { schema: unquote(m[1] as string), table: unquote(m[2] as string) };
}

/** `schema.table` as pg_dump writes it, each part bare or quoted. */
const QUALIFIED = '(?:"(?:[^"]|"")+"|[^\\s."(]+)\\.(?:"(?:[^"]|"")+"|[^\\s."(]+)';
const CREATE_TABLE = new RegExp(`^CREATE (?:UNLOGGED )?TABLE (${QUALIFIED})`);
const INSERT_INTO = new RegExp(`^INSERT INTO (${QUALIFIED})`);
const ATTACH = new RegExp(`^ALTER TABLE (?:ONLY )?(${QUALIFIED}) ATTACH PARTITION (${QUALIFIED})`);

/**
 * A plain dump's tables, from its statements: those it creates (partitioned ones aside: their
 * rows are their partitions'), those INSERT statements (pg_dump --inserts) load, and each
 * partition's parent, for a dump whose COPY goes through the root (--load-via-partition-root).
 */
export class PlainTables {
  readonly created: { schema: string; table: string }[] = [];
  /** `schema.table` of each table INSERT statements load, or pg_dump's comment heads as data. */
  readonly inserted = new Set<string>();
  /** `schema.table` of a partition to its parent's. */
  readonly parents = new Map<string, string>();
  private pending: { schema: string; table: string; tail: string } | undefined;

  statement(text: string, more: boolean): void {
    // pg_dump heads every table's data with this comment, an empty table's too (with --inserts,
    // nothing else of it is written): the names as they are, unquoted.
    if (text.includes('; Type: TABLE DATA; '))
      for (const m of text.matchAll(/^-- Data for Name: (.+); Type: TABLE DATA; Schema: (.+); Owner: /gm))
        this.inserted.add(tableKey({ schema: m[2] as string, table: m[1] as string }));
    if (more) {
      if (this.pending) this.pending.tail = (this.pending.tail + text).slice(-4096);
      return;
    }
    this.end();
    const code = codeOf(text.slice(0, 4096));
    const create = CREATE_TABLE.exec(code);
    if (create) this.pending = { ...copyTarget(create[1] as string), tail: text.slice(-4096) };
    const insert = INSERT_INTO.exec(code);
    if (insert) this.inserted.add(tableKey(copyTarget(insert[1] as string)));
    const attach = ATTACH.exec(code);
    if (attach)
      this.parents.set(tableKey(copyTarget(attach[2] as string)), tableKey(copyTarget(attach[1] as string)));
  }

  /** The statement in progress is over. */
  end(): void {
    const p = this.pending;
    this.pending = undefined;
    if (p && !PARTITIONED.test(p.tail)) this.created.push({ schema: p.schema, table: p.table });
  }
}

/** `schema.table`, unquoted: a key for matching tables, not SQL. */
export function tableKey(t: { schema: string; table: string }): string {
  return `${t.schema}.${t.table}`;
}

/**
 * Verify's walk of a plain dump, through the same lexer and judge as the restore uses: every
 * hazard, the rows of each COPY block (one line a row up to `\.`; COPY text writes a newline in a
 * value as `\n`; rows are counted, never kept), and each SQL statement for `onStatement`.
 */
export class PlainScan {
  readonly hazards: PlainHazard[] = [];
  count = 0;
  private readonly judge = new PlainJudge();
  private readonly rows = new Map<string, TableRows>();
  private copy: TableRows | undefined;
  private readonly pieces = new PlainPieces((p) => {
    this.note(this.judge.judge(p).hazard);
    this.tally(p);
  });

  constructor(private readonly onStatement: (sql: string) => void = () => {}) {}

  push(chunk: Buffer): void {
    this.pieces.push(chunk);
  }

  /** The dump ended: its tables' rows. */
  end(): TableRows[] {
    this.pieces.end();
    this.note(this.judge.finish());
    this.tables.end();
    return [...this.rows.values()];
  }

  /** The tables the dump creates, and those it loads rows into with INSERT or attaches. */
  readonly tables = new PlainTables();

  private tally(p: Piece): void {
    if (p.kind === 'copy') {
      if (p.end) this.copy = undefined;
      else if (this.copy) this.copy.rows++;
      return;
    }
    if (p.kind !== 'sql') return;
    this.tables.statement(p.text, p.more === true);
    const head = p.more ? null : COPY_HEAD.exec(codeOf(p.text));
    if (!head) {
      this.onStatement(p.text);
      return;
    }
    const { schema, table } = copyTarget(head[1] as string);
    const key = `${schema}\u0000${table}`;
    // With --load-via-partition-root, each partition's rows are one more block for the root.
    this.copy = this.rows.get(key) ?? { schema, table, rows: 0 };
    this.rows.set(key, this.copy);
  }

  private note(h: PlainHazard | undefined): void {
    if (!h) return;
    this.count++;
    if (this.hazards.length < 20) this.hazards.push(h);
  }
}
