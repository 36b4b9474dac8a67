import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import zlib from 'node:zlib';
import type { Decoded } from './blocks.js';
import type { Isal, LaneJob, LaneReply } from './lane-worker.js';
import { ArchiveProblem } from './problem.js';

export type { LaneJob } from './lane-worker.js';

/** A file's bytes in 1 MiB chunks; with `start` and `end`, only those from `start` up to `end`. */
export function fileChunks(file: string, start?: number, end?: number): AsyncIterable<Buffer> {
  return fs.createReadStream(file, {
    highWaterMark: 1024 * 1024,
    ...(start !== undefined ? { start } : {}),
    ...(end !== undefined ? { end: end - 1 } : {}),
  });
}

/** The prebuilt addon's name for this machine: dist/<bundle>/ holds it beside the bundle (linux-x64). */
export const PREBUILT_ISAL = `isal_inflate-${process.platform}-${process.arch}.node`;

/**
 * The ISA-L inflate addon: its path when it loads here and passes its self-test, else why not (the
 * lanes then inflate with zlib). `RESTORABLE_ISAL` names it; else, first found: beside this module
 * (dist/<bundle>/, where the build copies the prebuilt addon), the prebuilt one in the repository
 * (native/prebuilt/, scripts/build-native.sh), a development build (`npm run build:native`). The
 * repository's root is two folders up both from src/archive/ and dist/<bundle>/.
 */
export function isalAddon(env: NodeJS.ProcessEnv = process.env): { path: string } | { unavailable: string } {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.join(here, '..', '..');
  const candidates = env.RESTORABLE_ISAL
    ? [path.resolve(env.RESTORABLE_ISAL)]
    : [
        path.join(here, PREBUILT_ISAL),
        path.join(root, 'native', 'prebuilt', `${process.platform}-${process.arch}`, 'isal_inflate.node'),
        path.join(root, 'native', 'build', 'Release', 'isal_inflate.node'),
      ];
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) {
    return {
      unavailable: env.RESTORABLE_ISAL
        ? `${candidates[0]} does not exist`
        : `no ISA-L addon for ${process.platform}-${process.arch} (npm run build:native builds one; it needs libisal-dev)`,
    };
  }
  let found = isalChecked.get(file);
  if (!found) {
    try {
      const failed = selfTest(createRequire(import.meta.url)(file) as Isal);
      found = failed ? { unavailable: `${file} failed its self-test: ${failed}` } : { path: file };
    } catch (e) {
      found = { unavailable: `${file} does not load: ${e instanceof Error ? e.message : String(e)}` };
    }
    isalChecked.set(file, found);
  }
  return found;
}
const isalChecked = new Map<string, ReturnType<typeof isalAddon>>();

/**
 * Before an addon inflates a byte of a backup: a known stream (COPY-like lines, deflated by zlib)
 * inflated in two pieces must give back its length, its lines and its last bytes, and the same
 * stream with its Adler-32 damaged must be refused. What went wrong, or undefined.
 */
function selfTest(isal: Isal): string | undefined {
  const lines = Array.from(
    { length: 5000 },
    (_, i) => `${i}\t${(i * 2654435761) % 1000003}\trow ${i % 97}\n`,
  );
  const text = Buffer.from(lines.join(''));
  const z = zlib.deflateSync(text);
  const s = isal.create();
  const half = Math.floor(z.length / 2);
  const out = isal.push(s, z.subarray(0, half)) + isal.push(s, z.subarray(half));
  if (out !== text.length || !isal.finish(s)) return `a ${text.length}-byte stream inflated to ${out} bytes`;
  if (isal.rows(s) !== lines.length) return `${isal.rows(s)} lines counted in ${lines.length}`;
  if (!isal.tail(s).equals(text.subarray(-8))) return "the stream's last bytes differ";
  const bad = Buffer.from(z);
  bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0xff;
  try {
    isal.push(isal.create(), bad);
  } catch {
    return undefined;
  }
  return 'a stream with a wrong Adler-32 was accepted';
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
  async decode(job: LaneJob): Promise<Decoded> {
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
    if ('bytes' in reply) return reply;
    if ('problem' in reply)
      throw new ArchiveProblem(reply.problem.rule, reply.problem.message, reply.problem.evidence);
    throw new Error(`reading ${job.file} from byte ${job.start} to ${job.end}: ${reply.error}`);
  }

  private start(): Worker {
    // A worker's heap holds a decoder and little else: a small young generation keeps it small.
    const w = laneWorker({ resourceLimits: { maxYoungGenerationSizeMb: 2 } });
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
 * A decoding worker. From dist/<bundle>/ its module is lane-worker.js beside the bundle (the build
 * puts it there). From the sources (tsx, vitest) it is lane-worker.ts beside this file, which the
 * worker loads through tsx's loader: a worker does not inherit the loaders of the thread that starts it.
 */
function laneWorker(options: WorkerOptions): Worker {
  const here = fileURLToPath(import.meta.url);
  const file = path.join(path.dirname(here), `lane-worker${path.extname(here)}`);
  if (path.extname(here) !== '.ts') return new Worker(file, options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const load = `import(${tsx}).then((t) => { t.register(); return import(${JSON.stringify(pathToFileURL(file).href)}); });`;
  return new Worker(load, { ...options, eval: true });
}
