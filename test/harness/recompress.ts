import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { readHeader, readToc } from '../../src/archive/custom.js';
import { fileChunks } from '../../src/archive/lanes.js';
import { ByteReader } from '../../src/archive/reader.js';
import { setPgDumpVersion } from './breakers.js';
import { fixDataOffsets } from './toc.js';

/** The magic number that opens each compressed stream. */
export const FRAME_MAGIC = {
  lz4: Buffer.from([0x04, 0x22, 0x4d, 0x18]),
  zstd: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
};

/** Compress with the real command-line tool (Debian's lz4 / zstd packages). */
export function compressWith(tool: 'lz4' | 'zstd', data: Buffer, args: string[] = []): Buffer {
  const r = spawnSync(tool, ['-c', '-q', ...args], { input: data, maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) {
    throw new Error(
      `${tool} failed (${r.error?.message ?? r.stderr.toString()}). Install it: apt-get install ${tool}`,
    );
  }
  return r.stdout;
}

function int(v: number, intSize: number): Buffer {
  const b = Buffer.alloc(intSize + 1);
  b.writeUIntLE(v, 1, Math.min(intSize, 6));
  return b;
}

/**
 * Turn an uncompressed custom archive (pg_dump -Fc -Z0, format 1.14) into the 1.15 layout that
 * pg_dump 16+ writes with -Z lz4 or -Z zstd: the compression algorithm in the header, and each
 * table's data one compressed stream cut into length-prefixed chunks.
 */
export async function recompressCustom(
  src: string,
  dest: string,
  algorithm: 'lz4' | 'zstd',
): Promise<string> {
  const r = ByteReader.from(fileChunks(src));
  const h = await readHeader(r);
  if (h.compression !== 'none' || h.minor !== 14)
    throw new Error('recompressCustom wants a -Z0 archive of format 1.14');
  await readToc(r, h);
  const tocEnd = r.offset;
  const bytes = fs.readFileSync(src);
  const i = h.intSize;
  const headerFixed = Buffer.from(bytes.subarray(0, 11));
  headerFixed[6] = 15;
  const parts: Buffer[] = [
    headerFixed,
    Buffer.from([algorithm === 'lz4' ? 2 : 3]),
    bytes.subarray(11 + i + 1, tocEnd),
  ];
  const readInt = (at: number) => {
    let v = 0;
    for (let k = 0; k < i; k++) v += (bytes[at + 1 + k] as number) * 256 ** k;
    return bytes[at] ? -v : v;
  };
  let p = tocEnd;
  while (p < bytes.length) {
    const type = bytes[p] as number;
    if (type !== 1) throw new Error(`recompressCustom handles table data only (block type ${type})`);
    parts.push(bytes.subarray(p, p + 1 + i + 1));
    p += 1 + i + 1;
    const raw: Buffer[] = [];
    for (let len = readInt(p); len !== 0; len = readInt(p)) {
      raw.push(bytes.subarray(p + i + 1, p + i + 1 + len));
      p += i + 1 + len;
    }
    p += i + 1;
    // As pg_dump writes them: no content checksums (it sets none), linked 64 KiB LZ4 blocks.
    const packed = compressWith(
      algorithm,
      Buffer.concat(raw),
      algorithm === 'lz4' ? ['-B4', '-BD', '--no-frame-crc'] : ['--no-check'],
    );
    for (let at = 0; at < packed.length; at += 4096) {
      const chunk = packed.subarray(at, at + 4096);
      parts.push(int(chunk.length, i), chunk);
    }
    parts.push(int(0, i));
  }
  fs.writeFileSync(dest, Buffer.concat(parts));
  // A 1.15 archive comes from pg_dump 16 or newer; its data offsets are where the blocks now are.
  return fixDataOffsets(setPgDumpVersion(dest, dest, `16.4 (${algorithm} blocks, recompressed for tests)`));
}
