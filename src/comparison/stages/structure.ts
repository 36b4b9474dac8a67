import { diffStructure } from '../../checks/structure.js';
import { type Finding, finding } from '../../report/findings.js';
import type { CompareContext } from '../context.js';
import type { Side } from '../side.js';

/** Compare has no reference file to rewrite: what differs is the source against the target. */
const FIX =
  'If the source is a live database whose schema changed since the backup, compare against a baseline written at backup time (`write-baseline`); otherwise the backup or the restore lost the change: find which object and why.';

/** The structure stage: the source's catalog objects against the target's (structure: true). */
export async function structureStage(ctx: CompareContext, src: Side, tgt: Side): Promise<void> {
  const { pipe } = ctx;
  const reference = src.structure;
  if (!ctx.opts.structure) pipe.skip('structure', 'structure: false');
  else if (!reference) pipe.skip('structure', 'the baseline holds no structure');
  else {
    await pipe.stage('structure', async () => {
      const { missing, unexpected } = diffStructure(reference, tgt.structure ?? []);
      const show = (xs: string[]) =>
        xs.slice(0, 5).join('; ') + (xs.length > 5 ? `; and ${xs.length - 5} more` : '');
      const findings: Finding[] = [];
      if (missing.length)
        findings.push(
          finding(
            'STRUCTURE_MISSING',
            'structure',
            `${missing.length} object(s) of the source are missing or differ in the target: ${show(missing)}`,
            { evidence: { missing: missing.length }, fix: FIX },
          ),
        );
      if (unexpected.length)
        findings.push(
          finding(
            'STRUCTURE_UNEXPECTED',
            'structure',
            `${unexpected.length} object(s) of the target are not in the source: ${show(unexpected)}`,
            { evidence: { unexpected: unexpected.length }, fix: FIX },
          ),
        );
      return { findings };
    });
  }
}
