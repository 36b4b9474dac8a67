import { formatSeconds } from '../../core/duration.js';
import { errorMessage } from '../../core/errors.js';
import { type RunResult, run, userCommandEnv } from '../../core/exec.js';
import { libpqEnv } from '../../postgres/client.js';
import { type Finding, finding } from '../../report/findings.js';
import type { MigrateContext, Snapshot } from '../context.js';
import { LockSampler } from '../sampler.js';

/** PostgreSQL's DETAIL lines (and a few others) can quote row values: a report never carries them. */
const ROW_VALUES = /DETAIL:|Failing row contains|Key \(.*\)=\(/;

/** The last lines of the command's stderr, fit for a report: secrets masked, row values withheld. */
export function stderrTail(stderr: string, secrets: string[], lines = 12, chars = 1500): string {
  let text = stderr;
  for (const s of secrets.filter(Boolean).sort((a, b) => b.length - a.length))
    text = text.split(s).join('***');
  const kept = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .map((l) => (ROW_VALUES.test(l) ? '[a line that may quote row values, withheld]' : l))
    .slice(-lines)
    .join('\n');
  return kept.length > chars ? `…${kept.slice(kept.length - chars)}` : kept;
}

/** What the migrate stage leaves for the locks stage: its sampler, or why there was none. */
export interface Migrated {
  sampler: LockSampler;
  samplerError?: string;
}

/**
 * The migrate stage: the migrate command run in its own process group, with the database's libpq
 * variables and DATABASE_URL, while the lock sampler watches pg_locks. Undefined when it did not run.
 */
export async function migrateStage(ctx: MigrateContext, before: Snapshot): Promise<Migrated | undefined> {
  const { opts, conn, log } = ctx;
  const migrated: Migrated = { sampler: new LockSampler(conn, before.relations, opts.sampleMs) };
  let ran = false;
  await ctx.pipe.stage('migrate', async () => {
    try {
      await migrated.sampler.start();
    } catch (e) {
      migrated.samplerError = `the lock sampler could not connect: ${errorMessage(e)}`;
    }
    let res: RunResult;
    try {
      log.info(`running the migrate command in ${opts.cwd}`);
      res = await run('sh', ['-c', opts.command], {
        cwd: opts.cwd,
        env: userCommandEnv({ ...libpqEnv(conn), DATABASE_URL: opts.databaseUrl }),
        timeoutMs: opts.timeoutSeconds * 1000,
        onStderrLine: (l) => log.info(`migrate: ${l}`),
        maxCapture: 256 * 1024,
        group: true,
      });
    } finally {
      await migrated.sampler.stop();
    }
    ran = true;
    for (const l of res.stdout.split('\n').filter(Boolean).slice(-200)) log.info(`migrate: ${l}`);
    return { findings: commandFindings(ctx, res) };
  });
  return ran ? migrated : undefined;
}

/** How the command ended, in the result; MIGRATION_FAILED and MIGRATION_SLOW when they apply. */
function commandFindings(ctx: MigrateContext, res: RunResult): Finding[] {
  const { opts, result, conn } = ctx;
  result.exitCode = res.code;
  if (res.signal) result.signal = res.signal;
  result.migrateSeconds = Math.round(res.seconds * 100) / 100;
  const findings: Finding[] = [];
  if (res.code !== 0) {
    const timedOut = res.signal !== null && res.seconds >= opts.timeoutSeconds - 0.5;
    const how = timedOut
      ? `was stopped after the timeout of ${formatSeconds(opts.timeoutSeconds)}`
      : res.signal
        ? `was killed by ${res.signal}`
        : `exited ${res.code}`;
    const secrets = conn.password ? [opts.databaseUrl, conn.password, encodeURIComponent(conn.password)] : [];
    const tail = stderrTail(res.stderr, secrets);
    if (tail) result.stderrTail = tail;
    findings.push(
      finding(
        'MIGRATION_FAILED',
        'migrate',
        `the migrate command ${how} after ${formatSeconds(res.seconds)}${tail ? `; the end of its stderr:\n${tail}` : ' with nothing on stderr'}`,
        { evidence: { exitCode: res.code, signal: res.signal, seconds: result.migrateSeconds } },
      ),
    );
  }
  if (opts.maxMigrationSeconds !== undefined && res.seconds > opts.maxMigrationSeconds) {
    findings.push(
      finding(
        'MIGRATION_SLOW',
        'migrate',
        `the migration took ${formatSeconds(res.seconds)}, over max-migration-seconds (${formatSeconds(opts.maxMigrationSeconds)})`,
        { evidence: { seconds: result.migrateSeconds, limit: opts.maxMigrationSeconds } },
      ),
    );
  }
  return findings;
}
