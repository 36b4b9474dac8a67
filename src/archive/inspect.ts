import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Compression, decoderFor } from './blocks.js';
import { plainDataNotDumped, tocDataNotDumped } from './coverage.js';
import {
  type ArchiveHeader,
  entryName,
  type Lanes,
  readHeader,
  readToc,
  type TableRows,
  type TocEntry,
  type WalkResult,
  walkCustomData,
} from './custom.js';
import type { SharedFront } from './front.js';
import { fileChunks, isalAddon } from './lanes.js';
import { PlainScan } from './plain.js';
import { ArchiveProblem } from './problem.js';
import { ChunkQueue } from './queue.js';
import { ByteReader } from './reader.js';
import { SqlScanner } from './sqlscan.js';
import { walkTar } from './tar.js';
import { unwrap, WRAPPER_MAGIC_BYTES, type Wrapper, wrapperOf, wrapperProblem } from './wrapper.js';

export type DumpFormat = 'custom' | 'directory' | 'plain' | 'tar' | 'unknown';

/** An object the dump gives an owner, as pg_dump names it: its TOC entry's type, schema and tag. */
export interface OwnedEntry {
  desc: string;
  namespace: string;
  tag: string;
  owner: string;
}

/** An extension of the dump and the schema its CREATE EXTENSION names. */
export interface DumpExtension {
  name: string;
  schema?: string;
}

/** TOC types whose owner a restore without owners gives back after (postgres/owners.ts). */
export const OWNED_TYPES = new Set([
  'TABLE',
  'VIEW',
  'SEQUENCE',
  'MATERIALIZED VIEW',
  'FOREIGN TABLE',
  'FUNCTION',
  'PROCEDURE',
  'AGGREGATE',
  'TYPE',
  'DOMAIN',
  'SCHEMA',
  'COLLATION',
  'CONVERSION',
  'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY',
  'STATISTICS',
  'OPERATOR',
  'OPERATOR CLASS',
  'OPERATOR FAMILY',
  'SERVER',
  'PUBLICATION',
  'BLOB',
  'LARGE OBJECT',
]);

/** The schema a CREATE EXTENSION statement names, unquoted. */
export function extensionSchema(sql: string | undefined): string | undefined {
  const m = /\bWITH SCHEMA\s+("(?:[^"]|"")+"|[\w$]+)/i.exec(sql ?? '');
  return m?.[1] === undefined ? undefined : unquote(m[1]);
}

export interface TocSummary {
  entries: number;
  /** Entries by type (`TABLE`, `TABLE DATA`, `INDEX`, `FK CONSTRAINT`, ...). */
  byType: Record<string, number>;
  tables: number;
  dataEntries: number;
  schemas: string[];
  extensions: string[];
  owners: string[];
  /** Custom, directory and tar dumps: each object's owner, for a restore without owners to give back. */
  owned?: OwnedEntry[];
  /** The extensions with the schema each is made in. */
  extensionSchemas?: DumpExtension[];
  /** Roles named by GRANT/REVOKE entries (grantees), PUBLIC excluded. */
  grantees: string[];
  /** Custom and directory dumps: the tables that have rows in the dump, as schema.table. */
  dataTables?: string[];
  /** The dumped database's encoding and locale, from its CREATE DATABASE. */
  database?: {
    encoding?: string;
    locale?: string;
    collate?: string;
    ctype?: string;
    provider?: string;
    /** With provider icu: the ICU locale the database sorts by. */
    icuLocale?: string;
  };
}

/** Encoding and locale from pg_dump's CREATE DATABASE statement. */
export function databaseLocale(sql: string | undefined): { database?: TocSummary['database'] } {
  if (!sql) return {};
  const get = (key: string) => new RegExp(`\\b${key}\\s*=\\s*'([^']*)'`, 'i').exec(sql)?.[1];
  const provider = /\bLOCALE_PROVIDER\s*=\s*'?(\w+)'?/i.exec(sql)?.[1];
  const db: NonNullable<TocSummary['database']> = {};
  for (const [k, v] of [
    ['encoding', get('ENCODING')],
    ['locale', get('LOCALE')],
    ['collate', get('LC_COLLATE')],
    ['ctype', get('LC_CTYPE')],
    ['provider', provider],
    ['icuLocale', get('ICU_LOCALE')],
  ] as const) {
    if (v) db[k] = v;
  }
  return { database: db };
}

