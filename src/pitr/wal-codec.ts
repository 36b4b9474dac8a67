import fs from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Decompress as ZstdJs } from 'fzstd';
import { Lz4FrameDecoder } from '../archive/lz4.js';
import { run } from '../core/exec.js';

/**
 * How an archiver left a WAL file: as is, or compressed. `magic` is a file named like the bare WAL
 * file that may still be compressed (Barman compresses in place and keeps the name): its first bytes
 * tell.
 */
export type WalCompression = 'none' | 'gzip' | 'bzip2' | 'lz4' | 'zstd' | 'xz';

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
  const is = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (is(0x1f, 0x8b)) return 'gzip';
  if (is(0x42, 0x5a, 0x68)) return 'bzip2';
  if (is(0x04, 0x22, 0x4d, 0x18)) return 'lz4';
  if (is(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  if (is(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  return 'none';
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

/** A Transform around a push decoder (LZ4 frames, fzstd). */
function pushTransform(
  make: (emit: (b: Uint8Array) => void) => { push(b: Buffer): void; finish(): void },
): Transform {
  let decoder: { push(b: Buffer): void; finish(): void };
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        decoder.push(chunk);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    flush(done) {
      try {
        decoder.finish();
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });
  decoder = make((b) => t.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
  return t;
}

function decoderStream(c: 'gzip' | 'lz4' | 'zstd'): Transform {
  if (c === 'gzip') return zlib.createGunzip();
  if (c === 'lz4')
    return pushTransform((emit) => {
      const d = new Lz4FrameDecoder();
      d.onOutput = emit;
      return { push: (b) => d.push(b), finish: () => void d.finish() };
    });
  return pushTransform((emit) => {
    let ended = false;
    const d = new ZstdJs((chunk, final) => {
      emit(chunk);
      if (final) ended = true;
    });
    return {
      push: (b) => d.push(b),
      finish: () => {
        if (!ended) d.push(new Uint8Array(0), true);
        if (!ended) throw new Error('the zstd frame ends early');
      },
    };
  });
}

const TOOLS = { bzip2: ['bzip2', '.bz2'], xz: ['xz', '.xz'] } as const;

/**
 * Decompress the local file `src` (of compression `c`) into `dest`. bzip2 and xz run the system's
 * own tools (on a copy named as they expect, which they replace); the others decode in process.
 * Throws with the decoder's own words when the bytes do not decompress.
 */
export async function decompressFile(c: Exclude<WalCompression, 'none'>, src: string, dest: string) {
  if (c === 'bzip2' || c === 'xz') {
    const [tool, suffix] = TOOLS[c];
    const packed = `${dest}${suffix}`;
    await fs.promises.copyFile(src, packed);
    try {
      const r = await run(tool, ['-d', '-f', '-q', packed], { install: `apt-get install ${tool}` });
      if (r.code !== 0) throw new Error(`${tool} -d: ${r.stderr.trim() || `exit ${r.code}`}`);
    } finally {
      fs.rmSync(packed, { force: true });
    }
    return;
  }
  await pipeline(fs.createReadStream(src), decoderStream(c), fs.createWriteStream(dest));
}

/** Decompress a small file's bytes (a history file), through a scratch file for bzip2 and xz. */
export async function decompressSmall(c: WalCompression, bytes: Buffer, scratch: string): Promise<Buffer> {
  if (c === 'none') return bytes;
  const src = `${scratch}.in`;
  fs.writeFileSync(src, bytes);
  try {
    await decompressFile(c, src, scratch);
    return fs.readFileSync(scratch);
  } finally {
    fs.rmSync(src, { force: true });
    fs.rmSync(scratch, { force: true });
  }
}
