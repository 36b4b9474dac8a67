/**
 * Rewrites of a custom archive's table of contents, as a damaged or crafted dump would carry them:
 * a TOC entry's data state or data offset, the header's compression, an entry's SQL. Each reads the
 * real bytes pg_dump wrote, finds the field by walking the header and TOC, and writes a copy.
 */
import fs from 'node:fs';

/** Where one TOC entry's fields are in the file. */
export interface TocField {
  dumpId: number;
  desc: string;
  namespace: string | null;
  tag: string;
  /** The defn string: where its length starts, and where the string ends. */
  defn: { start: number; end: number };
  /** Custom format: the data state byte; the offset follows it. */
  stateAt: number;
  offset: number;
}

export interface TocLayout {
  intSize: number;
  offSize: number;
  /** The header's compression: the algorithm byte (1.15+), or the level int's start (older). */
  compressionAt: number;
  entries: TocField[];
  /** Where the TOC ends and the data blocks begin. */
  end: number;
}

/** Walk a custom archive's header and TOC, recording where each entry's fields lie. */
export function tocLayout(buf: Buffer): TocLayout {
  const minor = buf[6] as number;
  const intSize = buf[8] as number;
  const offSize = buf[9] as number;
  let pos = 11;
  const int = () => {
    const sign = buf[pos] as number;
    let v = 0;
    for (let i = 0; i < intSize; i++) v += (buf[pos + 1 + i] as number) * 256 ** i;
    pos += 1 + intSize;
    return sign ? -v : v;
  };
  const str = () => {
    const start = pos;
    const len = int();
    const text = len < 0 ? null : buf.subarray(pos, pos + len).toString('utf8');
    if (len > 0) pos += len;
    return { start, end: pos, text };
  };
  const compressionAt = pos;
  if (minor >= 15) pos += 1;
  else int();
  for (let i = 0; i < 7; i++) int();
  for (let i = 0; i < 3; i++) str();
  const n = int();
  const entries: TocField[] = [];
  for (let i = 0; i < n; i++) {
    const dumpId = int();
    int(); // had dumper
    str(); // table oid
    str(); // oid
    const tag = str().text ?? '';
    const desc = str().text ?? '';
    int(); // section
    const defn = str();
    str(); // drop statement
    str(); // copy statement
    const namespace = str().text;
    str(); // tablespace
    if (minor >= 14) str(); // table access method
    if (minor >= 16) int(); // relkind
    str(); // owner
    str(); // with oids
    while (str().text !== null); // dependencies
    const stateAt = pos;
    let offset = 0;
    for (let k = 0; k < offSize; k++) offset += (buf[pos + 1 + k] as number) * 256 ** k;
    pos += 1 + offSize;
    entries.push({
      dumpId,
      desc,
      namespace,
      tag,
      defn: { start: defn.start, end: defn.end },
      stateAt,
      offset,
    });
  }
  return { intSize, offSize, compressionAt, entries, end: pos };
}

/** The entry of `desc` for `schema.table` (TABLE DATA by default). */
export function tocEntry(layout: TocLayout, table: string, desc = 'TABLE DATA'): TocField {
  const e = layout.entries.find((x) => x.desc === desc && `${x.namespace}.${x.tag}` === table);
  if (!e) throw new Error(`no ${desc} entry for ${table} in the archive`);
  return e;
}