/** Role names after TO / FROM in GRANT and REVOKE statements. */
export function rolesInAcl(sql: string): string[] {
  const out: string[] = [];
  for (const m of sql.matchAll(
    /\b(?:TO|FROM)\s+((?:"(?:[^"]|"")+"|[\w$]+)(?:\s*,\s*(?:"(?:[^"]|"")+"|[\w$]+))*)/g,
  )) {
    for (const part of (m[1] as string).split(/\s*,\s*/)) {
      const name = part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part;
      if (name.toUpperCase() !== 'PUBLIC' && name !== 'GROUP') out.push(name);
    }
  }
  return out;
}

export interface Inspection {
  format: DumpFormat;
  /** The whole-file compression around the dump (.dump.gz, .sql.zst, ...), by its magic bytes. */
  wrapper: Wrapper | null;
  size: number;
  sha256?: string;
  md5?: string;
  header?: ArchiveHeader;
  toc?: TocSummary;
  /** Versions as the dump records them (plain dumps: from their opening comments). */
  serverVersion?: string;
  pgDumpVersion?: string;
  compression?: Compression;
  dataBlocks: number;
  dataBytes: number;
  /**
   * Every table with data in the dump and its rows, counted by the walk (COPY lines): custom and
   * directory dumps' TABLE DATA entries, plain dumps' COPY blocks. Absent when the walk stopped early.
   */
  tableRows?: TableRows[];
  /** pg_dump wrote to a pipe, so the TOC holds no data offsets: pg_restore cannot run in parallel. */
  noOffsets?: boolean;
  /** A gzip custom dump read from a file: what inflated its tables (`ISA-L (<addon>)`, `zlib: <why>`). */
  inflatedBy?: string;
  problems: ArchiveProblem[];
}

/**
 * What a dump says of itself before its data, told as soon as it is read (a drill starts its target
 * then): a custom or directory dump's header and table of contents, a plain dump's opening comments.
 */
export interface EarlyFacts {
  format: DumpFormat;
  serverVersion?: string;
  /** The dumped database's name (custom and directory dumps). */
  database?: string;
}

/** Tell `onHeader` once; what it does is its own business, never a problem of the dump. */
function tell(onHeader: ((f: EarlyFacts) => void) | undefined, facts: EarlyFacts): void {
  try {
    onHeader?.(facts);
  } catch {
    // A listener's failure is not the archive's.
  }
}

/** What inflated a walk's tables, for the debug line: ISA-L and its addon, or zlib and why. */
function inflatedBy(seen: NonNullable<WalkResult['lanes']>): string {
  if (seen.inflate === 'zlib') return seen.noIsal ? `zlib: ${seen.noIsal}` : 'zlib';
  const addon = isalAddon();
  return `ISA-L (${'path' in addon ? addon.path : addon.unavailable})`;
}

