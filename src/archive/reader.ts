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
      if (this.done) return false;
      const next = await this.source.next();
      if (next.done) {
        this.done = true;
        return this.buf.length - this.pos >= n;
      }
      const chunk = next.value;
      if (chunk.length === 0) continue;
      const rest = this.buf.length - this.pos;
      this.consumedBefore += this.pos;
      this.buf = rest === 0 ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
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

  /** Whether the stream has ended with nothing left unread. */
  async atEnd(): Promise<boolean> {
    return this.available() === 0 && !(await this.fill(1));
  }

  /** Read and drop the rest of the stream; returns how many bytes that was. */
  async drain(): Promise<number> {
    let n = this.available();
    this.pos = this.buf.length;
    for (let next = await this.source.next(); !next.done; next = await this.source.next())
      n += next.value.length;
    this.done = true;
    return n;
  }
}
