import { pipeline, Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress as ZstdJs } from 'fzstd';
import { ToolMissingError } from '../core/errors.js';
import { FilterError, filterProcess, onPath } from '../core/exec.js';
import { Lz4FrameDecoder } from './lz4.js';
import { ArchiveProblem } from './problem.js';

/**
 * Whole-file compression around a dump (`pg_dump -Fp | zstd > x.sql.zst`), known by its magic
 * bytes, whatever the file is called.
 */
export type Wrapper = 'gzip' | 'zstd' | 'lz4' | 'xz' | 'bzip2';

/** Bytes enough to tell every wrapper by its magic. */
export const WRAPPER_MAGIC_BYTES = 6;

const MAGIC: [Wrapper, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['lz4', [0x04, 0x22, 0x4d, 0x18]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  // "BZh" and the block size, 1 to 9.
  ['bzip2', [0x42, 0x5a, 0x68]],
];

export function wrapperOf(head: Buffer): Wrapper | null {
  for (const [w, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) {
      if (w === 'bzip2' && !((head[3] ?? 0) >= 0x31 && (head[3] ?? 0) <= 0x39)) continue;
      return w;
    }
  }
  return null;
}

/** Why a wrapper's stream stopped: cut short, or damaged. */
export class WrapperError extends Error {
  constructor(
    readonly wrapper: Wrapper,
    readonly cut: boolean,
    message: string,
  ) {
    super(message);
  }
}

type ZstdFactory = (o: { chunkSize: number }) => Transform;
const zlibZstd = (zlib as unknown as { createZstdDecompress?: ZstdFactory }).createZstdDecompress;

/**
 * zstd frames: node:zlib's decoder (Node.js 22.15+), else the zstd program, both of which check
 * the frames' content checksums; else fzstd in JavaScript, which does not (a flipped byte is then
 * caught only where it breaks the frames' structure, or by a checksum sidecar).
 */
function zstdStep(): Transform | NodeJS.ReadWriteStream {
  if (zlibZstd) return zlibZstd({ chunkSize: 1024 * 1024 });
  if (onPath('zstd')) return filterProcess('zstd', ['-dcq'], 'apt-get install zstd');
  return fzstdStep();
}

/** The zstd frames in JavaScript (fzstd). */
function fzstdStep(): Transform {
  let ended = false;
  const dec = new ZstdJs((chunk, final) => {
    if (chunk.length) step.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    if (final) ended = true;
  });
  const fail = (e: unknown) => {
    const m = e instanceof Error ? e.message : String(e);
    return new WrapperError('zstd', /unexpected EOF/i.test(m), `zstd: ${m}`);
  };
  const step = new Transform({
    transform(b: Buffer, _enc, cb) {
      try {
        dec.push(b);
        cb();
      } catch (e) {
        cb(fail(e));
      }
    },
    flush(cb) {
      try {
        dec.push(new Uint8Array(0), true);
        cb(ended ? null : new WrapperError('zstd', true, 'the zstd stream ends early'));
      } catch (e) {
        cb(fail(e));
      }
    },
  });
  return step;
}

/** The LZ4 frame format (`lz4` on the command line), in TypeScript. */
function lz4Step(): Transform {
  const dec = new Lz4FrameDecoder();
  const step = new Transform({
    transform(b: Buffer, _enc, cb) {
      try {
        dec.push(b);
        cb();
      } catch (e) {
        cb(new WrapperError('lz4', false, `lz4: ${(e as Error).message}`));
      }
    },
    flush(cb) {
      try {
        dec.finish();
        cb();
      } catch (e) {
        const m = (e as Error).message;
        cb(new WrapperError('lz4', /ends early/.test(m), `lz4: ${m}`));
      }
    },
  });
  dec.onOutput = (b) => step.push(b);
  return step;
}

/** xz and bzip2 have no kept JavaScript decoder here: their own programs decode them. */
const PROGRAMS = {
  xz: { cmd: 'xz', install: 'apt-get install xz-utils (or brew install xz)' },
  bzip2: { cmd: 'bzip2', install: 'apt-get install bzip2 (or brew install bzip2)' },
} as const;

/** A stream that undoes `w`: bytes of the compressed file in, the dump out. */
export function unwrapStep(w: Wrapper): Transform | NodeJS.ReadWriteStream {
  switch (w) {
    case 'gzip':
      return zlib.createGunzip({ chunkSize: 1024 * 1024 });
    case 'zstd':
      return zstdStep();
    case 'lz4':
      return lz4Step();
    case 'xz':
    case 'bzip2':
      return filterProcess(PROGRAMS[w].cmd, ['-dc'], PROGRAMS[w].install);
  }
}

/** A decompressed stream that came out larger than its cap allows. */
export class CapExceeded extends Error {
  constructor(
    readonly limit: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Fail (CapExceeded, with `message`) once more than `limit` bytes came out: a crafted file (a few
 * bytes of zstd that expand without end) must not fill the disk beside production. One counter
 * per chunk, nothing more.
 */
export function capped(limit: number, message: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) done(new CapExceeded(limit, message));
      else done(null, chunk);
    },
  });
}

export interface Unwrapped {
  /** The dump's bytes, decompressed as they stream. */
  bytes: AsyncIterable<Buffer>;
  /**
   * Read what the parser left and say how the wrapper ended: its error, if it had one. A
   * decoder that checks a block's CRC after passing its bytes on (xz, bzip2) has already given
   * the parser damaged bytes: the wrapper's error is then the cause, the parser's only its echo.
   */
  rest(): Promise<Error | undefined>;
}

/** The dump inside `src`, decompressed as it streams. */
export function unwrap(w: Wrapper, src: AsyncIterable<Buffer>): Unwrapped {
  const step = unwrapStep(w);
  pipeline(Readable.from(src, { objectMode: false }), step, () => {});
  const it = (step as unknown as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  return {
    bytes: {
      [Symbol.asyncIterator]: () => ({ next: () => it.next() }),
    },
    async rest() {
      try {
        while (!(await it.next()).done);
        return undefined;
      } catch (e) {
        return e as Error;
      }
    },
  };
}

const CUT_BY_PROGRAM = /unexpected end of input|ends unexpectedly|premature end|file ends/i;

/**
 * What an error of a wrapper's stream means for the dump: cut short (ARCHIVE_TRUNCATED), damaged
 * (COMPRESSION_CORRUPT), or a decoder this machine lacks (FORMAT_UNSUPPORTED). Undefined when the
 * error is none of the wrapper's.
 */
export function wrapperProblem(w: Wrapper, e: unknown): ArchiveProblem | undefined {
  const around = `the ${w} stream around the dump`;
  if (e instanceof ToolMissingError) {
    return new ArchiveProblem('FORMAT_UNSUPPORTED', `a ${w}-compressed file, and ${e.message}`, {
      wrapper: w,
    });
  }
  let cut: boolean;
  let message: string;
  if (e instanceof WrapperError) [cut, message] = [e.cut, e.message];
  else if (e instanceof FilterError) [cut, message] = [CUT_BY_PROGRAM.test(e.message), e.message];
  else if (e instanceof Error && (e as NodeJS.ErrnoException).code?.startsWith('Z_')) {
    cut = (e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR';
    message = e.message;
  } else return undefined;
  return cut
    ? new ArchiveProblem('ARCHIVE_TRUNCATED', `${around} ends early (${message})`, { wrapper: w })
    : new ArchiveProblem('COMPRESSION_CORRUPT', `${around} is damaged (${message})`, {
        wrapper: w,
        ...(w === 'gzip' ? { zlib: (e as NodeJS.ErrnoException).code ?? '' } : {}),
      });
}