function summarize(toc: TocEntry[]): TocSummary {
  const uniq = (xs: (string | null)[]) => [...new Set(xs.filter((x): x is string => !!x))].sort();
  const byType: Record<string, number> = {};
  for (const e of toc) byType[e.desc] = (byType[e.desc] ?? 0) + 1;
  return {
    entries: toc.length,
    byType,
    tables: toc.filter((e) => e.desc === 'TABLE').length,
    dataEntries: toc.filter((e) => e.hadDumper).length,
    schemas: uniq(toc.filter((e) => e.desc === 'SCHEMA').map((e) => e.tag)),
    extensions: uniq(toc.filter((e) => e.desc === 'EXTENSION').map((e) => e.tag)),
    owners: uniq(toc.map((e) => e.owner)),
    owned: toc.flatMap((e) =>
      e.owner && OWNED_TYPES.has(e.desc)
        ? [{ desc: e.desc, namespace: e.namespace ?? '', tag: e.tag, owner: e.owner }]
        : [],
    ),
    extensionSchemas: toc
      .filter((e) => e.desc === 'EXTENSION')
      .map((e) => {
        const schema = extensionSchema(e.sql);
        return schema ? { name: e.tag, schema } : { name: e.tag };
      }),
    grantees: uniq(toc.flatMap((e) => (e.sql && e.desc.endsWith('ACL') ? rolesInAcl(e.sql) : []))),
    dataTables: uniq(toc.filter((e) => e.desc === 'TABLE DATA').map((e) => `${e.namespace}.${e.tag}`)),
    ...databaseLocale(toc.find((e) => e.desc === 'DATABASE')?.sql),
  };
}

const PLAIN_END = /PostgreSQL database (cluster )?dump complete/;
const TAIL = 4096;

/** SQL that runs a program on the server or reads or writes its files when the dump is restored. */
function accessProblem(where: string, what: string, statement: string): ArchiveProblem {
  const shown = statement.length > 120 ? `${statement.slice(0, 120)}…` : statement;
  return new ArchiveProblem(
    'DUMP_SERVER_ACCESS',
    `${where}: ${what} when the dump is restored (pg_dump never writes this): ${shown.replace(/\s+/g, ' ')}`,
    { where, what },
  );
}

function accessProblems(toc: TocEntry[]): ArchiveProblem[] {
  return toc.flatMap((e) =>
    e.serverAccess
      ? [accessProblem(`TOC entry ${entryName(e)}`, e.serverAccess.what, e.serverAccess.statement)]
      : [],
  );
}

const ownerNeedle = Buffer.from(' OWNER TO ');
const grantNeedle = Buffer.from('\nGRANT ');

const extensionNeedle = Buffer.from('\nCREATE EXTENSION ');

/**
 * The roles that own and are granted objects in a plain dump, for a restore that must create them
 * first, and the extensions it creates with their schemas (a restore without a superuser makes the
 * untrusted ones first): searched chunk by chunk.
 */
class PlainNames {
  private readonly owners = new Set<string>();
  private readonly grantees = new Set<string>();
  private readonly extensions = new Map<string, DumpExtension>();

  search(buf: Buffer): void {
    for (let i = buf.indexOf(ownerNeedle); i !== -1; i = buf.indexOf(ownerNeedle, i + 1)) {
      const end = buf.indexOf(';', i);
      if (end === -1 || end - i >= 200) continue;
      this.owners.add(
        unquote(
          buf
            .subarray(i + ownerNeedle.length, end)
            .toString('utf8')
            .trim(),
        ),
      );
    }
    for (let i = buf.indexOf(grantNeedle); i !== -1; i = buf.indexOf(grantNeedle, i + 1)) {
      const end = buf.indexOf(';', i);
      if (end !== -1 && end - i < 2000)
        for (const r of rolesInAcl(buf.subarray(i, end).toString('utf8'))) this.grantees.add(r);
    }
    for (let i = buf.indexOf(extensionNeedle); i !== -1; i = buf.indexOf(extensionNeedle, i + 1)) {
      const end = buf.indexOf(';', i);
      if (end === -1 || end - i >= 400) continue;
      const sql = buf.subarray(i + 1, end).toString('utf8');
      const m = /^CREATE EXTENSION (?:IF NOT EXISTS )?("(?:[^"]|"")+"|[\w$-]+)/.exec(sql);
      if (!m) continue;
      const name = unquote(m[1] as string);
      const schema = extensionSchema(sql);
      this.extensions.set(name, schema ? { name, schema } : { name });
    }
  }

  summary(): Pick<TocSummary, 'extensions' | 'extensionSchemas' | 'owners' | 'grantees'> {
    return {
      extensions: [...this.extensions.keys()].sort(),
      extensionSchemas: [...this.extensions.values()],
      owners: [...this.owners].sort(),
      grantees: [...this.grantees].sort(),
    };
  }
}

