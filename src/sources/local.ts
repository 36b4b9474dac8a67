import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import type { BackupObject, BackupSource } from './types.js';

/** Backups in a local file or folder. Only reads. */
export class LocalSource implements BackupSource {
  readonly description: string;
  private readonly root: string;

  constructor(input: string, location: string) {
    const abs = path.resolve(location);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      throw new UserError(
        input,
        `"${location}" does not exist`,
        'Give an existing file or folder, or an s3://bucket/prefix URL',
      );
    }
    this.description = abs;
    // A folder that is itself a directory-format dump is one backup, not a folder of them.
    const one = st.isFile() || fs.existsSync(path.join(abs, 'toc.dat'));
    this.root = one ? path.dirname(abs) : abs;
    if (one) this.only = path.basename(abs);
  }

  private only: string | undefined;

  get single(): string | undefined {
    return this.only;
  }

  async list(): Promise<BackupObject[]> {
    if (this.only) {
      // One backup, plus the files beside it that belong to it (`<name>.sha256`, ...).
      const only = this.only;
      const beside = fs
        .readdirSync(this.root)
        .filter((n) => n.startsWith(`${only}.`) && fs.statSync(path.join(this.root, n)).isFile());
      return [this.describe(only), ...beside.map((n) => this.describe(n))];
    }
    const out: BackupObject[] = [];
    const walk = (rel: string) => {
      const dir = path.join(this.root, rel);
      for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
        const name = rel ? `${rel}/${ent.name}` : ent.name;
        if (ent.isDirectory()) {
          if (fs.existsSync(path.join(dir, ent.name, 'toc.dat'))) out.push(this.describe(name));
          else walk(name);
        } else if (ent.isFile()) {
          out.push(this.describe(name));
        }
      }
    };
    walk('');
    return out;
  }

  private describe(name: string): BackupObject {
    const st = fs.statSync(path.join(this.root, name));
    if (st.isDirectory()) {
      let size = 0;
      for (const f of fs.readdirSync(path.join(this.root, name)))
        size += fs.statSync(path.join(this.root, name, f)).size;
      return { name, size, modified: st.mtime, kind: 'directory' };
    }
    return { name, size: st.size, modified: st.mtime, kind: 'file' };
  }

  read(name: string): AsyncIterable<Buffer> {
    return fs.createReadStream(path.join(this.root, name), { highWaterMark: 1024 * 1024 });
  }

  async readText(name: string, maxBytes = 1024 * 1024): Promise<string | undefined> {
    const file = path.join(this.root, name);
    try {
      const st = fs.statSync(file);
      if (!st.isFile() || st.size > maxBytes) return undefined;
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  }

  async metadata(): Promise<Record<string, string>> {
    return {};
  }

  localPath(name: string): string {
    return path.join(this.root, name);
  }
}
