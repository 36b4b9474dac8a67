import { errorMessage, UserError } from '../../core/errors.js';
import { type Finding, finding } from '../../report/findings.js';
import { FetchError } from '../../sources/s3.js';
import { type Candidate, candidates, choose } from '../../sources/select.js';
import type { BackupObject, BackupSource } from '../../sources/types.js';
import type { BackupFacts, LocatedBackup, VerifyContext } from '../context.js';

export const hours = (ms: number) => Math.round((ms / 3_600_000) * 100) / 100;

export function fetchFailed(stage: string, e: unknown, source: BackupSource): Finding[] {
  return [
    finding(
      'FETCH_FAILED',
      stage,
      e instanceof FetchError ? e.message : `${source.description}: ${errorMessage(e)}`,
    ),
  ];
}

/**
 * The locate stage: the source listed, and the backup chosen among the candidates (the newest, or
 * the one named by select). None skips every later stage.
 */
export async function locateStage(ctx: VerifyContext): Promise<LocatedBackup | undefined> {
  const { opts, source, state, pipe } = ctx;
  let all: BackupObject[] = [];
  let chosen: Candidate | undefined;
  const located = await pipe.stage('locate', async () => {
    try {
      all = await source.list();
    } catch (e) {
      if (e instanceof UserError) throw e;
      return { findings: fetchFailed('locate', e, source) };
    }
    // A source that names one file is that backup, whatever its name looks like.
    const single = source.single;
    const list =
      single && !opts.pattern
        ? candidates(
            all.filter((o) => o.name === single),
            '*',
          )
        : candidates(all, opts.pattern);
    state.candidates = list.length;
    chosen = choose(list, opts.select);
    if (chosen) {
      ctx.log.info(`backup: ${chosen.name} (${list.length} candidate${list.length === 1 ? '' : 's'})`);
      return {};
    }
    const what = opts.pattern ? `matching "${opts.pattern}"` : 'that looks like a dump';
    const message =
      opts.select !== 'latest' && list.length > 0
        ? `no backup named "${opts.select}" under ${source.description}; the newest is ${list[0]?.name}`
        : `no backup ${what} under ${source.description} (${all.length} object${all.length === 1 ? '' : 's'} there)`;
    return {
      findings: [finding('BACKUP_MISSING', 'locate', message, { evidence: { objects: all.length } })],
    };
  });
  if (!chosen) {
    const why =
      located.status === 'not-run' || located.findings.some((f) => f.rule === 'FETCH_FAILED')
        ? 'the source could not be listed'
        : 'no backup was found';
    for (const s of ['age', 'retention', 'read', 'checksum', 'archive', 'schema']) pipe.skip(s, why);
    return undefined;
  }
  const backup = chosen;
  const ageMs = ctx.now.getTime() - backup.time.getTime();
  const facts: BackupFacts = {
    name: backup.name,
    time: backup.time.toISOString(),
    timeFrom: backup.timeFrom,
    ageHours: hours(ageMs),
    sizeBytes: backup.size,
  };
  state.backup = facts;
  return Object.assign(ctx, { all, backup, facts, ageMs });
}
