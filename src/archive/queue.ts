/**
 * A bounded hand-off between the loop that reads (and hashes) a backup and the parser that walks
 * it. When the parser stops early the queue drops what comes after, so reading and hashing still
 * finish: a truncated file is also checked against its checksum.
 */
export class ChunkQueue implements AsyncIterable<Buffer> {
  private items: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private abandoned = false;
  private wakeReader: (() => void) | undefined;
  private wakeWriter: (() => void) | undefined;

  constructor(private readonly limit = 4 * 1024 * 1024) {}

  async push(b: Buffer): Promise<void> {
    if (this.abandoned) return;
    this.items.push(b);
    this.bytes += b.length;
    this.wakeReader?.();
    if (this.bytes > this.limit) {
      await new Promise<void>((resolve) => {
        this.wakeWriter = resolve;
      });
    }
  }

  end(): void {
    this.ended = true;
    this.wakeReader?.();
  }

  /** The reader has stopped: drop everything, now and from now on. */
  abandon(): void {
    this.abandoned = true;
    this.items = [];
    this.bytes = 0;
    this.wakeWriter?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    try {
      for (;;) {
        const b = this.items.shift();
        if (b) {
          this.bytes -= b.length;
          if (this.bytes <= this.limit / 2 && this.wakeWriter) {
            const w = this.wakeWriter;
            this.wakeWriter = undefined;
            w();
          }
          yield b;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => {
          this.wakeReader = resolve;
        });
        this.wakeReader = undefined;
      }
    } finally {
      this.abandon();
    }
  }
}
