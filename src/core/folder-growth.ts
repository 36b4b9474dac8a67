import fs from 'node:fs';
import path from 'node:path';

/** The bytes of the regular files under `root` (symbolic links not followed; a folder not there is 0). */
async function folderBytes(root: string): Promise<number> {
  let sum = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) sum += (await fs.promises.lstat(p).catch(() => undefined))?.size ?? 0;
    }
  };
  await walk(root);
  return sum;
}

/**
 * How much another program (pgbackrest restore, barman recover, wal-g backup-fetch) has written
 * into a folder so far: its files summed again every `everyMs` until `stop`, never going back, so a
 * progress line reads a number and walks nothing itself.
 */
export class FolderGrowth {
  bytes = 0;
  private stopped = false;

  constructor(
    private readonly root: string,
    private readonly everyMs = 1000,
  ) {
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const now = await folderBytes(this.root);
      if (now > this.bytes) this.bytes = now;
      await new Promise((r) => setTimeout(r, this.everyMs).unref());
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
