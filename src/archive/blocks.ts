import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress as ZstdJs } from 'fzstd';
import { Lz4FrameDecoder } from './lz4.js';
import { ArchiveProblem } from './problem.js';

export type Compression = 'none' | 'gzip' | 'lz4' | 'zstd';

/**
 * What one stream decoded to: its bytes, and for a table's data its rows. A table's data is COPY
 * text, one line per row (a newline inside a value is written `\n`), ended by pg_dump's `\.` line
 * and blank lines: its rows are its lines but those.
 */
export interface Decoded {
  bytes: number;
  rows: number;
}

/** The newline bytes in `b`. */
export function newlines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}

/** The last bytes of a stream kept: enough for pg_dump's end of COPY data (`\n\\.\n\n\n`). */
export const TAIL = 8;

/**
 * The rows of COPY data of `bytes` bytes with `lines` newlines and these last bytes: a final `\.`
 * line and the blank lines after it are pg_dump's end-of-data marker, not rows.
 */
export function copyRows(lines: number, tail: Uint8Array, bytes: number): number {
  let end = tail.length;
  let blank = 0;
  while (end >= 2 && tail[end - 1] === 10 && tail[end - 2] === 10) {
    blank++;
    end--;
  }
  const marker = end >= 3 && tail[end - 1] === 10 && tail[end - 2] === 0x2e && tail[end - 3] === 0x5c;
  // The `\.` starts a line: the data begins with it, or a newline comes before it.
  const atLineStart = marker && (bytes - (tail.length - end) === 3 || (end >= 4 && tail[end - 4] === 10));
  return atLineStart ? lines - blank - 1 : lines;
}

/** Counts a stream's newlines and keeps its last TAIL bytes, as output goes by. */
export class RowCounter {
  lines = 0;
  private tail = Buffer.alloc(0);
  add(b: Buffer): void {
    this.lines += newlines(b);
    this.tail =
      b.length >= TAIL
        ? Buffer.from(b.subarray(b.length - TAIL))
        : Buffer.concat([this.tail, b]).subarray(-TAIL);
  }
  rows(bytes: number): number {
    return copyRows(this.lines, this.tail, bytes);
  }
}

/** Decompresses one compressed stream (one table's data, one large object), counting what comes out. */
export interface BlockDecoder {
  push(b: Buffer): Promise<void> | undefined;
  /** Resolves when the stream ended cleanly; rejects with COMPRESSION_CORRUPT otherwise. */
  finish(): Promise<Decoded>;
}

const BATCH = 1024 * 1024;
const OUT_CHUNK = 256 * 1024;
const HIGH_WATER = 4 * BATCH;

/**
 * Uncompressed data. With `copyText` (a table's rows in a custom archive) it must end as COPY text
 * does, with a newline: a header that says "no compression" over compressed blocks does not.
 */
class PassThroughDecoder implements BlockDecoder {
  private bytes = 0;
  private readonly rows = new RowCounter();
  private last = -1;
  private first = -1;
  constructor(
    private readonly what: string,
    private readonly copyText: boolean,
  ) {}
  push(b: Buffer): undefined {
    if (b.length === 0) return undefined;
    if (this.first < 0) this.first = (b[0] as number) * 256 + (b[1] ?? 0);
    this.bytes += b.length;
    this.rows.add(b);
    this.last = b[b.length - 1] as number;
    return undefined;
  }
  finish(): Promise<Decoded> {
    if (this.copyText && this.bytes > 0 && this.last !== 10) {
      // zlib's header: deflate (8) in the low nibble, the two bytes a multiple of 31.
      const zlibHeader = (this.first >> 8) % 16 === 8 && this.first % 31 === 0;
      return Promise.reject(
        new ArchiveProblem(
          'ARCHIVE_CORRUPT',
          `the header says the data is not compressed, but the data of ${this.what} is not COPY text (it does not end with a row's newline${zlibHeader ? '; it starts like a zlib stream' : ''}): pg_restore would fail on it`,
          { entry: this.what, headerCompression: 'none', startsLikeZlib: zlibHeader },
        ),
      );
    }
    return Promise.resolve({ bytes: this.bytes, rows: this.rows.rows(this.bytes) });
  }
}

/**
 * Feeds a zlib (or zstd) stream in 1 MiB batches so the work runs on libuv's thread pool, beside
 * the hashing on the main thread, instead of one pool job per 4 KiB block.
 */
