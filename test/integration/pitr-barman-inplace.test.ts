/**
 * `backend: barman` in place, against a real Barman 3.4 server (test/harness/barman.ts): signalled
 * at every point through the committed CLI (npm run build first), then a hand-over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { controlData } from '../../src/postgres/recovery.js';
import { type BarmanProduction, barmanChecks, startBarmanProduction } from '../harness/barman.js';
import { query } from '../harness/pitr.js';
import { expectNothingLeft, journalOf, PHASE_AT, type Point, signalAt } from '../harness/signals.js';

let f: BarmanProduction;

beforeAll(async () => {
  f = await startBarmanProduction('barman-inplace');
}, 240_000);

afterAll(async () => {
  await f?.prod.stop();
});

describe('in place with Barman, signalled at every point (the committed CLI)', () => {
  let runs = 0;
  afterAll(() => {
    process.stdout.write(`Barman in-place signal runs: ${runs}\n`);
  });
  // barman recover restores in one command: there is no unpack point of Restorable's own.
  const points = (Object.keys(PHASE_AT) as Point[]).filter((p) => p !== 'unpack');
  for (const point of points) {
    it.each(['SIGINT', 'kill -9 then --rollback'] as const)(
      `${point}: %s leaves production's original data serving`,
      async (style) => {
        const id = (await controlData(f.prod.bin, f.prod.dataDir))['Database system identifier'] as string;
        const args = ['--backend', 'barman', '--barman-server', 'main', '--barman-config', f.conf];
        const said = await signalAt(
          f.prod.dataDir,
          [...args, '--target-time', f.target, '--config', barmanChecks(), '--confirm', id],
          point,
          style,
        );
        const rows = await query<{ n: string }>(f.prod, 'select count(*) as n from orders').catch(() => []);
        expect(rows[0]?.n, said).toBe('300');
        expect(journalOf(f.prod.dataDir)?.phase, said).toBe('rolled-back');
        expectNothingLeft(f.prod.dataDir, said);
        runs++;
      },
      120_000,
    );
  }

  it('in place: barman recover into the staging folder recovers there, privately, and hands over', async () => {
    const id = (await controlData(f.prod.bin, f.prod.dataDir))['Database system identifier'] as string;
    const r = await runPitr(
      parsePitrOptions(
        {
          backend: 'barman',
          'barman-server': 'main',
          'barman-config': f.conf,
          'target-time': f.target,
          config: barmanChecks(),
          mode: 'in-place',
          'data-directory': f.prod.dataDir,
          confirm: id,
        },
        'input',
      ),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.stages.find((s) => s.name === 'handover')?.status).toBe('ok');
    expect((await query<{ n: string }>(f.prod, 'select count(*) as n from orders'))[0]?.n).toBe('200');
    expect(r.safetySnapshot && fs.existsSync(path.join(r.safetySnapshot, 'PG_VERSION'))).toBe(true);
    expect(fs.existsSync(path.join(f.prod.dataDir, 'barman_wal'))).toBe(false);
    expect(r.history).toMatch(/^0000000[2-9]\.history$/);
  }, 180_000);
});