const unquote = (id: string) => (id.startsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id);

/** Scan a plain SQL dump: its opening comments, its tables, and the line that closes it. */
async function scanPlain(
  chunks: AsyncIterable<Buffer>,
  first: Buffer,
  out: Inspection,
  onHeader?: (f: EarlyFacts) => void,
): Promise<void> {
  const headText = first.subarray(0, 4096).toString('utf8');
  const fromPgDump = /PostgreSQL database (cluster )?dump/.test(headText);
  const server = /^-- Dumped from database version (.+)$/m.exec(headText);
  const dumper = /^-- Dumped by pg_dump(?:all)? version (.+)$/m.exec(headText);
  if (server) out.serverVersion = server[1]?.trim();
  if (dumper) out.pgDumpVersion = dumper[1]?.trim();
  if (fromPgDump)
    tell(onHeader, { format: 'plain', ...(out.serverVersion ? { serverVersion: out.serverVersion } : {}) });
  const needle = Buffer.from('\nCREATE TABLE ');
  const names = new PlainNames();
  let tables = 0;
  let tail: Buffer = Buffer.alloc(0);
  let bytes = 0;
  // pg_dumpall writes the role memberships there are, pg_execute_server_program's among them.
  const cluster = /PostgreSQL database cluster dump/.test(headText);
  const scanner = new SqlScanner((what, statement) => {
    if (!(cluster && what.startsWith('a grant of')))
      out.problems.push(accessProblem('a statement', what, statement));
  });
  const scan = new PlainScan((sql) => scanner.feed(sql));
  const SEAM = 2048;
  for await (const chunk of chunks) {
    bytes += chunk.length;
    scan.push(chunk);
    // Search the chunk where it lies (no copy), and a small seam for what crosses from the last one.
    for (let i = chunk.indexOf(needle); i !== -1; i = chunk.indexOf(needle, i + needle.length)) tables++;
    names.search(chunk);
    if (tail.length > 0) {
      const before = tail.subarray(Math.max(0, tail.length - SEAM));
      const seam = Buffer.concat([before, chunk.subarray(0, SEAM)]);
      for (let i = seam.indexOf(needle); i !== -1 && i < before.length; i = seam.indexOf(needle, i + 1)) {
        if (i + needle.length > before.length) tables++;
      }
      names.search(seam);
    }
    tail =
      chunk.length >= TAIL
        ? chunk.subarray(chunk.length - TAIL)
        : Buffer.concat([tail, chunk]).subarray(-TAIL);
  }
  out.tableRows = scan.end();
  scanner.end();
  if (fromPgDump) out.problems.push(...plainDataNotDumped(scan.tables, out.tableRows));
  out.problems.push(...hazardProblems(scan));
  out.dataBytes = bytes;
  out.toc = {
    entries: 0,
    byType: {},
    tables,
    dataEntries: 0,
    schemas: [],
    ...names.summary(),
  };
  if (!fromPgDump) {
    out.problems.push(
      new ArchiveProblem(
        'FORMAT_UNSUPPORTED',
        'a SQL script not written by pg_dump: nothing marks where it should end, so truncation cannot be ruled out',
      ),
    );
  } else if (!PLAIN_END.test(tail.toString('utf8'))) {
    out.problems.push(
      new ArchiveProblem(
        'ARCHIVE_TRUNCATED',
        `the plain dump ends without pg_dump's closing "dump complete" line (${bytes} bytes read)`,
        { bytes },
      ),
    );
  }
}

