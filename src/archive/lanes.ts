import fs from 'node:fs';
import { Worker } from 'node:worker_threads';

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
}

type LaneReply = { bytes: number } | { error: string; code?: string; damaged: boolean };

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

  async decode(job: LaneJob): Promise<number> {
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
    if ('bytes' in reply) return reply.bytes;
    if (reply.damaged) throw new DamagedStream(reply.error, reply.code);
    throw new Error(`reading ${job.file} from byte ${job.start} to ${job.end}: ${reply.error}`);
  }

  private start(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true });
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
): void {
  const READ = 1024 * 1024;
  const BATCH = 1024 * 1024;
  const HIGH_WATER = 4 * BATCH;
  const OUT_CHUNK = 1024 * 1024;
  type Codec = (o: { chunkSize: number }) => import('node:stream').Transform;
  const zstd = (zlib as unknown as { createZstdDecompress?: Codec }).createZstdDecompress;

  const decode = async (job: LaneJob): Promise<LaneReply> => {
    const z =
      job.codec === 'gzip'
        ? zlib.createInflate({ chunkSize: OUT_CHUNK })
        : (zstd as Codec)({ chunkSize: OUT_CHUNK });
    let out = 0;
    let damage: Error | undefined;
    z.on('data', (b: Buffer) => {
      out += b.length;
    });
    const ended = new Promise<void>((resolve) => {
      z.on('end', resolve);
      z.on('error', (e: Error) => {
        damage ??= e;
        resolve();
      });
    });
    const send = async (b: Buffer) => {
      if (damage) return;
      z.write(b);
      if (z.writableLength > HIGH_WATER) {
        await new Promise<void>((resolve) => {
          const go = () => {
            z.off('drain', go);
            z.off('error', go);
            resolve();
          };
          z.on('drain', go);
          z.on('error', go);
        });
      }
    };
    const fd = files.openSync(job.file, 'r');
    try {
      const head = Buffer.alloc(job.intSize + 1);
      let headHave = 0;
      let payload = 0;
      let batch = Buffer.allocUnsafe(BATCH);
      let batchLen = 0;
      let pos = job.start;
      while (pos < job.end && !damage) {
        const buf = Buffer.allocUnsafe(Math.min(READ, job.end - pos));
        const n = files.readSync(fd, buf, 0, buf.length, pos);
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
              await send(batch);
              batch = Buffer.allocUnsafe(BATCH);
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
      if (batchLen > 0) await send(batch.subarray(0, batchLen));
      if (!damage) z.end();
      await ended;
    } finally {
      files.closeSync(fd);
    }
    if (damage) {
      const code = (damage as NodeJS.ErrnoException).code;
      return { error: damage.message, ...(code ? { code } : {}), damaged: true };
    }
    return { bytes: out };
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
(${laneWorker.toString()})(require('node:worker_threads').parentPort, require('node:fs'), require('node:zlib'));`;
