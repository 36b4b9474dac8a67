import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { copyRows } from './blocks.js';

/** A file's bytes in 1 MiB chunks; with `start` and `end`, only those from `start` up to `end`. */
export function fileChunks(file: string, start?: number, end?: number): AsyncIterable<Buffer> {
  return fs.createReadStream(file, {
    highWaterMark: 1024 * 1024,
    ...(start !== undefined ? { start } : {}),
    ...(end !== undefined ? { end: end - 1 } : {}),
  });
}

/** One table's data for a worker: its length-prefixed chunks, from `start` to the zero length at `end`. */
export interface LaneJob {
  file: string;
  start: number;
  end: number;
  intSize: number;
  codec: 'gzip' | 'zstd';
  /** For gzip: the ISA-L addon to inflate with, instead of zlib. */
  isal?: string;
}

/**
 * The ISA-L inflate addon (native/, `npm run build:native`; needs libisal-dev): its path when it is
 * built and loads here, else why not. `RESTORABLE_ISAL` names it; else it is looked for two folders
 * up from this module, where the repository's root is both from src/archive/ and dist/<bundle>/.
 */
export function isalAddon(env: NodeJS.ProcessEnv = process.env): { path: string } | { unavailable: string } {
  const file = env.RESTORABLE_ISAL
    ? path.resolve(env.RESTORABLE_ISAL)
    : path.join(
        path.dirname(fileURLToPath(import.meta.url)),
        '..',
        '..',
        'native',
        'build',
        'Release',
        'isal_inflate.node',
      );
  let found = isalChecked.get(file);
  if (!found) {
    if (!fs.existsSync(file)) {
      found = { unavailable: `${file} is not built (npm run build:native; it needs libisal-dev)` };
    } else {
      try {
        createRequire(import.meta.url)(file);
        found = { path: file };
      } catch (e) {
        found = { unavailable: `${file} does not load: ${e instanceof Error ? e.message : String(e)}` };
      }
    }
    isalChecked.set(file, found);
  }
  return found;
}
const isalChecked = new Map<string, ReturnType<typeof isalAddon>>();

/** A decoded range: its bytes, its newlines and its last bytes (the rows are told from them). */
type LaneReply =
  | { bytes: number; lines: number; tail: number[] }
  | { error: string; code?: string; damaged: boolean };

/** The decoder said the stream is damaged (not a read error): the message and zlib's code. */
export class DamagedStream extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Worker threads that decode tables' data, one job each at a time. Inflating a table makes an
 * output buffer per MiB or less, gigabytes in all: in the main thread they keep starting full
 * garbage collections of the main heap, which the AWS SDK, pg and the rest make large (measured:
 * the same one pass took 45% longer once @aws-sdk/client-s3 was imported). A worker's heap holds
 * only its decoder, so its collections cost next to nothing.
 */
export class LaneWorkers {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();

  /** The range's bytes and rows (newlines) once decoded. */
  async decode(job: LaneJob): Promise<{ bytes: number; rows: number }> {
    const w = this.idle.pop() ?? this.start();
    const reply = await new Promise<LaneReply>((resolve, reject) => {
      const off = () => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      const onMessage = (m: LaneReply) => {
        off();
        resolve(m);
      };
      const onError = (e: Error) => {
        off();
        reject(e);
      };
      const onExit = (code: number) => {
        off();
        reject(new Error(`a decoding worker stopped (exit code ${code})`));
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.postMessage(job);
    }).catch((e: unknown) => {
      this.all.delete(w);
      void w.terminate();
      throw e;
    });
    this.idle.push(w);
    if ('bytes' in reply)
      return { bytes: reply.bytes, rows: copyRows(reply.lines, Uint8Array.from(reply.tail), reply.bytes) };
    if (reply.damaged) throw new DamagedStream(reply.error, reply.code);
    throw new Error(`reading ${job.file} from byte ${job.start} to ${job.end}: ${reply.error}`);
  }

  private start(): Worker {
    // A worker's heap holds a decoder and little else: a small young generation keeps it small.
    const w = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2 } });
    w.unref();
    this.all.add(w);
    return w;
  }

  async close(): Promise<void> {
    const all = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(all.map((w) => w.terminate()));
  }
}

/**
 * A worker's code. It runs from a string (`eval`), the same from the sources and from a bundle, so
 * it takes its modules as arguments and uses nothing from outside its body.
 */
