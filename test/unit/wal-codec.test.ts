import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decompressFile } from '../../src/pitr/wal-codec.js';

/** A crafted WAL file that expands without end is stopped at the cap, not written out in full. */
describe('compressed WAL is decompressed with a cap', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restorable-wal-codec-'));
  const bomb = path.join(dir, 'bomb.zst');
  // 16 MiB of zeros in a few hundred bytes of zstd.
  const r = spawnSync('sh', ['-c', `head -c ${16 << 20} /dev/zero | zstd -q -c > ${bomb}`]);
  it('refuses output past the cap', async () => {
    expect(r.status, 'zstd is missing: apt-get install zstd').toBe(0);
    expect(fs.statSync(bomb).size).toBeLessThan(64 * 1024);
    const out = path.join(dir, 'out');
    await expect(decompressFile('zstd', bomb, out, 1 << 20)).rejects.toThrow(/more than 1048576 bytes/);
    expect(fs.existsSync(out) ? fs.statSync(out).size : 0).toBeLessThanOrEqual(1 << 20);
  });
  it('passes output within the cap whole', async () => {
    const out = path.join(dir, 'whole');
    await decompressFile('zstd', bomb, out, 16 << 20);
    expect(fs.statSync(out).size).toBe(16 << 20);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
