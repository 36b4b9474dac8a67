import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { dumpDatabase } from '../../src/demo/sample.js';
import { parseDrillOptions } from '../../src/drill/options.js';
import { type DrillResult, runDrill } from '../../src/drill/run.js';
import { findLeftovers, type ScratchCluster } from '../../src/postgres/cluster.js';
import type { StageResult } from '../../src/report/stages.js';
import { loadChinook, startCluster, tempDir } from '../harness/pg.js';

let src: ScratchCluster;
let dir: string;
const f: Record<string, string> = {};

beforeAll(async () => {
  dir = tempDir('overlap');
  src = await startCluster({ label: 'test-src' });
  await loadChinook(src);
  f.chinook = await dumpDatabase(src, 'chinook', path.join(dir, 'chinook.dump'));
  f.plain = await dumpDatabase(src, 'chinook', path.join(dir, 'chinook.sql'), { format: 'p' });
}, 240_000);

afterAll(async () => {
  await src?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const mine = () => findLeftovers().filter((c) => c.label.pid === process.pid && c.label.label === 'drill');
const stage = (r: DrillResult, name: string) => r.stages.find((s) => s.name === name);

/** A drill whose log and stage ends land in one list, in the order they happened. */
async function drill(
  source: string,
  extra: Record<string, string> = {},
  verdict?: (r: DrillResult) => void | Promise<void>,
): Promise<{ r: DrillResult; lines: string[] }> {
  const opts = parseDrillOptions(
    { source, 'max-age': '1000d', checksum: 'skip', jobs: '2', ...extra },
    'input',
  );
  const log = memoryLogger();
  const onStage = (s: StageResult) => log.lines.push(`stage ${s.name} ${s.status}`);
  const r = await runDrill(opts, log, onStage, verdict);
  return { r, lines: log.lines };
}

describe('the target starts while the backup is read', () => {
  for (const kind of ['chinook', 'plain']) {
    it(`a ${kind} dump: the scratch cluster starts before the read ends, and its time is the target stage's`, async () => {
      const { r, lines } = await drill(f[kind] as string);
      expect(r.verdict).toBe('pass');
      const started = lines.indexOf('debug: starting the scratch cluster while the backup is read');
      expect(started).toBeGreaterThanOrEqual(0);
      expect(started).toBeLessThan(lines.indexOf('stage read ok'));
      expect(stage(r, 'target')?.reason).toMatch(/started while the backup was read/);
      // initdb and pg_ctl start take more than this, wherever they overlapped.
      expect(stage(r, 'target')?.seconds).toBeGreaterThan(0.3);
      expect(r.rows).toBe(15607);
      expect(mine()).toEqual([]);
    });
  }

  it('a backup that does not verify: the early cluster is removed, the report reads as before', async () => {
    const { r, lines } = await drill(f.chinook as string, { checksum: 'a'.repeat(64) });
    expect(lines).toContain('debug: starting the scratch cluster while the backup is read');
    expect(r.findings.map((x) => x.rule)).toContain('CHECKSUM_MISMATCH');
    const after = r.stages.slice(r.stages.findIndex((s) => s.name === 'target'));
    expect(after.map((s) => `${s.name}:${s.status}:${s.reason}`)).toEqual(
      ['target', 'restore', 'structure', 'volume', 'semantics', 'compare', 'integrity', 'teardown'].map(
        (s) => `${s}:skipped:the backup did not verify (CHECKSUM_MISMATCH)`,
      ),
    );
    expect(r.target).toBeUndefined();
    expect(mine()).toEqual([]);
  });

  it('a sample naming a table the dump lacks: refused in one line, the early cluster removed', async () => {
    const opts = { tier: 'sample', 'sample-tables': 'public.nope' };
    await expect(drill(f.chinook as string, opts)).rejects.toThrow(/has no rows for/);
    expect(mine()).toEqual([]);
  });
});

describe('teardown follows the verdict', () => {
  it('the verdict is handed out while the cluster is up; it is removed after, and the report says so', async () => {
    let during: unknown[] = [];
    let told: DrillResult | undefined;
    const { r } = await drill(f.chinook as string, {}, (res) => {
      told = res;
      during = mine();
    });
    expect(told).toBe(r);
    expect(r.verdict).toBe('pass');
    expect(during).toHaveLength(1);
    expect(mine()).toEqual([]);
    expect(stage(r, 'teardown')).toMatchObject({ status: 'ok' });
    expect(stage(r, 'teardown')?.reason).toMatch(/after the verdict: the scratch cluster is removed/);
  });

  it('a verdict step that throws still removes the cluster', async () => {
    await expect(
      drill(f.chinook as string, {}, () => {
        throw new Error('publish failed');
      }),
    ).rejects.toThrow('publish failed');
    expect(mine()).toEqual([]);
  });

  it('keep: the target is left, with its handle in the result the verdict step sees', async () => {
    let handle: string | undefined;
    const { r } = await drill(f.chinook as string, { keep: 'true' }, (res) => {
      handle = res.target?.handle;
    });
    expect(handle).toBeDefined();
    const kept = mine();
    expect(kept).toHaveLength(1);
    expect(r.target?.url).toMatch(/^postgres/);
    const { removeCluster } = await import('../../src/postgres/cluster.js');
    for (const c of kept) await removeCluster(c.root);
  });
});
