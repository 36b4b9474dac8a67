import fs from 'node:fs';
import { SharedFront } from '../archive/front.js';

/**
 * A file that a download is still writing: how many bytes from its start are complete, and a reader
 * that follows that mark. The download writes its parts where they belong, several at once; the
 * reader reads what is complete back from the page cache, so no part is held in memory to be handed
 * on in order (a backup's bytes pass through memory in small chunks, whatever its size).
 */
export class GrowingFile {
  private complete = 0;
  private finished = false;
  private failure: { error: unknown } | undefined;
  /** Readers waiting for more. */
  private waiting: (() => void)[] = [];

  /** The same mark, for worker threads that read the file too (the lanes that decode its tables). */
  readonly front: SharedFront;

  /** `size`: the file's size once whole, when the listing gives it. */
  constructor(
    readonly file: string,
    size?: number,
  ) {
    this.front = new SharedFront(size);
  }

  /** The first `bytes` bytes are written. The mark only moves forward. */
  advance(bytes: number): void {
    if (bytes <= this.complete) return;
    this.complete = bytes;
    this.front.advance(bytes);
    this.notify();
  }

  /** The download ended: every byte is written. */
  finish(): void {
    this.finished = true;
    this.front.finish();
    this.notify();
  }

  /** The download failed: the reader throws `error` once it has read what was complete. */
  fail(error: unknown): void {
    this.failure = { error };
    this.front.fail();
    this.notify();
  }

  private notify(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w();
  }

  /** The file's bytes in order, each chunk (up to `chunkSize`) read once it is complete. */
  async *chunks(chunkSize = 1024 * 1024): AsyncGenerator<Buffer, void, undefined> {
    let handle: fs.promises.FileHandle | undefined;
    try {
      let offset = 0;
      for (;;) {
        if (offset < this.complete) {
          // Opened once the download has written something: by then it has created the file.
          handle ??= await fs.promises.open(this.file, 'r');
          const want = Math.min(chunkSize, this.complete - offset);
          const buf = Buffer.allocUnsafe(want);
          const { bytesRead } = await handle.read(buf, 0, want, offset);
          if (bytesRead === 0)
            throw new Error(`${this.file} is shorter than the ${this.complete} bytes written`);
          offset += bytesRead;
          yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
          continue;
        }
        if (this.failure) throw this.failure.error;
        if (this.finished) return;
        await new Promise<void>((resolve) => this.waiting.push(resolve));
      }
    } finally {
      await handle?.close();
    }
  }
}
