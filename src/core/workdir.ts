import fs from 'node:fs';
import path from 'node:path';
import { onCancel } from './cancel.js';

/**
 * One run's own folder beneath the work-dir (`<work-dir>/run-XXXXXX`, mode 0700), made the first
 * time the run writes there, so runs that share a work-dir never share a file. Partial files (a
 * download still arriving, an unpacked copy, a list file) are removed on every way out: when the
 * caller is done with one, when the run ends (`close`), and synchronously when it is cancelled
 * (SIGINT, SIGTERM); so is a whole download that is not kept (`complete`). Nothing else is removed:
 * not the work-dir, not a whole file the run kept for the next step (`keep`), not anything the run
 * did not create; the run's folder only when it is empty.
 */
export class RunFolder {
  private dir: string | undefined;
  private readonly partials = new Set<string>();
  private forgetCancel: (() => void) | undefined;

  constructor(readonly workDir: string) {}

  /** The run's folder, made on first use. */
  path(): string {
    if (!this.dir) {
      fs.mkdirSync(this.workDir, { recursive: true });
      const dir = fs.mkdtempSync(path.join(this.workDir, 'run-'));
      fs.chmodSync(dir, 0o700);
      this.dir = dir;
      this.forgetCancel = onCancel(() => this.removePartials());
    }
    return this.dir;
  }

  /** A file in the run's folder that is removed when the run ends, whichever way, unless kept. */
  partial(name: string): string {
    const file = path.join(this.path(), name);
    this.partials.add(file);
    return file;
  }

  /** Rename a partial file whole: `to` stays after the run (a download the next step reads). */
  keep(file: string, to: string): void {
    fs.renameSync(file, to);
    this.partials.delete(file);
  }

  /** Rename a partial file whole, still the run's: `to` goes when the run ends (a download not kept). */
  complete(file: string, to: string): void {
    fs.renameSync(file, to);
    this.partials.delete(file);
    this.partials.add(to);
  }

  /** Remove a partial file now: it failed, or nothing needs it any more. Only the run's own files. */
  discard(file: string): void {
    if (this.partials.delete(file)) removeQuietly(file);
  }

  /** The run ended: remove its partial files, and its folder if nothing else is in it. */
  close(): void {
    this.removePartials();
    this.forgetCancel?.();
    this.forgetCancel = undefined;
  }

  private removePartials(): void {
    for (const file of this.partials) removeQuietly(file);
    this.partials.clear();
    if (!this.dir) return;
    try {
      fs.rmdirSync(this.dir); // only succeeds when empty
      this.dir = undefined;
    } catch {
      // Something the run kept is in it: it stays.
    }
  }
}

function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // Best effort: a file that cannot be removed must not hide the run's own result.
  }
}
