import { formatSeconds } from '../../core/duration.js';
import { type Finding, finding } from '../../report/findings.js';
import type { MigrateContext } from '../context.js';
import type { Migrated } from './migrate.js';

/** The locks stage: the longest ACCESS EXCLUSIVE lock per table, held to max-lock-seconds. */
export async function locksStage(ctx: MigrateContext, { sampler, samplerError }: Migrated): Promise<void> {
  const { result } = ctx;
  await ctx.pipe.stage('locks', async () => {
    result.locks = sampler.result();
    result.lockSamples = sampler.samples;
    const why = samplerError ?? (sampler.error ? `the lock sampler stopped: ${sampler.error}` : undefined);
    if (why) return { notRun: why };
    const findings: Finding[] = [];
    const limit = ctx.opts.maxLockSeconds;
    for (const l of result.locks) {
      if (limit === undefined || l.seconds <= limit) continue;
      findings.push(
        finding(
          'LOCK_HELD_TOO_LONG',
          'locks',
          `an ACCESS EXCLUSIVE lock on ${l.table} was held for ${formatSeconds(l.seconds)}, over max-lock-seconds (${formatSeconds(limit)}): every read and write of the table waits that long`,
          { evidence: { table: l.table, seconds: l.seconds, limit } },
        ),
      );
    }
    return { findings };
  });
}