class StreamDecoder implements BlockDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private out = 0;
  private readonly rows = new RowCounter();
  private failed: Error | undefined;
  private readonly ended: Promise<void>;

  constructor(
    private readonly z: Transform,
    private readonly what: string,
  ) {
    z.on('data', (b: Buffer) => {
      this.out += b.length;
      this.rows.add(b);
    });
    this.ended = new Promise((resolve, reject) => {
      z.on('end', resolve);
      z.on('error', (e: Error) => {
        this.failed = e;
        reject(e);
      });
    });
    this.ended.catch(() => {});
  }

  push(b: Buffer): Promise<void> | undefined {
    this.pending.push(b);
    this.pendingBytes += b.length;
    return this.pendingBytes >= BATCH ? this.flush() : undefined;
  }

  private async flush(): Promise<void> {
    if (this.failed) throw this.corrupt(this.failed);
    if (this.pendingBytes === 0) return;
    const batch = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    const stream = this.z;
    stream.write(batch);
    if (stream.writableLength > HIGH_WATER) {
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('error', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('error', done);
      });
      if (this.failed) throw this.corrupt(this.failed);
    }
  }

  async finish(): Promise<Decoded> {
    await this.flush();
    this.z.end();
    try {
      await this.ended;
    } catch (e) {
      throw this.corrupt(e as Error);
    }
    return { bytes: this.out, rows: this.rows.rows(this.out) };
  }

  private corrupt(e: Error): ArchiveProblem {
    return damagedStream(this.what, e.message, (e as NodeJS.ErrnoException).code);
  }
}

/** What a zlib (or zstd) decoder's error makes of one stream, in the walk or in a worker. */
export function damagedStream(what: string, message: string, code: string | undefined): ArchiveProblem {
  return new ArchiveProblem('COMPRESSION_CORRUPT', `${what}: ${message}`, { zlib: code ?? message });
}

/** A decoder that runs on the main thread (LZ4 in TypeScript, zstd in JavaScript), fed in batches. */
class SyncDecoder implements BlockDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly feed: (b: Buffer) => void,
    private readonly end: () => Decoded,
    private readonly what: string,
  ) {}

  push(b: Buffer): undefined {
    this.pending.push(b);
    this.pendingBytes += b.length;
    if (this.pendingBytes >= BATCH) this.flush();
    return undefined;
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const batch = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    try {
      this.feed(batch);
    } catch (e) {
      throw this.corrupt(e);
    }
  }

  finish(): Promise<Decoded> {
    try {
      this.flush();
      return Promise.resolve(this.end());
    } catch (e) {
      return Promise.reject(e instanceof ArchiveProblem ? e : this.corrupt(e));
    }
  }

  private corrupt(e: unknown): ArchiveProblem {
    return new ArchiveProblem(
      'COMPRESSION_CORRUPT',
      `${this.what}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

function lz4Decoder(what: string): BlockDecoder {
  const dec = new Lz4FrameDecoder();
  const rows = new RowCounter();
  dec.onOutput = (b) => rows.add(b);
  return new SyncDecoder(
    (b) => dec.push(b),
    () => {
      const bytes = dec.finish();
      return { bytes, rows: rows.rows(bytes) };
    },
    what,
  );
}

/** zstd in JavaScript, for a Node.js without zlib's zstd (before 22.15). */
function zstdJsDecoder(what: string): BlockDecoder {
  let out = 0;
  const rows = new RowCounter();
  let ended = false;
  const dec = new ZstdJs((chunk, final) => {
    out += chunk.length;
    rows.add(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    if (final) ended = true;
  });
  return new SyncDecoder(
    (b) => dec.push(b),
    () => {
      dec.push(new Uint8Array(0), true);
      if (!ended) throw new Error('the zstd stream ends early');
      return { bytes: out, rows: rows.rows(out) };
    },
    what,
  );
}

type ZstdFactory = (o: { chunkSize: number }) => Transform;
const zstd = (zlib as unknown as { createZstdDecompress?: ZstdFactory }).createZstdDecompress;

/** A worker's output buffers: larger, so fewer, in a heap that holds little else. */
const LANE_OUT_CHUNK = 1024 * 1024;

/** The decoder a worker thread runs for one table's stream: node:zlib's inflate or zstd. */
export function laneDecoder(codec: 'gzip' | 'zstd', what: string): BlockDecoder {
  if (codec === 'gzip') return new StreamDecoder(zlib.createInflate({ chunkSize: LANE_OUT_CHUNK }), what);
  if (!zstd) throw new Error('this Node.js has no zstd in node:zlib (it came in 22.15)');
  return new StreamDecoder(zstd({ chunkSize: LANE_OUT_CHUNK }), what);
}

/** The codec a worker thread decodes a stream with (node:zlib's), if there is one for `c`. */
export function workerCodec(c: Compression): 'gzip' | 'zstd' | undefined {
  if (c === 'gzip') return 'gzip';
  return c === 'zstd' && zstd ? 'zstd' : undefined;
}

/**
 * A decoder for one stream. `gzip` in a custom archive's blocks means zlib framing (deflate with a
 * zlib header); `gzipFile` is a .gz file as a directory dump writes them.
 */
export function decoderFor(c: Compression | 'gzipFile', what: string, copyText = false): BlockDecoder {
  switch (c) {
    case 'none':
      return new PassThroughDecoder(what, copyText);
    case 'gzip':
      return new StreamDecoder(zlib.createInflate({ chunkSize: OUT_CHUNK }), what);
    case 'gzipFile':
      return new StreamDecoder(zlib.createGunzip({ chunkSize: OUT_CHUNK }), what);
    case 'zstd':
      return zstd ? new StreamDecoder(zstd({ chunkSize: OUT_CHUNK }), what) : zstdJsDecoder(what);
    case 'lz4':
      return lz4Decoder(what);
  }
}
