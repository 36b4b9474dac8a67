import { finding } from '../../report/findings.js';
import { countTiers, looksLikeBackup } from '../../sources/select.js';
import type { LocatedBackup } from '../context.js';

/** The retention stage: how many backups each tier of `expect` holds, against how many it should. */
export async function retentionStage(b: LocatedBackup): Promise<void> {
  const expect = b.opts.expect;
  if (!expect) {
    b.pipe.skip('retention', 'no `expect` given');
    return;
  }
  await b.pipe.stage('retention', async () => {
    const counts = countTiers(b.all.filter(looksLikeBackup), Object.keys(expect));
    return {
      findings: Object.entries(expect)
        .filter(([tier, want]) => (counts[tier] ?? 0) < want)
        .map(([tier, want]) =>
          finding(
            'RETENTION_SHORT',
            'retention',
            `the ${tier} tier holds ${counts[tier] ?? 0} backups; ${want} expected`,
            { evidence: { tier, found: counts[tier] ?? 0, expected: want } },
          ),
        ),
    };
  });
}
