/**
 * A streaming decoder for the LZ4 frame format, as pg_dump (PostgreSQL 16+, `-Z lz4`) writes its data
 * blocks: one frame per table's data. It checks the header, block and content checksums (xxHash32)
 * when the frame carries them, so a flipped byte is found, not just a short one.
 */

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;
const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;

/** xxHash32, streaming, seed 0. */
export class XXH32 {
  private v = [0, 0, 0, 0];
  private buf = Buffer.alloc(16);
  private bufLen = 0;
  private total = 0;

  constructor(private readonly seed = 0) {
    this.v = [(seed + P1 + P2) >>> 0, (seed + P2) >>> 0, seed >>> 0, (seed - P1) >>> 0];
  }

  private round(i: number, lane: number): void {
    const v = this.v;
    v[i] = Math.imul(rotl(((v[i] as number) + Math.imul(lane, P2)) >>> 0, 13), P1) >>> 0;
  }

  update(data: Uint8Array): void {
    this.total += data.length;
    let p = 0;
    if (this.bufLen > 0) {
      const take = Math.min(16 - this.bufLen, data.length);
      this.buf.set(data.subarray(0, take), this.bufLen);
      this.bufLen += take;
      p = take;
      if (this.bufLen < 16) return;
      for (let i = 0; i < 4; i++) this.round(i, this.buf.readUInt32LE(i * 4));
      this.bufLen = 0;
    }
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (; p + 16 <= data.length; p += 16) {
      this.round(0, dv.getUint32(p, true));
      this.round(1, dv.getUint32(p + 4, true));
      this.round(2, dv.getUint32(p + 8, true));
      this.round(3, dv.getUint32(p + 12, true));
    }
    if (p < data.length) {
      this.buf.set(data.subarray(p), 0);
      this.bufLen = data.length - p;
    }
  }

  digest(): number {
    const [v1, v2, v3, v4] = this.v as [number, number, number, number];
    let h =
      this.total >= 16
        ? (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0
        : (this.seed + P5) >>> 0;
    h = (h + this.total) >>> 0;
    let p = 0;
    for (; p + 4 <= this.bufLen; p += 4) {
      h = Math.imul(rotl((h + Math.imul(this.buf.readUInt32LE(p), P3)) >>> 0, 17), P4) >>> 0;
    }
    for (; p < this.bufLen; p++) {
      h = Math.imul(rotl((h + Math.imul(this.buf[p] as number, P5)) >>> 0, 11), P1) >>> 0;
    }
    h = Math.imul(h ^ (h >>> 15), P2) >>> 0;
    h = Math.imul(h ^ (h >>> 13), P3) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  }
}

export function xxh32(data: Uint8Array, seed = 0): number {
  const h = new XXH32(seed);
  h.update(data);
  return h.digest();
}

export class Lz4Error extends Error {}

const MAGIC = 0x184d2204;
const WINDOW = 64 * 1024;
const BLOCK_SIZES: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

/** Decode one LZ4 block into `out` at `pos` (the window before `pos` holds earlier output); returns the new end. */
function decodeBlock(src: Buffer, out: Buffer, pos: number): number {
  let s = 0;
  let o = pos;
  const end = src.length;
  for (;;) {
    if (s >= end) throw new Lz4Error('a block ends inside a sequence');
    const token = src[s++] as number;
    let lit = token >>> 4;
    if (lit === 15) {
      for (let b = 255; b === 255; ) {
        if (s >= end) throw new Lz4Error('a block ends inside a literal length');
        b = src[s++] as number;
        lit += b;
      }
    }
    if (s + lit > end || o + lit > out.length) throw new Lz4Error('a literal run overflows its block');
    src.copy(out, o, s, s + lit);
    s += lit;
    o += lit;
    if (s === end) return o; // the last sequence has literals only
    if (s + 2 > end) throw new Lz4Error('a block ends inside a match offset');
    const offset = (src[s] as number) | ((src[s + 1] as number) << 8);
    s += 2;
    if (offset === 0 || offset > o)
      throw new Lz4Error(`a match points ${offset} bytes back, before the data`);
    let len = (token & 15) + 4;
    if ((token & 15) === 15) {
      for (let b = 255; b === 255; ) {
        if (s >= end) throw new Lz4Error('a block ends inside a match length');
        b = src[s++] as number;
        len += b;
      }
    }
    if (o + len > out.length) throw new Lz4Error('a match overflows its block');
    let from = o - offset;
    if (offset >= len) {
      out.copy(out, o, from, from + len);
      o += len;
    } else {
      for (let i = 0; i < len; i++) out[o++] = out[from++] as number;
    }
  }
}

/**
 * Feed bytes with push(); finish() checks the frame ended. Output is counted, not kept, beyond the
 * 64 KiB window that linked blocks may refer back into.
 */
export class Lz4FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  /** Input that arrived while the parser waits for `needed` bytes; joined only once that many are in. */
  private parked: Buffer[] = [];
  private parkedBytes = 0;
  private needed = 0;
  private state: 'header' | 'block' | 'checksum' | 'between' = 'between';
  private blockChecksum = false;
  private contentChecksum = false;
  private maxBlock = 0;
  private content: XXH32 | undefined;
  private window: Buffer = Buffer.alloc(0);
  private frames = 0;
  bytesOut = 0;
  /** Sees each piece of output once (to count its rows). */
  onOutput: ((b: Buffer) => void) | undefined;

