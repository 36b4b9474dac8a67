/**
 * How far a file that a download is still writing is complete, in memory shared with the decoding
 * workers (lane-worker.ts): the download moves the mark, a worker that would read past it waits.
 * Cells: the bytes complete from the start; the state (growing, finished, failed); the file's size
 * when known; a counter bumped on every change, which waiting workers sleep on.
 */
export class SharedFront {
  readonly buffer = new SharedArrayBuffer(4 * 8);
  private readonly cells = new BigInt64Array(this.buffer);

  constructor(size?: number) {
    if (size !== undefined) this.cells[SIZE] = BigInt(size);
  }

  /** The file's size, as the listing gave it (the download's end), if known. */
  get size(): number | undefined {
    const size = Number(Atomics.load(this.cells, SIZE));
    return size > 0 ? size : undefined;
  }

  advance(bytes: number): void {
    if (BigInt(bytes) <= Atomics.load(this.cells, COMPLETE)) return;
    Atomics.store(this.cells, COMPLETE, BigInt(bytes));
    this.bump();
  }

  finish(): void {
    Atomics.store(this.cells, STATE, FINISHED);
    this.bump();
  }

  fail(): void {
    Atomics.store(this.cells, STATE, FAILED);
    this.bump();
  }

  private bump(): void {
    Atomics.add(this.cells, CHANGES, 1n);
    Atomics.notify(this.cells, CHANGES);
  }
}

const COMPLETE = 0;
const STATE = 1;
const SIZE = 2;
const CHANGES = 3;
const FINISHED = 1n;
const FAILED = 2n;

/**
 * In a worker: block until the first `upTo` bytes are complete, or the download finished (a read
 * then sees the file as it is). Throws when the download failed short of them. A worker sleeps at
 * most a second at a time, so one that is terminated meanwhile stops.
 */
export function waitForFront(buffer: SharedArrayBuffer, upTo: number): void {
  const cells = new BigInt64Array(buffer);
  for (;;) {
    const changes = Atomics.load(cells, CHANGES);
    if (Atomics.load(cells, COMPLETE) >= BigInt(upTo)) return;
    const state = Atomics.load(cells, STATE);
    if (state === FINISHED) return;
    if (state === FAILED) throw new Error(`the download stopped before byte ${upTo}`);
    Atomics.wait(cells, CHANGES, changes, 1000);
  }
}