/** A plain dump's hazards as problems: one per rule, naming the first line and how many there are. */
function hazardProblems(scan: PlainScan): ArchiveProblem[] {
  const out: ArchiveProblem[] = [];
  const groups = [
    { rule: 'PLAIN_META_COMMAND', kinds: ['meta', 'copy-escape'] },
    { rule: 'DUMP_OUTSIDE_DATABASE', kinds: ['other-database', 'server'] },
  ] as const;
  for (const g of groups) {
    const hits = scan.hazards.filter((h) => (g.kinds as readonly string[]).includes(h.kind));
    const first = hits[0];
    if (!first) continue;
    const what =
      first.kind === 'copy-escape'
        ? 'COPY data with a backslash pg_dump does not write (psql runs it as a command if the COPY fails)'
        : first.kind === 'meta'
          ? `the psql meta-command ${first.text}`
          : first.text;
    const more =
      hits.length > 1
        ? ` (${scan.count > scan.hazards.length ? 'at least ' : ''}${hits.length - 1} more)`
        : '';
    out.push(
      new ArchiveProblem(g.rule, `line ${first.line}: ${what}${more}; nothing of the dump was run`, {
        line: first.line,
        count: hits.length,
      }),
    );
  }
  return out;
}

/** Take the first `n` bytes off a stream (fewer at its end), giving back the whole stream. */
async function peek(
  src: AsyncIterable<Buffer>,
  n: number,
): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const it = src[Symbol.asyncIterator]();
  const got: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const next = await it.next();
    if (next.done) {
      done = true;
      break;
    }
    got.push(next.value);
    size += next.value.length;
  }
  const head = Buffer.concat(got);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  }
  return { head, all: all() };
}

function isTar(head: Buffer): boolean {
  return head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
}

function looksLikeText(head: Buffer): boolean {
  const sample = head.subarray(0, 1024);
  if (sample.length === 0) return false;
  let bad = 0;
  for (const b of sample) if (b === 0 || (b < 9 && b !== 0) || (b > 13 && b < 32 && b !== 27)) bad++;
  return bad === 0;
}

/** Parse what the (unwrapped) stream holds, recording problems on `out`. */
async function parseDump(
  src: AsyncIterable<Buffer>,
  out: Inspection,
  lanes?: Lanes,
  onHeader?: (f: EarlyFacts) => void,
): Promise<void> {
  const { head, all } = await peek(src, 4096);
  if (head.length === 0) {
    out.format = 'unknown';
    throw new ArchiveProblem(
      'ARCHIVE_UNREADABLE',
      out.wrapper ? `the ${out.wrapper} file holds nothing` : 'the file is empty',
    );
  }
  if (head.subarray(0, 5).toString('latin1') === 'PGDMP') {
    const r = ByteReader.from(all);
    try {
      const h = await readHeader(r);
      out.header = h;
      out.format = h.format;
      out.compression = h.compression;
      out.serverVersion = h.serverVersion;
      out.pgDumpVersion = h.pgDumpVersion;
      if (h.format !== 'custom') {
        throw new ArchiveProblem(
          'FORMAT_UNSUPPORTED',
          'a table of contents (toc.dat) on its own: give the directory of a directory-format dump as the source',
        );
      }
      const toc = await readToc(r, h);
      out.toc = summarize(toc);
      out.problems.push(...accessProblems(toc), ...tocDataNotDumped(toc));
      out.noOffsets = toc.some((e) => e.dataState === 'not-set');
      tell(onHeader, { format: 'custom', serverVersion: h.serverVersion, database: h.database });
      const walked = await walkCustomData(r, h, toc, lanes);
      out.dataBlocks = walked.blocks;
      out.dataBytes = walked.dataBytes;
      out.tableRows = walked.tableRows;
      if (walked.lanes?.inflate) out.inflatedBy = inflatedBy(walked.lanes);
    } catch (e) {
      if (e instanceof Error && e.constructor.name === 'UnexpectedEOF') {
        throw new ArchiveProblem(
          'ARCHIVE_TRUNCATED',
          `the archive ends inside its header or table of contents (${e.message})`,
        );
      }
      throw e;
    }
    return;
  }
  if (isTar(head)) {
    out.format = 'tar';
    const walked = await walkTar(ByteReader.from(all));
    out.header = walked.header;
    out.compression = walked.header.compression;
    out.serverVersion = walked.header.serverVersion;
    out.pgDumpVersion = walked.header.pgDumpVersion;
    out.toc = summarize(walked.toc);
    out.problems.push(...accessProblems(walked.toc), ...tocDataNotDumped(walked.toc));
    out.dataBlocks = walked.blocks;
    out.dataBytes = walked.dataBytes;
    out.tableRows = walked.tableRows;
    return;
  }
  if (looksLikeText(head)) {
    out.format = 'plain';
    await scanPlain(all, head, out, onHeader);
    return;
  }
  out.format = 'unknown';
  throw new ArchiveProblem(
    'ARCHIVE_UNREADABLE',
    `not a pg_dump archive nor a SQL dump (it starts with bytes ${head.subarray(0, 8).toString('hex')})`,
    { firstBytes: head.subarray(0, 8).toString('hex') },
  );
}

