import { finding } from '../../report/findings.js';
import type { ReadBackup } from '../context.js';

/** The archive stage: what the one-pass walk found wrong with the archive, as findings. */
export async function archiveStage(b: ReadBackup): Promise<void> {
  await b.pipe.stage('archive', async () => ({
    findings: b.ins.problems.map((p) => ({
      ...finding(p.rule, 'archive', p.message, { evidence: p.evidence ?? {} }),
    })),
  }));
}
