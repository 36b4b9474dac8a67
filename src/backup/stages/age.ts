import { finding } from '../../report/findings.js';
import type { LocatedBackup } from '../context.js';
import { hours } from './locate.js';

/** The age stage: the backup's time (from its name, else its modification time) against max-age. */
export async function ageStage(b: LocatedBackup): Promise<void> {
  const { opts, backup, facts, ageMs } = b;
  await b.pipe.stage('age', async () => {
    if (ageMs <= opts.maxAgeSeconds * 1000) return {};
    return {
      findings: [
        finding(
          'BACKUP_TOO_OLD',
          'age',
          `the newest backup, ${backup.name}, is ${facts.ageHours} hours old (max-age is ${hours(opts.maxAgeSeconds * 1000)} hours; time from its ${backup.timeFrom === 'name' ? 'name' : 'modification time'})`,
          { evidence: { ageHours: facts.ageHours, maxAgeHours: hours(opts.maxAgeSeconds * 1000) } },
        ),
      ],
    };
  });
}
