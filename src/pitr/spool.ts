import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { type WalArchive, WalCorruptError, type WalFile } from './wal-archive.js';

/**
 * The shell script behind `restore_command`. It only moves a file out of the spool: the downloads
 * happen ahead of it, in parallel, in this process. A file not there yet is asked for (`<f>.want`)
 * and waited for; `<f>.missing` says the archive does not have it (the end of WAL, or a timeline
 * history file that does not exist), and the server is told so by a non-zero exit. So is a server
 * whose Restorable process is gone (killed): it fails at once rather than waiting for WAL nobody
 * will fetch.
 */
function script(dir: string): string {
  return `#!/bin/sh
# Written by Restorable for one recovery: serves WAL from the spool ${dir}.
s='${dir}'
p=${process.pid}
f="$1"
if [ -f "$s/$f" ]; then exec mv -f "$s/$f" "$2"; fi
: > "$s/$f.want"
i=0
while [ "$i" -lt 6000 ]; do
  if [ -f "$s/$f" ]; then rm -f "$s/$f.want"; exec mv -f "$s/$f" "$2"; fi
  if [ ! -d "/proc/$p" ]; then rm -f "$s/$f.want"; echo "restorable (pid $p), which serves WAL, is gone" >&2; exit 1; fi
  if [ -f "$s/$f.missing" ]; then rm -f "$s/$f.want" "$s/$f.missing"; exit 1; fi
  sleep 0.05
  i=$((i+1))
done
rm -f "$s/$f.want"
echo "restorable: timed out waiting for $f (is the restorable process still running?)" >&2
exit 1
`;
}

/** Segments downloading at once (each in ranged parts of its own). */
const PARALLEL = 4;

export interface SpoolStats {
  fetched: number;
  bytes: number;
  /** Segments the server had to wait for (not prefetched in time): 0 means WAL never held replay up. */
  waits: number;
  /** The newest segment the server asked for. */
  requested?: string;
  /** Names the server asked for that the archive does not have. */
  missing: string[];
  /** Segments whose bytes in the archive are damaged (do not decompress), with what is wrong. */
  corrupt: { name: string; why: string }[];
  errors: string[];
}

/**
 * Prefetches WAL segments `prefetch` ahead of the one the server replays, in the order it will ask
 * for them, into a spool folder on the data directory's file system.
 */
export class WalSpool {
  readonly stats: SpoolStats = { fetched: 0, bytes: 0, waits: 0, missing: [], corrupt: [], errors: [] };
  private readonly index = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private readonly ready = new Set<string>();
  private readonly waited = new Set<string>();
  /** The downloads in progress, so that remove() can let them finish. */
  private readonly fetching = new Set<Promise<void>>();
  private position = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly archive: WalArchive,
    readonly dir: string,
    /** The segments the server will ask for, in order: from the backup's start along its timeline. */
    private readonly order: string[],
    private readonly prefetch: number,
    private readonly owner: { uid: number; gid: number } | undefined,
    private readonly log: Logger,
  ) {
    if (dir.includes("'"))
      throw new Error(
        `the WAL spool folder ${dir} has a single quote in its path: restore_command cannot quote it`,
      );
    order.forEach((n, i) => {
      this.index.set(n, i);
    });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(this.scriptPath, script(dir), { mode: 0o755 });
    if (owner) {
      fs.chownSync(dir, owner.uid, owner.gid);
      fs.chownSync(this.scriptPath, owner.uid, owner.gid);
    }
  }

  get scriptPath(): string {
    return path.join(this.dir, 'restore_command.sh');
  }

  /**
   * The `restore_command` setting that serves from this spool. A segment already in the spool is
   * moved by the server's own shell (one `mv`); only a miss runs the script that asks and waits.
   */
  get restoreCommand(): string {
    const f = `'${this.dir}'/%f`;
    return `test -f ${f} && exec mv -f ${f} %p || exec /bin/sh '${this.scriptPath}' %f %p`;
  }

  start(): void {
    this.fill();
    const tick = () => {
      if (this.stopped) return;
      try {
        this.poll();
      } catch (e) {
        this.stats.errors.push(errorMessage(e));
      }
      this.timer = setTimeout(tick, 10);
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /**
   * Stop and remove the spool (the script too): after promotion nothing needs it. Downloads still
   * writing into it are let finish first, or one would put a file back into a folder being removed.
   */
  async remove(): Promise<void> {
    this.stop();
    await Promise.allSettled([...this.fetching]);
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  }

  private poll(): void {
    const here = new Set(fs.readdirSync(this.dir));
    // Files we delivered that are gone were taken by the server: it has moved past them.
    for (const name of this.ready) {
      if (!here.has(name)) {
        this.ready.delete(name);
        this.advance(name);
      }
    }
    for (const entry of here) {
      if (!entry.endsWith('.want')) continue;
      const name = entry.slice(0, -'.want'.length);
      if (name.length === 24 && this.archive.files.has(name) && !this.waited.has(name)) {
        this.waited.add(name);
        this.stats.waits++;
      }
      if (here.has(name) || this.inFlight.has(name) || here.has(`${name}.missing`)) continue;
      if (name.length === 24) this.stats.requested = name;
      this.advance(name);
      const f = this.archive.files.get(name);
      if (f) this.fetch(f);
      else {
        this.noteMissing(name);
        this.write(`${name}.missing`, '');
      }
    }
    this.fill();
  }

  private advance(name: string): void {
    const i = this.index.get(name);
    if (i !== undefined && i + 1 > this.position) {
      this.position = i + 1;
      this.stats.requested = name;
    }
  }

  /**
   * Keep `prefetch` segments downloaded or downloading ahead of the server, at most PARALLEL of them
   * downloading at once: on few cores, more downloads side by side only slow each other (and replay).
   */
  private fill(): void {
    const parallel = Math.min(this.prefetch, PARALLEL);
    for (
      let i = this.position;
      i < this.order.length &&
      this.ready.size + this.inFlight.size < this.prefetch &&
      this.inFlight.size < parallel;
      i++
    ) {
      const name = this.order[i] as string;
      if (this.ready.has(name) || this.inFlight.has(name)) continue;
      const f = this.archive.files.get(name);
      if (f) this.fetch(f);
    }
  }

  private fetch(f: WalFile): void {
    if (this.stopped) return;
    this.inFlight.add(f.name);
    const dest = path.join(this.dir, f.name);
    const fetching: Promise<void> = this.archive
      .fetchTo(f, dest, this.owner)
      .then((bytes) => {
        if (this.stopped) return;
        this.stats.fetched++;
        this.stats.bytes += bytes;
        this.ready.add(f.name);
      })
      .catch((e) => {
        if (this.stopped) return;
        const message = `could not fetch ${f.object}: ${errorMessage(e)}`;
        this.log.warn(message);
        this.stats.errors.push(message);
        if (e instanceof WalCorruptError) this.stats.corrupt.push({ name: f.name, why: e.message });
        this.noteMissing(f.name);
        // The server gets a clear "not available" rather than waiting for the script's timeout.
        this.write(`${f.name}.missing`, '');
      })
      .finally(() => {
        this.inFlight.delete(f.name);
        this.fetching.delete(fetching);
        if (!this.stopped) this.fill();
      });
    this.fetching.add(fetching);
  }

  private noteMissing(name: string): void {
    if (!this.stats.missing.includes(name)) this.stats.missing.push(name);
  }

  private write(name: string, text: string): void {
    if (this.stopped) return;
    const file = path.join(this.dir, name);
    fs.writeFileSync(file, text);
    if (this.owner) fs.chownSync(file, this.owner.uid, this.owner.gid);
  }
}