  push(b: Buffer): void {
    this.parked.push(b);
    this.parkedBytes += b.length;
    if (this.pending.length + this.parkedBytes < this.needed) return;
    this.pending = Buffer.concat([this.pending, ...this.parked]);
    this.parked = [];
    this.parkedBytes = 0;
    this.needed = 0;
    const buf = this.pending;
    let p = 0;
    for (let next = this.step(buf, p); next >= 0; next = this.step(buf, p)) p = next;
    this.pending = p === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(p));
    this.needed = this.bytesWanted();
  }

  /** One step of the parser at `p`: where the next one starts, or -1 until more bytes come. */
  private step(buf: Buffer, p: number): number {
    switch (this.state) {
      case 'between':
        return this.frameStart(buf, p);
      case 'header':
        return this.frameHeader(buf, p);
      case 'block':
        return this.block(buf, p);
      case 'checksum':
        return this.contentEnd(buf, p);
    }
  }

  /** A frame's magic number, or a skippable frame stepped over. */
  private frameStart(buf: Buffer, p: number): number {
    const avail = buf.length - p;
    if (avail < 4) return -1;
    const magic = buf.readUInt32LE(p);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (avail < 8) return -1;
      const skip = buf.readUInt32LE(p + 4);
      return avail < 8 + skip ? -1 : p + 8 + skip;
    }
    if (magic !== MAGIC) throw new Lz4Error(`not an LZ4 frame (magic ${magic.toString(16)})`);
    this.state = 'header';
    return p + 4;
  }

  /** The frame descriptor: its flags, block size and header checksum. */
  private frameHeader(buf: Buffer, p: number): number {
    const avail = buf.length - p;
    if (avail < 2) return -1;
    const flg = buf[p] as number;
    const bd = buf[p + 1] as number;
    const len = 2 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0) + 1;
    if (avail < len) return -1;
    if (flg >>> 6 !== 1) throw new Lz4Error('unsupported LZ4 frame version');
    const hc = (xxh32(buf.subarray(p, p + len - 1)) >>> 8) & 0xff;
    if (hc !== buf[p + len - 1]) throw new Lz4Error('the LZ4 frame header checksum does not match');
    this.blockChecksum = (flg & 0x10) !== 0;
    this.contentChecksum = (flg & 0x04) !== 0;
    this.maxBlock = BLOCK_SIZES[(bd >>> 4) & 7] ?? 0;
    if (!this.maxBlock) throw new Lz4Error('invalid LZ4 block size');
    this.content = this.contentChecksum ? new XXH32() : undefined;
    this.window = Buffer.alloc(0);
    this.state = 'block';
    return p + len;
  }

  /** A data block (checked, decoded and passed on), or the end mark of the frame's blocks. */
  private block(buf: Buffer, p: number): number {
    const avail = buf.length - p;
    if (avail < 4) return -1;
    const word = buf.readUInt32LE(p);
    if (word === 0) {
      this.state = this.contentChecksum ? 'checksum' : 'between';
      if (!this.contentChecksum) this.frames++;
      return p + 4;
    }
    const raw = (word & 0x80000000) !== 0;
    const size = word & 0x7fffffff;
    if (size > this.maxBlock)
      throw new Lz4Error(`a block of ${size} bytes exceeds the frame's ${this.maxBlock}`);
    const need = 4 + size + (this.blockChecksum ? 4 : 0);
    if (avail < need) return -1;
    const data = buf.subarray(p + 4, p + 4 + size);
    if (this.blockChecksum && xxh32(data) !== buf.readUInt32LE(p + 4 + size)) {
      throw new Lz4Error('an LZ4 block checksum does not match');
    }
    this.output(raw ? data : this.decompress(data), raw);
    return p + need;
  }

  /** A compressed block decoded after the window it may refer back into; the window moves on. */
  private decompress(data: Buffer): Buffer {
    const w = this.window.length;
    const out = Buffer.allocUnsafe(w + this.maxBlock);
    this.window.copy(out, 0);
    const endAt = decodeBlock(data, out, w);
    this.window = out.subarray(Math.max(0, endAt - WINDOW), endAt);
    return out.subarray(w, endAt);
  }

  private output(produced: Buffer, raw: boolean): void {
    if (raw) this.window = Buffer.concat([this.window, produced]).subarray(-WINDOW);
    this.content?.update(produced);
    this.bytesOut += produced.length;
    this.onOutput?.(produced);
  }

  /** The content checksum that ends a frame. */
  private contentEnd(buf: Buffer, p: number): number {
    if (buf.length - p < 4) return -1;
    if ((this.content as XXH32).digest() !== buf.readUInt32LE(p)) {
      throw new Lz4Error('the LZ4 content checksum does not match');
    }
    this.frames++;
    this.state = 'between';
    return p + 4;
  }

  /** How many buffered bytes the parser needs before it can take its next step. */
  private bytesWanted(): number {
    const buf = this.pending;
    if (this.state === 'block' && buf.length >= 4) {
      const size = buf.readUInt32LE(0) & 0x7fffffff;
      return 4 + size + (this.blockChecksum ? 4 : 0);
    }
    return buf.length + 1;
  }

  /** Throws unless the input ended exactly at the end of a frame. */
  finish(): number {
    if (this.parkedBytes > 0) {
      this.needed = 0;
      this.push(Buffer.alloc(0));
    }
    if (this.state !== 'between' || this.pending.length > 0 || this.frames === 0) {
      throw new Lz4Error('the LZ4 frame ends early');
    }
    return this.bytesOut;
  }
}
