import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { capped, unwrapStep, type Wrapper, wrapperOf } from '../archive/wrapper.js';

/**
 * How an archiver left a WAL file: as is, or compressed with one of the wrappers a dump can have
 * (src/archive/wrapper.ts decodes both). A file named like the bare WAL file may still be
 * compressed (Barman compresses in place and keeps the name): its first bytes tell.
 */
export type WalCompression = 'none' | Wrapper;

/** The suffixes archive_command scripts, pgBackRest and WAL tools add. */
export const SUFFIXES: Record<string, WalCompression> = {
  '.gz': 'gzip',
  '.bz2': 'bzip2',
  '.lz4': 'lz4',
  '.zst': 'zstd',
  '.xz': 'xz',
};

/** The compression a file's first bytes announce (none when they announce none of these). */
export function sniff(head: Buffer): WalCompression {
  return wrapperOf(head) ?? 'none';
}

/** The first bytes of a local file. */
export function headOf(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(8);
    const n = fs.readSync(fd, b, 0, 8, 0);
    return b.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Decompress the local file `src` (of compression `c`) into `dest`, with the decoders dumps use
 * (zlib, LZ4 and zstd in process; xz and bzip2 through their programs, streamed). Throws with the
 * decoder's own words when the bytes do not decompress.
 */
export async function decompressFile(
  c: Wrapper,
  src: string,
  dest: string,
  limit = WAL_MAX_BYTES,
): Promise<void> {
  await pipeline(fs.createReadStream(src), unwrapStep(c), walCapped(limit), fs.createWriteStream(dest));
}

/** The largest WAL file there is: a segment of the largest size initdb allows (1 GiB). */
export const WAL_MAX_BYTES = 1024 * 1024 * 1024;

/** The WAL side's cap: more than any WAL file (see archive/wrapper.ts' capped). */
function walCapped(limit = WAL_MAX_BYTES) {
  return capped(limit, `it decompresses to more than ${limit} bytes, more than any WAL file`);
}

/** Decompress a small file's bytes (a history file) in memory. */
export async function decompressBytes(c: WalCompression, bytes: Buffer): Promise<Buffer> {
  if (c === 'none') return bytes;
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([bytes]),
    unwrapStep(c),
    walCapped(),
    async (decoded: AsyncIterable<Buffer>) => {
      for await (const b of decoded) out.push(b);
    },
  );
  return Buffer.concat(out);
}
