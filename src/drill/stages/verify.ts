import type { EarlyFacts } from '../../archive/inspect.js';
import { UNSAFE_RULES } from '../../archive/plain.js';
import { verifyStages } from '../../backup/verify.js';
import { UserError } from '../../core/errors.js';
import { DRILL_STAGES, type DrillContext, type VerifiedDrill } from '../context.js';
import { startEarly } from '../scratch.js';
import { drillDatabaseName } from '../target.js';

/**
 * Verify findings that make a restore pointless (the bytes are wrong or absent) or unsafe (the dump
 * would act outside its database): nothing of the dump is run.
 */
const BLOCKING = new Set([
  ...UNSAFE_RULES,
  'BACKUP_MISSING',
  'FETCH_FAILED',
  'ARCHIVE_UNREADABLE',
  'ARCHIVE_CORRUPT',
  'DUMP_SERVER_ACCESS',
  'CHECKSUM_MISMATCH',
  'FORMAT_UNSUPPORTED',
  'COMPRESSION_CORRUPT',
  'ARCHIVE_TRUNCATED',
  'VERSION_UNSUPPORTED',
  'DISK_FULL',
]);

function safeDbName(name: string | undefined): string {
  return name &&
    /^[A-Za-z_][\w$-]{0,62}$/.test(name) &&
    !['postgres', 'template0', 'template1'].includes(name)
    ? name
    : 'restorable_drill';
}

/**
 * A scratch target's start from the dump's header, as soon as the read has it: it runs while the
 * rest of the backup is read, and the target stage takes it. Not for target-url (it creates nothing
 * until the target stage), and only once.
 */
function earlyStart(ctx: DrillContext): ((f: EarlyFacts) => void) | undefined {
  if (ctx.opts.targetUrl) return undefined;
  return (f) => {
    if (!ctx.early) ctx.early = startEarly(ctx.opts, f.serverVersion, ctx.log);
  };
}

/**
 * Every verify stage (the schema replay skipped: the restore loads the whole dump instead). A backup
 * that did not verify skips the rest of the drill; a sample of tables the dump has no rows for
 * would check nothing, so it is refused before any target exists.
 */
export async function verifyBackup(ctx: DrillContext): Promise<VerifiedDrill | undefined> {
  const { pipe, opts, result } = ctx;
  const state = await verifyStages(
    pipe,
    opts.verify,
    ctx.log,
    ctx.work,
    'the restore stage loads the whole dump instead',
    earlyStart(ctx),
  );
  result.source = state.source;
  if (state.backup) result.backup = state.backup;
  const ins = state.inspection;
  const blocking = pipe.findings.filter((f) => BLOCKING.has(f.rule));
  const localPath = state.backup?.localPath;
  if (!ins || !state.backup || !localPath || blocking.length > 0) {
    const why = blocking[0] ? `the backup did not verify (${blocking[0].rule})` : 'no backup to restore';
    for (const s of DRILL_STAGES) pipe.skip(s, why);
    return undefined;
  }
  const backup = { ...state.backup, localPath };
  const dumped = ins.toc?.dataTables;
  const unknown =
    opts.tier === 'sample' && dumped ? opts.sampleTables.filter((t) => !dumped.includes(t)) : [];
  if (unknown.length > 0) {
    throw new UserError(
      opts.sampleInput,
      `names ${unknown.join(', ')}, which ${backup.name} has no rows for`,
      `Name tables as schema.table, as pg_restore --list shows them; this dump has rows for ${dumped?.slice(0, 12).join(', ')}${(dumped?.length ?? 0) > 12 ? ', ...' : ''}`,
    );
  }
  const database = opts.targetUrl ? drillDatabaseName() : safeDbName(ins.header?.database);
  return Object.assign(ctx, { ins, backup, database });
}