export interface InspectOptions {
  /** Also compute MD5 (only when there is an MD5 to compare with: it costs a second hash). */
  md5?: boolean;
  /**
   * The file the bytes come from (a local file, or a download's file as it grows): a custom
   * archive's tables then decode side by side, reading their ranges from it again, while the one
   * pass hashes and checks the framing.
   */
  file?: string;
  /**
   * `file` is a download still being written, complete up to this front: the lanes follow it (a
   * table's decode starts once its first bytes are there, not once the walk has read past it all).
   */
  front?: SharedFront;
  /** Kept up to date with the bytes read so far, for progress (one assignment per chunk). */
  seen?: { bytes: number };
  /** Told what the dump says of itself once its header (and TOC) are read, before its data. */
  onHeader?: (f: EarlyFacts) => void;
}

function record(out: Inspection, e: unknown): void {
  if (e instanceof ArchiveProblem) return void out.problems.push(e);
  const problem = out.wrapper ? wrapperProblem(out.wrapper, e) : undefined;
  if (!problem) throw e;
  out.problems.push(problem);
}

/**
 * One pass over a backup's bytes: hash them (SHA-256, and MD5 when asked), undo a whole-file wrapper,
 * parse the header and TOC, and walk every data block to the end, decompressing as it goes.
 * Errors in the source (a failed download) are thrown; problems with the dump are recorded.
 */
export async function inspectStream(
  src: AsyncIterable<Buffer>,
  opts: InspectOptions = {},
): Promise<Inspection> {
  const out: Inspection = {
    format: 'unknown',
    wrapper: null,
    size: 0,
    dataBlocks: 0,
    dataBytes: 0,
    problems: [],
  };
  const sha = createHash('sha256');
  const md5: Hash | undefined = opts.md5 ? createHash('md5') : undefined;
  const q = new ChunkQueue();
  const feed = async () => {
    try {
      for await (const b of src) {
        sha.update(b);
        md5?.update(b);
        out.size += b.length;
        if (opts.seen) opts.seen.bytes = out.size;
        await q.push(b);
      }
    } finally {
      q.end();
    }
  };
  const parse = async () => {
    try {
      const { head, all } = await peek(q, WRAPPER_MAGIC_BYTES);
      out.wrapper = wrapperOf(head);
      if (out.wrapper) {
        const inner = unwrap(out.wrapper, all);
        try {
          await parseDump(inner.bytes, out, undefined, opts.onHeader);
        } catch (e) {
          throw (await inner.rest()) ?? e;
        }
      } else {
        await parseDump(all, out, opts.file ? lanesFor(opts.file, opts.front) : undefined, opts.onHeader);
      }
    } catch (e) {
      record(out, e);
    } finally {
      q.abandon();
    }
  };
  await Promise.all([feed(), parse()]);
  out.sha256 = sha.digest('hex');
  if (md5) out.md5 = md5.digest('hex');
  return out;
}

/** Tables decoded at once when the bytes can be read again: the cores, within libuv's 4 threads. */
const LANES = Math.min(3, Math.max(2, os.availableParallelism()));

