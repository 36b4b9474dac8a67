/**
 * A decoding worker thread (see LaneWorkers in lanes.ts): it decodes one table's data range at a
 * time with the decoders of blocks.ts and answers with its bytes and rows. The build bundles it as
 * its own file, lane-worker.js, next to each bundle that starts workers.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { type BlockDecoder, copyRows, damagedStream, laneDecoder } from './blocks.js';
import { waitForFront } from './front.js';
import { ArchiveProblem } from './problem.js';

/** One table's data for a worker: its length-prefixed chunks, from `start` to the zero length at `end`. */
export interface LaneJob {
  file: string;
  start: number;
  end: number;
  intSize: number;
  codec: 'gzip' | 'zstd';
  /** What the data is (`TABLE DATA public.t`), for the messages. */
  what: string;
  /** For gzip: the ISA-L addon to inflate with, instead of zlib. */
  isal?: string;
  /** `file` is a download still being written: how far it is complete (front.ts); reads wait for it. */
  front?: SharedArrayBuffer;
}

/** A decoded range's bytes and rows; the decoder's finding on damaged data; or why it could not be read. */
export type LaneReply =
  | { bytes: number; rows: number }
  | { problem: { rule: ArchiveProblem['rule']; message: string; evidence: ArchiveProblem['evidence'] } }
  | { error: string };

const READ = 1024 * 1024;
const BATCH = 1024 * 1024;

/** native/isal_inflate.c: one inflate state, fed synchronously, counting newlines as it goes. */
export interface Isal {
  create(): unknown;
  push(state: unknown, b: Buffer): number;
  finish(state: unknown): boolean;
  rows(state: unknown): number;
  tail(state: unknown): Buffer;
}

/** ISA-L's inflate as a BlockDecoder: done with each buffer when `push` returns. */
function isalDecoder(isal: Isal, what: string): BlockDecoder {
  const state = isal.create();
  let out = 0;
  return {
    push(b) {
      try {
        out += isal.push(state, b);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw damagedStream(what, err.message, err.code);
      }
      return undefined;
    },
    finish() {
      if (!isal.finish(state))
        return Promise.reject(damagedStream(what, 'unexpected end of file', 'ISAL_END_INPUT'));
      return Promise.resolve({ bytes: out, rows: copyRows(isal.rows(state), isal.tail(state), out) });
    },
  };
}

/**
 * Payload bytes gathered into 1 MiB batches for the decoder. zlib holds on to a batch until it has
 * inflated it, so each batch is new; ISA-L is done on return, so `reuse` fills the same one again.
 */
class Batches {
  private batch = Buffer.allocUnsafe(BATCH);
  private length = 0;
  constructor(
    private readonly dec: BlockDecoder,
    private readonly reuse: boolean,
  ) {}
  get room(): number {
    return BATCH - this.length;
  }
  async add(from: Buffer, start: number, end: number): Promise<void> {
    from.copy(this.batch, this.length, start, end);
    this.length += end - start;
    if (this.length === BATCH) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.length === 0) return;
    await this.dec.push(this.length === BATCH ? this.batch : this.batch.subarray(0, this.length));
    if (!this.reuse) this.batch = Buffer.allocUnsafe(BATCH);
    this.length = 0;
  }
}

/**
 * Read the range and feed the chunks' payloads to the decoder. Each chunk is a sign byte, then its
 * length in `intSize` bytes, little-endian; the walk checks this framing, and a range it does not
 * confirm (a guess from the TOC) has its outcome thrown away. One read buffer serves throughout.
 */
async function feedRange(job: LaneJob, batches: Batches): Promise<void> {
  const head = Buffer.alloc(job.intSize + 1);
  let headHave = 0;
  let payload = 0;
  const buf = Buffer.allocUnsafe(READ);
  const fd = fs.openSync(job.file, 'r');
  try {
    for (let pos = job.start; pos < job.end; ) {
      const want = Math.min(READ, job.end - pos);
      if (job.front) waitForFront(job.front, pos + want);
      const n = fs.readSync(fd, buf, 0, want, pos);
      if (n === 0) throw new Error(`the file ends at byte ${pos}`);
      pos += n;
      for (let i = 0; i < n; ) {
        if (payload > 0) {
          const take = Math.min(payload, n - i, batches.room);
          await batches.add(buf, i, i + take);
          i += take;
          payload -= take;
        } else {
          head[headHave++] = buf[i++] as number;
          if (headHave < head.length) continue;
          for (let k = job.intSize; k >= 1; k--) payload = payload * 256 + (head[k] as number);
          headHave = 0;
        }
      }
    }
    await batches.flush();
  } finally {
    fs.closeSync(fd);
  }
}

const load = createRequire(import.meta.url);

export async function decodeLane(job: LaneJob): Promise<LaneReply> {
  try {
    const dec = job.isal ? isalDecoder(load(job.isal) as Isal, job.what) : laneDecoder(job.codec, job.what);
    await feedRange(job, new Batches(dec, job.isal !== undefined));
    return await dec.finish();
  } catch (e) {
    if (e instanceof ArchiveProblem)
      return { problem: { rule: e.rule, message: e.message, evidence: e.evidence } };
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

const port = parentPort;
port?.on('message', (job: LaneJob) => {
  void decodeLane(job).then((reply) => port.postMessage(reply));
});
