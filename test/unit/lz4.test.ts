import { describe, expect, it } from 'vitest';
import { decoderFor } from '../../src/archive/blocks.js';
import { Lz4Error, Lz4FrameDecoder, xxh32 } from '../../src/archive/lz4.js';
import { compressWith } from '../harness/recompress.js';

/** Rows that look like COPY data: repetitive enough to compress, varied enough to need matches. */
function rows(n: number): Buffer {
  const lines: string[] = [];
  for (let k = 0; k < n; k++)
    lines.push(`${k}\tcustomer${k * 7919}@example.com\t2026-01-${(k % 28) + 1}\t${(k * 31) % 977}\n`);
  return Buffer.from(lines.join(''));
}

function decodeLz4(frame: Buffer, chunk = 4096): number {
  const d = new Lz4FrameDecoder();
  for (let at = 0; at < frame.length; at += chunk) d.push(frame.subarray(at, at + chunk));
  return d.finish();
}

describe('xxHash32', () => {
  it('matches the reference values', () => {
    expect(xxh32(Buffer.alloc(0))).toBe(0x02cc5d05);
    expect(xxh32(Buffer.from('abc'))).toBe(0x32d153ff);
  });
});

describe('LZ4 frames from the lz4 tool', () => {
  const data = rows(60_000);
  it.each([
    ['defaults (independent blocks, content checksum)', []],
    ['linked 64 KiB blocks, as pg_dump writes them', ['-B4', '-BD']],
    ['4 MiB blocks with block checksums', ['-B7', '-BX']],
    ['content size, no content checksum', ['--content-size', '--no-frame-crc']],
    ['level 9', ['-9']],
  ])('%s decode to the original length, checksums checked', (_label, args) => {
    const frame = compressWith('lz4', data, args as string[]);
    expect(decodeLz4(frame)).toBe(data.length);
    expect(decodeLz4(frame, 7)).toBe(data.length);
  });
  it('two frames back to back', () => {
    const two = Buffer.concat([compressWith('lz4', data), compressWith('lz4', rows(10))]);
    expect(decodeLz4(two)).toBe(data.length + rows(10).length);
  });
  it('a flipped byte fails a checksum; a cut frame ends early', () => {
    const frame = compressWith('lz4', data);
    const flipped = Buffer.from(frame);
    const mid = Math.floor(frame.length / 2);
    flipped[mid] = (flipped[mid] as number) ^ 0x55;
    expect(() => decodeLz4(flipped)).toThrow(Lz4Error);
    expect(() => decodeLz4(frame.subarray(0, frame.length - 100))).toThrow(/ends early/);
    expect(() => decodeLz4(Buffer.from('not lz4 at all'))).toThrow(/not an LZ4 frame/);
  });
});

describe('zstd streams from the zstd tool', () => {
  const data = rows(60_000);
  it('decode to the original length; damage and truncation are COMPRESSION_CORRUPT', async () => {
    const packed = compressWith('zstd', data);
    const ok = decoderFor('zstd', 'TABLE DATA t');
    for (let at = 0; at < packed.length; at += 4096) await ok.push(packed.subarray(at, at + 4096));
    // Its rows too: COPY text has one line per row.
    await expect(ok.finish()).resolves.toEqual({ bytes: data.length, rows: 60_000 });

    const cut = decoderFor('zstd', 'TABLE DATA t');
    await cut.push(packed.subarray(0, packed.length - 50));
    await expect(cut.finish()).rejects.toMatchObject({ rule: 'COMPRESSION_CORRUPT' });

    const flipped = Buffer.from(packed);
    for (let k = 100; k < 140; k++) flipped[k] = (flipped[k] as number) ^ 0xff;
    const bad = decoderFor('zstd', 'TABLE DATA t');
    const run = async () => {
      await bad.push(flipped);
      return bad.finish();
    };
    await expect(run()).rejects.toMatchObject({ rule: 'COMPRESSION_CORRUPT' });
  });
});
