import { formatBytes } from '../../core/duration.js';
import { errorMessage } from '../../core/errors.js';
import { withClient } from '../../postgres/client.js';
import { type Finding, finding } from '../../report/findings.js';
import type { MigrateContext, Snapshot } from '../context.js';
import { snapshot } from '../relations.js';

/**
 * The rewrites stage: the database read again, and every table whose relfilenode changed reported.
 * Returns what it read, for the structure stage; undefined when it could not read it.
 */
export async function rewritesStage(ctx: MigrateContext, before: Snapshot): Promise<Snapshot | undefined> {
  const { result } = ctx;
  let after: Snapshot | undefined;
  await ctx.pipe.stage('rewrites', async () => {
    try {
      after = await withClient(ctx.conn, snapshot);
    } catch (e) {
      return { notRun: `could not read the database after the migration: ${errorMessage(e)}` };
    }
    const findings: Finding[] = [];
    for (const [oid, b] of before.relations) {
      if (b.kind !== 'r' && b.kind !== 'm') continue;
      const a = after.relations.get(oid);
      if (!a || a.filenode === null || b.filenode === null || a.filenode === b.filenode) continue;
      result.rewritten.push({ table: b.table, bytes: b.bytes });
      findings.push(
        finding(
          'TABLE_REWRITTEN',
          'rewrites',
          `the migration rewrote ${b.table} (${formatBytes(b.bytes)} before; its relfilenode changed): in production that copies the table under an ACCESS EXCLUSIVE lock`,
          { evidence: { table: b.table, bytes: b.bytes } },
        ),
      );
    }
    result.rewritten.sort((x, y) => (x.table < y.table ? -1 : 1));
    return { findings };
  });
  return after;
}
