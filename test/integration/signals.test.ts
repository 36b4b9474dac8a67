import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dumpDatabase } from '../../src/demo/sample.js';
import { queryRows } from '../../src/postgres/client.js';
import { findLeftovers } from '../../src/postgres/cluster.js';
import { loadChinook, startCluster, tempDir } from '../harness/pg.js';
import { interruptOnceClusterUp } from '../harness/signals.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('cancellation', () => {
  it('SIGINT during a drill stops and removes its scratch cluster', async () => {
    const dir = tempDir('signals');
    const src = await startCluster({ label: 'test-sig' });
    let dump: string;
    try {
      await loadChinook(src);
      dump = await dumpDatabase(src, 'chinook', path.join(dir, 'c.dump'));
    } finally {
      await src.stop();
    }
    try {
      const child = spawn(
        process.execPath,
        [path.join(root, 'dist/cli/index.js'), 'drill', '--source', dump, '--max-age', '1000d'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      // Cancelled once its target cluster is up: exit 130, the cluster gone.
      expect(await interruptOnceClusterUp(child, findLeftovers)).toEqual({
        code: 130,
        removed: true,
        userRemoved: true,
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cancellation on an existing server', () => {
  it('SIGINT during a target-url drill drops the database it created, and only that one', async () => {
    const dir = tempDir('signals-server');
    const server = await startCluster({ label: 'test-sig-server' });
    const databases = async () =>
      (await queryRows<{ datname: string }>(server.conn(), 'select datname from pg_database order by 1')).map(
        (r) => r.datname,
      );
    try {
      await loadChinook(server);
      const dump = await dumpDatabase(server, 'chinook', path.join(dir, 'c.dump'));
      // A smoke query that sleeps holds the drill while its database exists.
      const cfg = path.join(dir, 'restorable.yml');
      fs.writeFileSync(
        cfg,
        'semantics:\n  - { name: slow, sql: "select 1 from pg_sleep(20)", expect: "> 0" }\n',
      );
      const before = await databases();
      const child = spawn(
        process.execPath,
        [
          path.join(root, 'dist/cli/index.js'),
          'drill',
          '--source',
          dump,
          '--max-age',
          '1000d',
          '--config',
          cfg,
          '--target-url',
          server.url(),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const deadline = Date.now() + 60_000;
      let made: string | undefined;
      while (!made && Date.now() < deadline) {
        made = (await databases()).find((d) => d.startsWith('restorable_drill_'));
        if (!made) await new Promise((r) => setTimeout(r, 50));
      }
      expect(made, err).toBeDefined();
      // Wait for the slow smoke query, so the restore is over and the database is in use.
      while (!err.includes('semantics') && !/volume/.test(err) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code, err).toBe(130);
      expect(await databases()).toEqual(before);
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
