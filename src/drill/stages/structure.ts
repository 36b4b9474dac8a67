import fs from 'node:fs';
import path from 'node:path';
import { diffStructure, parseReference, renderReference, structureLines } from '../../checks/structure.js';
import { withClient } from '../../postgres/client.js';
import { type Finding, finding } from '../../report/findings.js';
import type { StageOutcome } from '../../report/stages.js';
import type { TargetedDrill } from '../context.js';

/**
 * The structure rung: the restored catalog against the config's structure reference (or, with
 * --write-reference, written as the reference).
 */
export async function structureStage(t: TargetedDrill): Promise<void> {
  const { pipe, opts, conn } = t;
  const write = opts.writeReference;
  const reference = opts.config.structure?.reference;
  if (write) {
    await pipe.stage('structure', async () => {
      const lines = await withClient(conn, structureLines);
      const title = `structure of ${t.result.backup?.name ?? 'the restored backup'}`;
      fs.writeFileSync(write, renderReference(lines, title));
      return {};
    });
  } else if (!reference) pipe.skip('structure', 'no structure reference in config');
  else await pipe.stage('structure', () => compareReference(t, reference));
}

async function compareReference(t: TargetedDrill, reference: string): Promise<StageOutcome> {
  const base = t.opts.configPath ? path.dirname(path.resolve(t.opts.configPath)) : process.cwd();
  const file = path.resolve(base, reference);
  if (!fs.existsSync(file)) {
    return {
      notRun: `the structure reference ${reference} does not exist; write it with restorable drill --write-reference ${reference}`,
    };
  }
  const actual = await withClient(t.conn, structureLines);
  const { missing, unexpected } = diffStructure(parseReference(fs.readFileSync(file, 'utf8')), actual);
  const findings: Finding[] = [];
  const list = (xs: string[]) =>
    xs.slice(0, 5).join('; ') + (xs.length > 5 ? `; and ${xs.length - 5} more` : '');
  if (missing.length) {
    findings.push(
      finding(
        'STRUCTURE_MISSING',
        'structure',
        `${missing.length} object(s) of the reference are missing or differ: ${list(missing)}`,
        { evidence: { missing: missing.length } },
      ),
    );
  }
  if (unexpected.length) {
    findings.push(
      finding(
        'STRUCTURE_UNEXPECTED',
        'structure',
        `${unexpected.length} object(s) are not in the reference: ${list(unexpected)}`,
        { evidence: { unexpected: unexpected.length } },
      ),
    );
  }
  return { findings };
}
