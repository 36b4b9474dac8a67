import type pg from 'pg';
import {
  checkCollation,
  checkIndexes,
  checkSequences,
  offerAmcheck,
  sequencesAgainstLive,
  validateConstraints,
} from '../../checks/integrity.js';
import { type ConnInfo, withClient } from '../../postgres/client.js';
import { RESTORER } from '../../postgres/owners.js';
import type { Finding } from '../../report/findings.js';
import type { TargetedDrill } from '../context.js';

/** The integrity rung: sequences, NOT VALID constraints, amcheck, and the collation against the dump's. */
export async function integrityStage(t: TargetedDrill): Promise<void> {
  const { opts } = t;
  await t.pipe.stage('integrity', async () => {
    const integ = opts.config.integrity ?? {};
    const findings: Finding[] = [];
    let notRun: string | undefined;
    await withClient(t.conn, async (c) => {
      if (opts.tier !== 'schema' && integ.sequences !== false)
        findings.push(...(await sequenceFindings(c, opts.compare?.source)));
      if (opts.tier === 'full' && integ['validate-constraints'] !== false)
        findings.push(...(await validateConstraints(c)).findings);
      if (integ.amcheck) {
        // The checks run as the restorer on a scratch cluster: its superuser makes amcheck for it.
        if (t.prepared)
          await withClient(t.target.conn(t.database), (su) => offerAmcheck(su, RESTORER)).catch(
            () => undefined,
          );
        const r = await checkIndexes(c);
        if (r) findings.push(...r.findings);
        else notRun = 'amcheck: true, but the amcheck extension is not available on the target';
      }
    });
    if (integ.collation !== false) findings.push(...checkCollation(t.ins.toc?.database, t.collation));
    return { findings, ...(notRun ? { notRun } : {}) };
  });
}

/** The restore's sequences; those behind checked on the live database too, when it is a compare source. */
async function sequenceFindings(c: pg.Client, live: ConnInfo | undefined): Promise<Finding[]> {
  const restored = (await checkSequences(c)).findings;
  const behind = new Set(restored.map((f) => String(f.evidence?.sequence)));
  if (!live || behind.size === 0) return restored;
  // A live database that cannot be reached is the compare stage's to say; the restore's findings stand.
  const onLive = await withClient(live, (l) => checkSequences(l, behind)).catch(() => undefined);
  return onLive ? sequencesAgainstLive(restored, onLive.findings) : restored;
}
