import { checkCollation, checkIndexes, checkSequences, validateConstraints } from '../../checks/integrity.js';
import { withClient } from '../../postgres/client.js';
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
        findings.push(...(await checkSequences(c)).findings);
      if (opts.tier === 'full' && integ['validate-constraints'] !== false)
        findings.push(...(await validateConstraints(c)).findings);
      if (integ.amcheck) {
        const r = await checkIndexes(c);
        if (r) findings.push(...r.findings);
        else notRun = 'amcheck: true, but the amcheck extension is not available on the target';
      }
    });
    if (integ.collation !== false) findings.push(...checkCollation(t.ins.toc?.database, t.collation));
    return { findings, ...(notRun ? { notRun } : {}) };
  });
}
