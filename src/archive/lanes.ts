import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { Decoded } from './blocks.js';
import type { LaneJob, LaneReply } from './lane-worker.js';
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
