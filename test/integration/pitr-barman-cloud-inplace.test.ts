/**
 * `backend: barman-cloud` in place, against Barman Cloud and the S3 test server
 * (test/harness/barman-cloud.ts), a backup with a tablespace: signalled mid-phase through the committed CLI (npm run build
 * first; RESTORABLE_TEST_CLI=source runs its sources), then a hand-over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { readJournal, resumeFromJournal } from '../../src/pitr/journal.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import { controlData } from '../../src/postgres/recovery.js';
import { barmanChecks } from '../harness/barman.js';
import { CLOUD_SERVER, type CloudProduction, startCloudProduction } from '../harness/barman-cloud.js';
import { query } from '../harness/pitr.js';
import {
  expectAttemptKeptWhole,
  expectNothingLeft,
  journalOf,
  PHASE_AT,
  type Point,
  signalAt,
  tablespaceLinks,
} from '../harness/signals.js';

let f: CloudProduction;

beforeAll(async () => {
  f = await startCloudProduction('barman-cloud-inplace', true);
  Object.assign(process.env, f.s3.env);
}, 240_000);

afterAll(async () => {
  await f?.stop();
});

const SECRET = () => f.s3.env.AWS_SECRET_ACCESS_KEY as string;
const systemId = async () =>
  (await controlData(f.prod.bin, f.prod.dataDir))['Database system identifier'] as string;

describe('in place with Barman Cloud, signalled mid-phase (the committed CLI)', () => {
  let runs = 0;
  afterAll(() => {
    process.stdout.write(`Barman Cloud in-place signal runs: ${runs}\n`);
  });
  // barman-cloud-restore restores in one command: there is no unpack point of Restorable's own.
  const points = (Object.keys(PHASE_AT) as Point[]).filter((p) => p !== 'unpack');
  for (const point of points) {
    it.each(['SIGINT', 'kill -9 then --rollback'] as const)(
      `${point}: %s leaves production's original data serving`,
      async (style) => {
        const args = ['--backend', 'barman-cloud', '--barman-server', CLOUD_SERVER];
        const said = await signalAt(
          f.prod.dataDir,
          [
            ...[...args, '--barman-cloud-url', f.url, '--s3-endpoint', f.s3.endpoint],
            ...['--target-time', f.target, '--config', barmanChecks(), '--confirm', await systemId()],
          ],
          point,
          style,
        );
        const rows = await query<{ n: string }>(f.prod, 'select count(*) as n from orders').catch(() => []);
        expect(rows[0]?.n, said).toBe('300');
        expect(journalOf(f.prod.dataDir)?.phase, said).toBe('rolled-back');
        // Held before the fetch, there is no attempt yet; after it, the attempt and its tablespaces.
        if (point !== 'fetch') expectAttemptKeptWhole(f.prod.dataDir, said);
        expectNothingLeft(f.prod.dataDir, said);
        // The server's key file went with its spool folder, whatever stopped the run.
        const beside = fs.readdirSync(path.dirname(f.prod.dataDir));
        expect(
          beside.filter((n) => n.includes('restorable-spool')),
          said,
        ).toEqual([]);
        expect(said).not.toContain(SECRET());
        runs++;
      },
      120_000,
    );
  }

  it('in place: barman-cloud-restore into the staging folder, recovery there, hand-over; no key file left; production is told where its tablespaces now are', async () => {
    const r = await runPitr(
      parsePitrOptions(
        {
          backend: 'barman-cloud',
          'barman-server': CLOUD_SERVER,
          'barman-cloud-url': f.url,
          's3-endpoint': f.s3.endpoint,
          'target-time': f.target,
          config: barmanChecks(),
          mode: 'in-place',
          'data-directory': f.prod.dataDir,
          confirm: await systemId(),
        },
        'input',
      ),
      memoryLogger(),
    );
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.stages.find((s) => s.name === 'handover')?.status).toBe('ok');
    expect((await query<{ n: string }>(f.prod, 'select count(*) as n from orders'))[0]?.n).toBe('200');
    expect(r.safetySnapshot && fs.existsSync(path.join(r.safetySnapshot, 'PG_VERSION'))).toBe(true);
    const auto = fs.readFileSync(path.join(f.prod.dataDir, 'postgresql.auto.conf'), 'utf8');
    expect(auto).not.toMatch(/restore_command|aws-config/);
    expect(auto).not.toContain(SECRET());
    const beside = fs.readdirSync(path.dirname(f.prod.dataDir));
    expect(beside.filter((n) => n.includes('restorable-spool'))).toEqual([]);
    expect(r.history).toMatch(/^0000000[2-9]\.history$/);
    // The recovered tablespace serves from where barman-cloud-restore put it, under the staging folder's name.
    const root = `${readJournal(f.prod.dataDir)?.staging}.tablespaces`;
    expect(tablespaceLinks(f.prod.dataDir).map((l) => path.dirname(l))).toEqual([root]);
    expect((await query<{ n: string }>(f.prod, 'select count(*) as n from far'))[0]?.n).toBe('10');
    expect(r.next.join('\n')).toContain(`its tablespaces at ${root}, where its pg_tblspc links point`);
    expect(resumeFromJournal(f.prod.dataDir)).toContain(`its tablespaces at ${root}`);
    expect(tablespaceLinks(r.safetySnapshot as string).map((l) => fs.realpathSync(l))).toEqual([
      fs.realpathSync(f.tablespace as string),
    ]);
  }, 180_000);
});
