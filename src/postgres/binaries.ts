import fs from 'node:fs';
import path from 'node:path';
import { run } from '../core/exec.js';

export interface PgBinary {
  path: string;
  dir: string;
  /** 15 for 15.4; 9.6 for 9.6.24. */
  major: number;
  version: string;
}

/** The major version in a version string: `15.20 (Debian ...)` → 15, `9.6.24` → 9.6. */
export function majorOf(version: string): number | undefined {
  const m = /(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return undefined;
  const first = Number(m[1]);
  return first >= 10 ? first : Number(`${first}.${m[2] ?? 0}`);
}

function globDirs(parent: string, re: RegExp, sub: string): string[] {
  try {
    return fs
      .readdirSync(parent)
      .filter((d) => re.test(d))
      .map((d) => path.join(parent, d, sub));
  } catch {
    return [];
  }
}

/**
 * The usual places PostgreSQL binaries live, most specific first; `binDir` overrides them all.
 * The embedded servers Restorable fetches (embedded.ts) are not among them: only a drill that
 * lacks its major asks for one (drill/server.ts), and `clean` stops one it left.
 */
export function searchDirs(binDir?: string): string[] {
  if (binDir) return [binDir];
  return [
    ...globDirs('/usr/lib/postgresql', /^\d+(\.\d+)?$/, 'bin'),
    ...globDirs('/usr', /^pgsql-\d+/, 'bin'),
    ...globDirs('/opt/homebrew/opt', /^postgresql@\d+/, 'bin'),
    ...globDirs('/usr/local/opt', /^postgresql@\d+/, 'bin'),
    '/usr/local/pgsql/bin',
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
  ];
}

const cache = new Map<string, Promise<PgBinary[]>>();

/** Every installed copy of `tool` with its major version, one per major, newest first. */
export function findAll(tool: string, binDir?: string): Promise<PgBinary[]> {
  const key = `${tool}\0${binDir ?? ''}`;
  let found = cache.get(key);
  if (!found) {
    found = (async () => {
      const byMajor = new Map<number, PgBinary>();
      const seen = new Set<string>();
      for (const dir of searchDirs(binDir)) {
        const file = path.join(dir, tool);
        let real: string;
        try {
          fs.accessSync(file, fs.constants.X_OK);
          real = fs.realpathSync(file);
        } catch {
          continue;
        }
        if (seen.has(real)) continue;
        seen.add(real);
        const res = await run(file, ['--version']).catch(() => undefined);
        const version = /\(PostgreSQL\)\s+(\S+)/.exec(res?.stdout ?? '')?.[1];
        const major = version ? majorOf(version) : undefined;
        // The first place a major is found wins: versioned folders come before PATH's wrappers.
        if (major !== undefined && version && !byMajor.has(major))
          byMajor.set(major, { path: file, dir, major, version });
      }
      return [...byMajor.values()].sort((a, b) => b.major - a.major);
    })();
    cache.set(key, found);
  }
  return found;
}

/** The installed `tool` of the lowest major at least `min` (the closest match), if any. */
export async function pick(tool: string, min: number, binDir?: string): Promise<PgBinary | undefined> {
  const all = await findAll(tool, binDir);
  return all.filter((b) => b.major >= min).sort((a, b) => a.major - b.major)[0];
}

/** How to install a major's binaries on the usual systems. */
export function installHint(major: number, what: 'client' | 'server'): string {
  const deb = what === 'client' ? `postgresql-client-${major}` : `postgresql-${major}`;
  const rpm = what === 'client' ? `postgresql${major}` : `postgresql${major}-server`;
  return `apt-get install ${deb} (Debian/Ubuntu, from the PGDG repository when your release lacks it), dnf install ${rpm} (RHEL), or brew install postgresql@${major} (macOS)`;
}
