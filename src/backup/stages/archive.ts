import { finding, ruleKind } from '../../report/findings.js';
import type { ReadBackup } from '../context.js';

/**
 * The archive stage: what the one-pass walk found wrong with the archive, as findings. A form it
 * cannot walk (a SQL script not from pg_dump) is not an archive found ok: the stage did not run.
 */
export async function archiveStage(b: ReadBackup): Promise<void> {
  await b.pipe.stage('archive', async () => {
    const unwalked = b.ins.problems.find((p) => ruleKind(p.rule) === 'unverifiable');
    return {
      findings: b.ins.problems.map((p) => ({
        ...finding(p.rule, 'archive', p.message, { evidence: p.evidence ?? {} }),
      })),
      ...(unwalked ? { notRun: unwalked.message } : {}),
    };
  });
}
