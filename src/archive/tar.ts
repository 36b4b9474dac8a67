import { RowCounter } from './blocks.js';
import {
  type ArchiveHeader,
  entryName,
  readHeader,
  readToc,
  type TableRows,
  type TocEntry,
} from './custom.js';
import { ArchiveProblem } from './problem.js';
import { ByteReader, UnexpectedEOF } from './reader.js';

/**
 * pg_dump -Ft: a ustar archive of toc.dat (the header and TOC, as a directory dump's), then one
 * member per entry with data (`3344.dat`: a table's COPY text, uncompressed), the large objects
 * (`blob_<oid>.dat`, listed in `blobs.toc`), restore.sql, and two zero blocks.
 */
export interface TarWalk {
  header: ArchiveHeader;
  toc: TocEntry[];
  blocks: number;
  dataBytes: number;
  tableRows: TableRows[];
}

const BLOCK = 512;

interface Member {
  name: string;
  size: number;
  /** Where its header starts in the tar. */
  at: number;
}

function octal(field: Buffer): number {
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/** The next member's header, or undefined at the first of the two zero blocks that end the tar. */
async function nextMember(r: ByteReader): Promise<Member | undefined> {
  const at = r.offset;
  if (!(await r.fill(BLOCK))) {
    throw new ArchiveProblem(
      'ARCHIVE_TRUNCATED',
      `the tar ends at byte ${at + r.available()} without its end-of-archive blocks`,
      { bytes: at + r.available() },
    );
  }
  const h = Buffer.from(r.bytes(BLOCK));
  if (h.every((b) => b === 0)) return undefined;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
  const size = octal(h.subarray(124, 136));
  if (h.subarray(257, 262).toString('latin1') !== 'ustar' || octal(h.subarray(148, 156)) !== sum) {
    throw new ArchiveProblem(
      'ARCHIVE_CORRUPT',
      `the tar header at byte ${at} is damaged (its checksum does not match)`,
      { offset: at },
    );
  }
  if (!Number.isSafeInteger(size) || size < 0)
    throw new ArchiveProblem('ARCHIVE_CORRUPT', `the tar header at byte ${at} gives no size`, { offset: at });
  return { name: h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, ''), size, at };
}

/** Read a member's bytes through `each`, then the padding to the next 512-byte block. */
async function readMember(r: ByteReader, m: Member, each: (b: Buffer) => void): Promise<void> {
  let left = m.size;
  while (left > 0) {
    if (r.available() === 0 && !(await r.fill(1))) {
      throw new ArchiveProblem(
        'ARCHIVE_TRUNCATED',
        `the tar ends inside its member ${m.name} (${m.size - left} of ${m.size} bytes there)`,
        { member: m.name, bytes: r.offset },
      );
    }
    const b = r.bytes(Math.min(left, r.available()));
    each(b);
    left -= b.length;
  }
  const pad = (BLOCK - (m.size % BLOCK)) % BLOCK;
  try {
    await r.pass(pad);
  } catch (e) {
    if (!(e instanceof UnexpectedEOF)) throw e;
    throw new ArchiveProblem('ARCHIVE_TRUNCATED', `the tar ends in the padding after ${m.name}`);
  }
}

async function readWhole(r: ByteReader, m: Member): Promise<Buffer> {
  const parts: Buffer[] = [];
  await readMember(r, m, (b) => parts.push(Buffer.from(b)));
  return Buffer.concat(parts);
}

/** toc.dat, the first member: pg_restore reads the archive's header and TOC from it. */
async function readTocMember(r: ByteReader): Promise<{ header: ArchiveHeader; toc: TocEntry[] }> {
  const first = await nextMember(r);
  if (first?.name !== 'toc.dat') {
    throw new ArchiveProblem(
      'ARCHIVE_CORRUPT',
      `a tar whose first member is ${first ? first.name : 'none'}, not pg_dump's toc.dat`,
    );
  }
  const bytes = await readWhole(r, first);
  if (bytes.subarray(0, 5).toString('latin1') !== 'PGDMP')
    throw new ArchiveProblem('ARCHIVE_CORRUPT', 'the toc.dat in the tar is not a pg_dump table of contents');
  const tr = ByteReader.from(
    (async function* () {
      yield bytes;
    })(),
  );
  try {
    const header = await readHeader(tr);
    return { header, toc: await readToc(tr, header) };
  } catch (e) {
    if (!(e instanceof UnexpectedEOF)) throw e;
    throw new ArchiveProblem('ARCHIVE_CORRUPT', `the toc.dat in the tar ends inside its TOC (${e.message})`);
  }
}

/** Walk every member of a tar-format dump, counting each table's rows, and check nothing is missing. */
export async function walkTar(r: ByteReader): Promise<TarWalk> {
  const { header, toc } = await readTocMember(r);
  const wanted = new Map<string, TocEntry>();
  // Large objects go to blob_<oid>.dat members and the list blobs.toc, never to the entry's own name.
  for (const e of toc)
    if (e.hadDumper && e.filename) wanted.set(e.desc === 'BLOBS' ? 'blobs.toc' : e.filename, e);
  const out: TarWalk = { header, toc, blocks: 0, dataBytes: 0, tableRows: [] };
  const blobs = new Set<string>();
  const listed: string[] = [];
  for (let m = await nextMember(r); m; m = await nextMember(r)) {
    const entry = wanted.get(m.name);
    wanted.delete(m.name);
    if (m.name === 'blobs.toc') {
      out.blocks++;
      const text = (await readWhole(r, m)).toString('utf8');
      for (const line of text.split('\n')) listed.push(...line.trim().split(' ').slice(1, 2));
      continue;
    }
    const rows = new RowCounter();
    await readMember(r, m, (b) => rows.add(b));
    if (!entry && !/^blob_\d+\.dat$/.test(m.name)) continue;
    if (!entry) blobs.add(m.name);
    out.blocks++;
    out.dataBytes += m.size;
    if (entry?.desc === 'TABLE DATA' && entry.copy)
      out.tableRows.push({ schema: entry.namespace ?? '', table: entry.tag, rows: rows.rows(m.size) });
  }
  await endBlock(r);
  const missing = [...wanted.values()];
  if (missing[0]) {
    const e = missing[0];
    throw new ArchiveProblem(
      'ARCHIVE_TRUNCATED',
      `the tar has no member ${e.desc === 'BLOBS' ? 'blobs.toc' : e.filename} for ${entryName(e)}${missing.length > 1 ? ` (nor ${missing.length - 1} more)` : ''}`,
      { member: e.filename ?? '', missing: missing.length },
    );
  }
  const lost = listed.find((b) => !blobs.has(b));
  if (lost) throw new ArchiveProblem('ARCHIVE_TRUNCATED', `the tar has no member ${lost} for a large object`);
  return out;
}

/** The second zero block, and nothing but zeros after it. */
async function endBlock(r: ByteReader): Promise<void> {
  const at = r.offset;
  if (!(await r.fill(BLOCK))) {
    throw new ArchiveProblem(
      'ARCHIVE_TRUNCATED',
      `the tar ends at byte ${at + r.available()}, inside its end-of-archive blocks`,
    );
  }
  for (;;) {
    const start = r.offset;
    const junk = r.bytes(r.available()).findIndex((x) => x !== 0);
    if (junk !== -1) {
      throw new ArchiveProblem(
        'ARCHIVE_CORRUPT',
        `bytes after the tar's end-of-archive blocks (at byte ${start + junk})`,
        { offset: start + junk },
      );
    }
    if (!(await r.fill(1))) return;
  }
}