function laneWorker(
  port: import('node:worker_threads').MessagePort,
  files: typeof import('node:fs'),
  zlib: typeof import('node:zlib'),
  load: (id: string) => unknown,
): void {
  const READ = 1024 * 1024;
  const BATCH = 1024 * 1024;
  const HIGH_WATER = 4 * BATCH;
  const OUT_CHUNK = 1024 * 1024;
  type Codec = (o: { chunkSize: number }) => import('node:stream').Transform;
  const zstd = (zlib as unknown as { createZstdDecompress?: Codec }).createZstdDecompress;

  interface Isal {
    create(): unknown;
    push(state: unknown, b: Buffer): number;
    finish(state: unknown): boolean;
    rows(state: unknown): number;
    tail(state: unknown): Buffer;
  }
  /** Where the stream's bytes go: counted, and the first damage kept. */
  interface Sink {
    write(b: Buffer): Promise<void> | undefined;
    /** Done with a buffer once `write` returns (so it can be filled again). */
    synchronous: boolean;
    end(): Promise<void>;
    out: number;
    /** Newline bytes out, and the last bytes out: the rows of COPY text are told from them. */
    lines: number;
    tail: number[];
    damage: Error | undefined;
  }

  const isalSink = (isal: Isal): Sink => {
    const state = isal.create();
    const sink: Sink = {
      out: 0,
      lines: 0,
      tail: [],
      damage: undefined,
      synchronous: true,
      write(b) {
        if (sink.damage) return undefined;
        try {
          sink.out += isal.push(state, b);
        } catch (e) {
          sink.damage = e as Error;
        }
        return undefined;
      },
      async end() {
        if (!sink.damage && !isal.finish(state)) {
          sink.damage = Object.assign(new Error('unexpected end of file'), { code: 'ISAL_END_INPUT' });
        }
        sink.lines = isal.rows(state);
        sink.tail = [...isal.tail(state)];
      },
    };
    return sink;
  };

  const zlibSink = (codec: LaneJob['codec']): Sink => {
    const z =
      codec === 'gzip'
        ? zlib.createInflate({ chunkSize: OUT_CHUNK })
        : (zstd as Codec)({ chunkSize: OUT_CHUNK });
    const ended = new Promise<void>((resolve) => {
      z.on('end', resolve);
      z.on('error', (e: Error) => {
        sink.damage ??= e;
        resolve();
      });
    });
    z.on('data', (b: Buffer) => {
      sink.out += b.length;
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) sink.lines++;
      sink.tail = [...sink.tail, ...b.subarray(Math.max(0, b.length - 8))].slice(-8);
    });
    const sink: Sink = {
      out: 0,
      lines: 0,
      tail: [],
      damage: undefined,
      synchronous: false,
      write(b) {
        if (sink.damage) return undefined;
        z.write(b);
        if (z.writableLength <= HIGH_WATER) return undefined;
        return new Promise<void>((resolve) => {
          const go = () => {
            z.off('drain', go);
            z.off('error', go);
            resolve();
          };
          z.on('drain', go);
          z.on('error', go);
        });
      },
      async end() {
        if (!sink.damage) z.end();
        await ended;
      },
    };
    return sink;
  };

  const decode = async (job: LaneJob): Promise<LaneReply> => {
    const sink = job.isal ? isalSink(load(job.isal) as Isal) : zlibSink(job.codec);
    const fd = files.openSync(job.file, 'r');
    try {
      const head = Buffer.alloc(job.intSize + 1);
      let headHave = 0;
      let payload = 0;
      let batch = Buffer.allocUnsafe(BATCH);
      let batchLen = 0;
      let pos = job.start;
      // What is read is copied into batches, so one read buffer serves throughout. zlib holds on
      // to a batch until it has inflated it; ISA-L is done on return, so its batch is reused too.
      const buf = Buffer.allocUnsafe(READ);
      while (pos < job.end && !sink.damage) {
        const n = files.readSync(fd, buf, 0, Math.min(READ, job.end - pos), pos);
        if (n === 0) throw new Error(`the file ends at byte ${pos}`);
        pos += n;
        let i = 0;
        while (i < n) {
          if (payload > 0) {
            const take = Math.min(payload, n - i, BATCH - batchLen);
            buf.copy(batch, batchLen, i, i + take);
            batchLen += take;
            i += take;
            payload -= take;
            if (batchLen === BATCH) {
              await sink.write(batch);
              if (!sink.synchronous) batch = Buffer.allocUnsafe(BATCH);
              batchLen = 0;
            }
          } else {
            head[headHave++] = buf[i++] as number;
            if (headHave === head.length) {
              // A sign byte, then the length, little-endian. The walk checks this framing; a range
              // it does not confirm (a guess from the TOC) has its outcome thrown away.
              for (let k = job.intSize; k >= 1; k--) payload = payload * 256 + (head[k] as number);
              headHave = 0;
            }
          }
        }
      }
      if (batchLen > 0) await sink.write(batch.subarray(0, batchLen));
      await sink.end();
    } finally {
      files.closeSync(fd);
    }
    const { damage } = sink;
    if (damage) {
      const code = (damage as NodeJS.ErrnoException).code;
      return { error: damage.message, ...(code ? { code } : {}), damaged: true };
    }
    return { bytes: sink.out, lines: sink.lines, tail: sink.tail };
  };

  port.on('message', (job: LaneJob) => {
    decode(job).then(
      (reply) => port.postMessage(reply),
      (e: unknown) => port.postMessage({ error: e instanceof Error ? e.message : String(e), damaged: false }),
    );
  });
}

/** esbuild (tsx, vitest) wraps named inner functions in `__name`: the worker's string defines it. */
const WORKER_SOURCE = `var __name = (f) => f;
(${laneWorker.toString()})(require('node:worker_threads').parentPort, require('node:fs'), require('node:zlib'), require);`;
