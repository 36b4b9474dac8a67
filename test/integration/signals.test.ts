import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dumpDatabase } from '../../src/demo/sample.js';
import { findLeftovers } from '../../src/postgres/cluster.js';
import { loadChinook, startCluster, tempDir } from '../harness/pg.js';

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
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      // Wait until its target cluster is up, then cancel.
      const deadline = Date.now() + 60_000;
      let mine: string | undefined;
      while (!mine && Date.now() < deadline) {
        mine = findLeftovers().find((c) => c.label.pid === child.pid)?.root;
        if (!mine) await new Promise((r) => setTimeout(r, 50));
      }
      expect(mine, err).toBeDefined();
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code).toBe(130);
      expect(fs.existsSync(mine as string)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
