import { finding } from '../../report/findings.js';
import type { ReadBackup } from '../context.js';

/** The checksum stage: the digest the read computed against the one expected (none: CHECKSUM_UNVERIFIED). */
export async function checksumStage(b: ReadBackup): Promise<void> {
  const { opts, ins, backup, expected } = b;
  if (opts.checksum.mode === 'skip') {
    b.pipe.skip('checksum', 'checksum: skip');
    return;
  }
  await b.pipe.stage('checksum', async () => {
    if (!expected) {
      const required = opts.checksum.mode === 'required';
      const message =
        ins.format === 'directory'
          ? 'a directory-format dump has no single checksum to compare'
          : `no checksum found for ${backup.name}: no ${backup.name}.sha256 or .md5 beside it, no sha256/md5 object metadata`;
      return {
        note: ins.format === 'directory' ? 'none (a directory dump is many files)' : 'none found',
        findings: [finding('CHECKSUM_UNVERIFIED', 'checksum', message, required ? { severity: 'high' } : {})],
      };
    }
    const actual = expected.algorithm === 'sha256' ? ins.sha256 : ins.md5;
    const matched = actual === expected.value;
    b.facts.checksum = { algorithm: expected.algorithm, from: expected.from, matched };
    if (matched) return {};
    return {
      findings: [
        finding(
          'CHECKSUM_MISMATCH',
          'checksum',
          `${expected.algorithm} of ${backup.name} is ${actual}, but ${expected.from} says ${expected.value}`,
          {
            evidence: {
              algorithm: expected.algorithm,
              expected: expected.value,
              actual: actual ?? null,
              from: expected.from,
            },
          },
        ),
      ],
    };
  });
}
