import type { ConnInfo } from '../../postgres/client.js';
import type { RecoveryOutcome } from '../../postgres/recovery.js';
import type { Finding } from '../../report/findings.js';
import { type PitrQuery, runPitrChecks } from '../checks.js';
import { MARKER_PREFIX } from '../marker.js';
import type { RunContext } from '../modes.js';
import type { PitrOptions } from '../options.js';
import { proveFromLog, rpoSeconds, targetFindings } from '../proof.js';

/** The checks against the recovered server: pitr.checks, plus a marker's own two halves. */
function pitrChecks(opts: PitrOptions): PitrQuery[] {
  const queries: PitrQuery[] = (opts.config.pitr?.checks ?? []).map((c) => ({
    name: c.name,
    sql: c.sql,
    expect: c.expect,
    ...(c.asserts ? { asserts: c.asserts } : {}),
    ...(c.database ? { database: c.database } : {}),
  }));
  const t = opts.target;
  if (t.kind === 'name' && t.name.startsWith(MARKER_PREFIX)) {
    const q = (phase: string) =>
      `SELECT count(*) FROM restorable.pitr_marker WHERE name = '${t.name.replace(/'/g, "''")}' AND phase = '${phase}'`;
    queries.push(
      {
        name: 'marker row from before the restore point',
        sql: q('before'),
        expect: '== 1',
        asserts: 'before-target',
        marker: t.name,
      },
      {
        name: 'marker row from after the restore point',
        sql: q('after'),
        expect: '== 0',
        asserts: 'after-target',
        marker: t.name,
      },
    );
  }
  return queries;
}

/**
 * The checks stage: the point proved from PostgreSQL's own log (and the RPO achieved), then
 * pitr.checks and a marker's halves on the recovered server, each in its database.
 */
export async function checksStage(ctx: RunContext, conn: ConnInfo, outcome: RecoveryOutcome): Promise<void> {
  const { opts, result } = ctx;
  const proof = proveFromLog(opts.target, opts.inclusive, outcome);
  if (proof) result.proof = proof;
  const rpo = rpoSeconds(opts.target, proof);
  if (rpo !== undefined) result.rpoSeconds = rpo;
  await ctx.pipe.stage('checks', async () => {
    const queries = pitrChecks(opts);
    const findings: Finding[] = [];
    if (queries.length) {
      const r = await runPitrChecks(conn, queries);
      result.checks = r.results;
      findings.push(...r.findings.map((f) => ({ ...f, stage: 'checks' })));
    }
    const asserted = (which: string) => queries.some((q) => q.asserts === which);
    findings.push(...targetFindings(proof, asserted, result.target));
    return { findings };
  });
}