/** The lanes over a local file (complete), or over a download's file as its front moves. */
function lanesFor(file: string, front: SharedFront | undefined): Lanes {
  return front ? { file, count: LANES, front } : { file, count: LANES, complete: true };
}

/**
 * A directory-format dump (pg_dump -Fd): toc.dat plus one file per table's data; `seen.bytes` is
 * kept at the bytes read so far (toc.dat, then each data file as it is read), for the progress line.
 */
export async function inspectDirectory(
  dir: string,
  seen?: { bytes: number },
  onHeader?: (f: EarlyFacts) => void,
): Promise<Inspection> {
  const out: Inspection = {
    format: 'directory',
    wrapper: null,
    size: 0,
    dataBlocks: 0,
    dataBytes: 0,
    problems: [],
  };
  try {
    const tocPath = path.join(dir, 'toc.dat');
    out.size = fs.statSync(tocPath).size;
    const r = ByteReader.from(fileChunks(tocPath));
    if (!(await r.fill(5)) || r.bytes(5).toString('latin1') !== 'PGDMP') {
      throw new ArchiveProblem('ARCHIVE_UNREADABLE', 'toc.dat is not a pg_dump table of contents');
    }
    const h = await readHeader(ByteReader.from(fileChunks(tocPath)));
    out.header = { ...h, format: 'directory' };
    out.compression = h.compression;
    out.serverVersion = h.serverVersion;
    out.pgDumpVersion = h.pgDumpVersion;
    const r2 = ByteReader.from(fileChunks(tocPath));
    await readHeader(r2);
    const toc = await readToc(r2, h);
    out.toc = summarize(toc);
    if (seen) seen.bytes = out.size;
    out.problems.push(...accessProblems(toc), ...tocDataNotDumped(toc));
    tell(onHeader, { format: 'directory', serverVersion: h.serverVersion, database: h.database });
    const suffix: Record<Compression, string> = { none: '', gzip: '.gz', lz4: '.lz4', zstd: '.zst' };
    const rows: TableRows[] = [];
    const walkFile = async (name: string, what: string, table?: TocEntry) => {
      const file = path.join(dir, name + suffix[h.compression]);
      if (!fs.existsSync(file)) {
        throw new ArchiveProblem(
          'ARCHIVE_TRUNCATED',
          `the data file ${path.basename(file)} of ${what} is missing`,
          {
            file: path.basename(file),
          },
        );
      }
      out.size += fs.statSync(file).size;
      const dec = decoderFor(h.compression === 'gzip' ? 'gzipFile' : h.compression, what, !!table);
      for await (const b of fileChunks(file)) {
        if (seen) seen.bytes += b.length;
        const p = dec.push(b);
        if (p) await p;
      }
      const decoded = await dec.finish();
      out.dataBytes += decoded.bytes;
      out.dataBlocks++;
      if (table?.copy) rows.push({ schema: table.namespace ?? '', table: table.tag, rows: decoded.rows });
    };
    for (const e of toc) {
      if (!e.hadDumper || !e.filename) continue;
      if (e.filename.endsWith('.toc')) {
        const list = path.join(dir, e.filename);
        if (!fs.existsSync(list))
          throw new ArchiveProblem('ARCHIVE_TRUNCATED', `the large-object list ${e.filename} is missing`);
        for (const line of fs.readFileSync(list, 'utf8').split('\n')) {
          const blob = line.trim().split(' ')[1];
          if (blob) await walkFile(blob, `large objects of ${entryName(e)}`);
        }
      } else {
        await walkFile(e.filename, entryName(e), e.desc === 'TABLE DATA' ? e : undefined);
      }
    }
    out.tableRows = rows;
  } catch (e) {
    if (e instanceof ArchiveProblem) out.problems.push(e);
    else if (e instanceof Error && e.constructor.name === 'UnexpectedEOF') {
      out.problems.push(new ArchiveProblem('ARCHIVE_TRUNCATED', `toc.dat ends early (${e.message})`));
    } else throw e;
  }
  return out;
}
