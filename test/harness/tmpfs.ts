import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './pg.js';

export interface SmallDisk {
  /** The mount point: a file system of `size`, writable by everyone (a scratch server's OS user too). */
  dir: string;
  unmount(): void;
}

/**
 * A real, small file system for tests of a full disk: tmpfs mounted on a fresh folder. Needs root (or
 * CAP_SYS_ADMIN); anything else fails the test with what is missing, it never skips.
 */
export function smallDisk(label: string, size: string): SmallDisk {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the full-disk tests mount a ${size} tmpfs and need root (uid ${process.getuid?.()}); run them as root or in a container that may mount`,
    );
  }
  const dir = tempDir(label);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0777`, 'tmpfs', dir], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not mount a ${size} tmpfs on ${dir}: ${(r.stderr || r.error?.message) ?? ''}`);
  }
  let mounted = true;
  return {
    dir,
    unmount() {
      if (!mounted) return;
      const u = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (u.status !== 0) throw new Error(`could not unmount ${dir}: ${u.stderr}`);
      mounted = false;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fill `dir`'s file system with one file until it has no room left; returns that file. */
export function fill(dir: string): string {
  const file = path.join(dir, 'filler.bin');
  const fd = fs.openSync(file, 'a');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
  // A last partial page may still fit: fill byte by byte in small writes.
  const small = fs.openSync(file, 'a');
  try {
    for (;;) fs.writeSync(small, Buffer.alloc(512, 1));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(small);
  }
  return file;
}
