const EMPTY = Buffer.alloc(0);

/** Raised when the bytes end before the structure does. */
export class UnexpectedEOF extends Error {
  constructor(readonly offset: number) {
    super(`the data ends at byte ${offset}`);
  }
}

/**
 * Reads a byte stream in order with small fixed-size reads, without copying the stream. Callers
 * check `available()` first and only await `fill()` when it is short, so the common path is
 * synchronous even when millions of tiny blocks go by.
 */
export class ByteReader {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private consumedBefore = 0;
  private done = false;
  /** The unread rest of a chunk whose head was joined to a leftover. */
  private pushback: Buffer | undefined;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  static from(iterable: AsyncIterable<Buffer>): ByteReader {
    return new ByteReader(iterable[Symbol.asyncIterator]());
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.consumedBefore + this.pos;
  }

  available(): number {
    return this.buf.length - this.pos;
  }

  /** Make at least n bytes available; false when the stream ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.buf.length - this.pos < n) {
      let chunk: Buffer;
      if (this.pushback) {
        chunk = this.pushback;
        this.pushback = undefined;
      } else {
        if (this.done) return false;
        const next = await this.source.next();
        if (next.done) {
          this.done = true;
          return this.buf.length - this.pos >= n;
        }
        chunk = next.value;
      }
      if (chunk.length === 0) continue;
      const rest = this.buf.length - this.pos;
      this.consumedBefore += this.pos;
      if (rest === 0) this.buf = chunk;
      else {
        // Join the leftover to just enough of the next chunk: copying whole multi-MiB chunks at
        // every seam would double the bytes held and copied.
        const take = Math.min(chunk.length, Math.max(n - rest, 64 * 1024));
        this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk.subarray(0, take)]);
        if (take < chunk.length) this.pushback = chunk.subarray(take);
      }
      this.pos = 0;
    }
    return true;
  }

  /** Fill or throw UnexpectedEOF. */
  async need(n: number): Promise<void> {
    if (this.buf.length - this.pos < n && !(await this.fill(n)))
      throw new UnexpectedEOF(this.offset + this.available());
  }

  u8(): number {
    return this.buf[this.pos++] as number;
  }

  /** Little-endian unsigned integer of `size` bytes (up to 8; above 2^53 precision is lost). */
  uint(size: number): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < size; i++) {
      v += (this.buf[this.pos + i] as number) * mul;
      mul *= 256;
    }
    this.pos += size;
    return v;
  }

  /** A view of the next n bytes (valid until the reader moves on; copy it to keep it). */
  bytes(n: number): Buffer {
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  skip(n: number): void {
    this.pos += n;
  }

  /** Step over the next n bytes, however many chunks they span, without joining them; UnexpectedEOF if they run out. */
  async pass(n: number): Promise<void> {
    let left = n;
    for (;;) {
      const here = Math.min(left, this.buf.length - this.pos);
      this.pos += here;
      left -= here;
      if (left === 0) return;
      if (!(await this.fill(1))) throw new UnexpectedEOF(this.offset);
    }
  }

  /** Whether the stream has ended with nothing left unread. */
  async atEnd(): Promise<boolean> {
    return this.available() === 0 && !(await this.fill(1));
  }

  /** Read and drop the rest of the stream; returns how many bytes that was. */
  async drain(): Promise<number> {
    let n = this.available() + (this.pushback?.length ?? 0);
    this.pos = this.buf.length;
    this.pushback = undefined;
    for (let next = await this.source.next(); !next.done; next = await this.source.next())
      n += next.value.length;
    this.done = true;
    return n;
  }
}
