/**
 * A transaction id target, native backend, against real PostgreSQL: production commits a first
 * marker row, records its transaction id, then commits a second; recovery to that id lands with the
 * first marker and without the second (inclusive), or without both (exclusive), and the server's log
 * proves the transaction it stopped at.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/core/log.js';
import { parsePitrOptions } from '../../src/pitr/options.js';
import { runPitr } from '../../src/pitr/run.js';
import type { ScratchCluster } from '../../src/postgres/cluster.js';
import { tempDir } from '../harness/pg.js';
import { archiveNow, baseBackup, query, serverDir, startArchiving } from '../harness/pitr.js';

let prod: ScratchCluster;
let archive: string;
let base: string;
/** pg_current_xact_id() of the transaction that committed the first marker (its 64-bit form). */
let firstXid: string;
const rules = (r: { findings: { rule: string }[] }) => r.findings.map((f) => f.rule);

/** The checks that say which markers came back: `first` rows of the first, none of the second. */
function markers(first: number): string {
  const file = path.join(tempDir('pitr-xid-config'), 'restorable.yml');
  fs.writeFileSync(
    file,
    `pitr:
  checks:
    - { name: first marker, sql: "select count(*) from markers where tag = 'first'", expect: "== ${first}", asserts: before-target }
    - { name: no second marker, sql: "select count(*) from markers where tag = 'second'", expect: "== 0", asserts: after-target }
`,
  );
  return file;
}

beforeAll(async () => {
  archive = serverDir('pitr-xid-archive');
  base = serverDir('pitr-xid-base');
  prod = await startArchiving('test-pitr-xid', archive);
  await query(prod, 'CREATE TABLE markers (id serial PRIMARY KEY, tag text)');
  await query(prod, "INSERT INTO markers (tag) VALUES ('before the backup')");
  await baseBackup(prod, path.join(base, 'b1'));
  await query(prod, "INSERT INTO markers (tag) SELECT 'workload ' || g FROM generate_series(1, 100) g");
  const [row] = await query<{ xid: string }>(
    prod,
    "WITH r AS (INSERT INTO markers (tag) VALUES ('first') RETURNING 1) SELECT pg_current_xact_id()::text AS xid FROM r",
  );
  firstXid = row?.xid as string;
  await query(prod, "INSERT INTO markers (tag) VALUES ('second')");
  await archiveNow(prod);
}, 120_000);

afterAll(async () => {
  await prod?.stop();
});

const native = (extra: Record<string, string>) =>
  parsePitrOptions({ 'base-backups': base, 'wal-archive': archive, ...extra }, 'input');

describe('pitr-restore: target-xid (native)', () => {
  it('recovers to the first marker’s transaction, not the second (inclusive), and to before it (exclusive)', async () => {
    const r = await runPitr(native({ 'target-xid': firstXid, config: markers(1) }), memoryLogger());
    expect(r.verdict, JSON.stringify(r.findings)).toBe('pass');
    expect(r.target).toBe(`transaction ${firstXid}`);
    expect(r.proof?.stopLine).toMatch(
      new RegExp(`^recovery stopping after commit of transaction ${firstXid}, `),
    );
    expect(r.proof?.holds).toBe(true);
    // The last commit replayed is the transaction's own.
    expect(r.recoveredTo).toBe(r.proof?.stoppedAt);
    const x = await runPitr(
      native({ 'target-xid': firstXid, 'target-inclusive': 'false', config: markers(0) }),
      memoryLogger(),
    );
    expect(x.verdict, JSON.stringify(x.findings)).toBe('pass');
    expect(x.target).toBe(`transaction ${firstXid} (exclusive)`);
    expect(x.proof?.stopLine).toMatch(
      new RegExp(`^recovery stopping before commit of transaction ${firstXid}, `),
    );
  }, 240_000);

  it('the checks catch a drill that did not land where they say (the markers fire both ways)', async () => {
    // Exclusive, but the checks expect the first marker: the recovered data contradicts them.
    const r = await runPitr(
      native({ 'target-xid': firstXid, 'target-inclusive': 'false', config: markers(1) }),
      memoryLogger(),
    );
    expect(r.verdict).toBe('fail');
    expect(rules(r)).toContain('SEMANTICS_FAILED');
  }, 240_000);

  it('the plan checks the WAL chain but cannot place a transaction; one the WAL never commits is found at replay', async () => {
    const plan = await runPitr(native({ 'target-xid': '4000000000', 'plan-only': 'true' }), memoryLogger());
    expect(plan.verdict, JSON.stringify(plan.findings)).toBe('pass');
    expect(plan.plan?.backup).toBe('b1');
    expect(plan.plan?.reachesTarget).toBe('cannot tell');
    const r = await runPitr(native({ 'target-xid': '4000000000' }), memoryLogger());
    expect(r.verdict).not.toBe('pass');
    expect(rules(r)).toContain('PITR_TARGET_UNREACHED');
  }, 240_000);
});