function writeOffset(buf: Buffer, at: number, offSize: number, offset: number): void {
  let v = offset;
  for (let k = 0; k < offSize; k++) {
    buf[at + 1 + k] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** Set one TABLE DATA entry's data state byte: 1 offset not set, 2 offset set, 3 no data. */
export function setDataState(src: string, dest: string, table: string, state: 1 | 2 | 3): string {
  const buf = fs.readFileSync(src);
  buf[tocEntry(tocLayout(buf), table).stateAt] = state;
  fs.writeFileSync(dest, buf);
  return dest;
}

/** Set one TABLE DATA entry's data offset (the state stays "offset set"). */
export function setDataOffset(src: string, dest: string, table: string, offset: number): string {
  const buf = fs.readFileSync(src);
  const layout = tocLayout(buf);
  writeOffset(buf, tocEntry(layout, table).stateAt, layout.offSize, offset);
  fs.writeFileSync(dest, buf);
  return dest;
}

/** Swap two TABLE DATA entries' data offsets. */
export function swapDataOffsets(src: string, dest: string, a: string, b: string): string {
  const buf = fs.readFileSync(src);
  const layout = tocLayout(buf);
  const ea = tocEntry(layout, a);
  const eb = tocEntry(layout, b);
  writeOffset(buf, ea.stateAt, layout.offSize, eb.offset);
  writeOffset(buf, eb.stateAt, layout.offSize, ea.offset);
  fs.writeFileSync(dest, buf);
  return dest;
}

/** Make the header say "no compression", whatever the blocks hold. */
export function setHeaderUncompressed(src: string, dest: string): string {
  const buf = fs.readFileSync(src);
  const layout = tocLayout(buf);
  const minor = buf[6] as number;
  if (minor >= 15) buf[layout.compressionAt] = 0;
  else buf.fill(0, layout.compressionAt, layout.compressionAt + 1 + layout.intSize);
  fs.writeFileSync(dest, buf);
  return dest;
}

/**
 * Set every "offset set" entry's data offset to where its block is, as pg_dump does when it can
 * seek: for a file whose header, TOC or blocks a rewrite made longer or shorter.
 */
export function fixDataOffsets(file: string): string {
  const buf = fs.readFileSync(file);
  const layout = tocLayout(buf);
  const i = layout.intSize;
  const int = (at: number) => {
    let v = 0;
    for (let k = 0; k < i; k++) v += (buf[at + 1 + k] as number) * 256 ** k;
    return buf[at] ? -v : v;
  };
  const at = new Map<number, number>();
  const chunks = (p: number) => {
    for (let len = int(p); len !== 0; len = int(p)) p += i + 1 + len;
    return p + i + 1;
  };
  for (let p = layout.end; p < buf.length; ) {
    const type = buf[p] as number;
    at.set(int(p + 1), p);
    p += 1 + i + 1;
    if (type === 1) p = chunks(p);
    else {
      for (let oid = int(p); oid !== 0; oid = int(p)) p = chunks(p + i + 1);
      p += i + 1;
    }
  }
  for (const e of layout.entries) {
    const where = at.get(e.dumpId);
    if (buf[e.stateAt] === 2 && where !== undefined) writeOffset(buf, e.stateAt, layout.offSize, where);
  }
  fs.writeFileSync(file, buf);
  return file;
}

/**
 * Replace the SQL (defn) of the entry `desc` `schema.tag` with `sql` (or what it makes of the old),
 * re-encoding its length, and move the data offsets with it, so that pg_restore reads the result as
 * it would a dump.
 */
export function setEntrySql(
  src: string,
  dest: string,
  name: string,
  desc: string,
  sql: string | ((old: string) => string),
): string {
  const buf = fs.readFileSync(src);
  const layout = tocLayout(buf);
  const e = tocEntry(layout, name, desc);
  const old = buf.subarray(e.defn.start + 1 + layout.intSize, e.defn.end).toString('utf8');
  const text = Buffer.from(typeof sql === 'string' ? sql : sql(old), 'utf8');
  const len = Buffer.alloc(1 + layout.intSize);
  len.writeUIntLE(text.length, 1, Math.min(layout.intSize, 6));
  fs.writeFileSync(dest, Buffer.concat([buf.subarray(0, e.defn.start), len, text, buf.subarray(e.defn.end)]));
  return fixDataOffsets(dest);
}

/**
 * Set one TABLE DATA entry's data offset to any value its `offSize` bytes hold, past what a number
 * keeps exactly: 2^53 + 1, or 2^64 - 1 (all bytes 0xff, -1 to a reader that takes it as signed).
 */
export function setDataOffsetBytes(src: string, dest: string, table: string, offset: bigint): string {
  const buf = fs.readFileSync(src);
  const layout = tocLayout(buf);
  const at = tocEntry(layout, table).stateAt;
  let v = offset;
  for (let k = 0; k < layout.offSize; k++) {
    buf[at + 1 + k] = Number(v & 0xffn);
    v >>= 8n;
  }
  fs.writeFileSync(dest, buf);
  return dest;
}
