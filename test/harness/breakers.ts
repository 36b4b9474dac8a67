/**
 * Broken backups, made from healthy ones the way they break in life. Never hand-edited binaries.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

/** Keep only the first `bytes` bytes (a dump cut short by a full disk or a killed upload). */
export function truncate(src: string, dest: string, bytes: number): string {
  const fd = fs.openSync(src, 'r');
  const buf = Buffer.alloc(bytes);
  fs.readSync(fd, buf, 0, bytes, 0);
  fs.closeSync(fd);
  fs.writeFileSync(dest, buf);
  return dest;
}

/** Flip `count` bytes starting at `offset` (bit rot, a bad disk). */
export function flipBytes(src: string, dest: string, offset: number, count = 8): string {
  const buf = fs.readFileSync(src);
  for (let i = offset; i < offset + count && i < buf.length; i++) buf[i] = (buf[i] as number) ^ 0xff;
  fs.writeFileSync(dest, buf);
  return dest;
}

/** Copy with junk appended (a botched concatenation). */
export function appendJunk(src: string, dest: string, junk: Buffer): string {
  fs.writeFileSync(dest, Buffer.concat([fs.readFileSync(src), junk]));
  return dest;
}

export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export function md5(file: string): string {
  return createHash('md5').update(fs.readFileSync(file)).digest('hex');
}

export function writeSidecar(file: string, algorithm: 'sha256' | 'md5', digest?: string): void {
  const value = digest ?? (algorithm === 'sha256' ? sha256(file) : md5(file));
  fs.writeFileSync(`${file}.${algorithm}`, `${value}  ${path.basename(file)}\n`);
}

export function gzipFile(src: string, dest: string): string {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, zlib.gzipSync(fs.readFileSync(src)));
  return dest;
}

/**
 * Rewrite the pg_dump version recorded in a custom archive's header (as a dump made by a newer
 * pg_dump would carry it), re-encoding the string so the rest stays intact.
 */
export function setPgDumpVersion(src: string, dest: string, version: string): string {
  return setHeaderVersion(src, dest, 'pg_dump', version);
}

/** Rewrite the server (dumped-from) or pg_dump version in a custom archive's header. */
export function setHeaderVersion(
  src: string,
  dest: string,
  field: 'server' | 'pg_dump',
  version: string,
): string {
  const buf = fs.readFileSync(src);
  const intSize = buf[8] as number;
  const minor = buf[6] as number;
  let pos = 11 + (minor >= 15 ? 1 : intSize + 1) + 7 * (intSize + 1);
  const readStr = () => {
    const sign = buf[pos] as number;
    let len = 0;
    for (let i = 0; i < intSize; i++) len += (buf[pos + 1 + i] as number) * 256 ** i;
    const start = pos;
    pos += 1 + intSize + (sign ? 0 : len);
    return { start, end: pos };
  };
  readStr(); // database
  const server = readStr();
  const dumper = readStr();
  const at = field === 'server' ? server : dumper;
  // Keep the length: the TOC holds absolute offsets of the data blocks that pg_restore seeks to.
  const old = at.end - at.start - 1 - intSize;
  const text = version.length <= old ? version.padEnd(old, ' ') : version;
  const enc = Buffer.alloc(1 + intSize);
  enc.writeUIntLE(text.length, 1, Math.min(intSize, 6));
  fs.writeFileSync(
    dest,
    Buffer.concat([buf.subarray(0, at.start), enc, Buffer.from(text), buf.subarray(at.end)]),
  );
  return dest;
}

/** Insert a statement the server will refuse into a plain dump, before its closing lines. */
export function injectBadStatement(src: string, dest: string): string {
  return injectSql(
    src,
    dest,
    // A view, not a table: a table the dump creates without its data would be DATA_NOT_DUMPED too.
    'CREATE VIEW public.broken_view AS SELECT id FROM public.no_such_table;',
  );
}

/** Insert SQL into a plain dump, before its closing lines (an extension, a broken statement). */
export function injectSql(src: string, dest: string, sql: string): string {
  const text = fs.readFileSync(src, 'utf8');
  const at = text.lastIndexOf('--\n-- PostgreSQL database dump complete');
  fs.writeFileSync(dest, `${text.slice(0, at)}${sql}\n\n${text.slice(at)}`);
  return dest;
}

/** The command-line compressor of each whole-file wrapper, and the suffix it gives. */
export const WRAPPERS = {
  zstd: '.zst',
  lz4: '.lz4',
  xz: '.xz',
  bzip2: '.bz2',
} as const;

/** Compress a file whole with the real command-line tool (`pg_dump | zstd > x.sql.zst`). */
export function compressFile(tool: keyof typeof WRAPPERS, src: string, dest: string): string {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const r = spawnSync(tool, ['-c', '-q', src], { maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0)
    throw new Error(
      `${tool} failed (${r.error?.message ?? r.stderr.toString()}); scripts/install-deps.sh installs it`,
    );
  fs.writeFileSync(dest, r.stdout);
  return dest;
}
