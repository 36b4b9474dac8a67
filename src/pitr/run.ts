import { timeStamp } from '../core/duration.js';
import { errorMessage, UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { PgBinary } from '../postgres/binaries.js';
import { parseDbUrl } from '../postgres/client.js';
import { ownerOf } from '../postgres/cluster.js';
import { controlData } from '../postgres/recovery.js';
import { appendHistory, readHistory } from '../report/history.js';
import { Pipeline, type StageResult } from '../report/stages.js';
import {
  NativeBackend,
  openSource,
  PgbackrestBackend,
  type PitrBackend,
  type PlannedBackup,
} from './backends.js';
import { BarmanBackend } from './barman.js';
import { BarmanCloudBackend } from './barman-cloud.js';
import { pitrCompare } from './changes.js';
import { checkCloneFolder } from './clone.js';
import { fetchStage, serverBinary } from './fetch.js';
import { putBackSync, readJournal } from './journal.js';
import { type RunContext, recoveryMode } from './modes.js';
import { dataDirMajor } from './native.js';
import type { PitrOptions } from './options.js';
import type { PitrResult } from './result.js';
import { checksStage } from './stages/checks.js';
import { describeTarget, planStage } from './stages/plan.js';
import { prepareServer, recoverStage } from './stages/recover.js';
import type { Coverage } from './wal-archive.js';
import { WalgBackend } from './walg.js';

const PITR_STAGES = ['fetch', 'recover', 'checks', 'compare', 'teardown'];

/** The backend the options name: native folders or S3, pgBackRest, Barman (Cloud) or WAL-G. */
function openBackend(opts: PitrOptions, log: Logger, osUser: string | undefined): PitrBackend {
  if (opts.backend === 'native') {
    const binDirFor = async (major: number) => (await serverBinary(major, opts.pgBinDir)).dir;
    return new NativeBackend(
      openSource('base-backups', opts.baseBackups, opts, log),
      openSource('wal-archive', opts.walArchive, opts, log, true),
      opts.prefetch,
      binDirFor,
      log,
      opts.targetTimeline,
    );
  }
  if (opts.backend === 'wal-g') return new WalgBackend(osUser, opts.prefetch, log);
  if (opts.backend === 'barman-cloud')
    return new BarmanCloudBackend(
      {
        url: opts.barmanCloudUrl,
        server: opts.barmanServer,
        ...(opts.barmanCloudEndpoint ? { endpoint: opts.barmanCloudEndpoint } : {}),
        ...(opts.s3.region ? { region: opts.s3.region } : {}),
        ...(opts.s3.forcePathStyle !== undefined ? { forcePathStyle: opts.s3.forcePathStyle } : {}),
      },
      osUser,
      log,
      opts.targetTimeline,
    );
  if (opts.backend === 'barman')
    return new BarmanBackend(
      opts.barmanServer,
      opts.barmanConfig,
      opts.barmanUser,
      opts.target,
      opts.inclusive,
      opts.targetTimeline,
    );
  return new PgbackrestBackend(
    opts.stanza,
    opts.pgbackrestConfig,
    opts.target,
    opts.inclusive,
    osUser,
    opts.targetTimeline,
  );
}

/**
 * The interlocks, before anything else happens: in place, `confirm` must name the cluster (its
 * system identifier or pitr.name); side by side, the clone folder must be the server's user's to
 * write. In place, production's server binaries.
 */
async function interlocks(opts: PitrOptions, osUser: string | undefined): Promise<PgBinary | undefined> {
  if (opts.planOnly) return undefined;
  if (opts.mode === 'side-by-side') checkCloneFolder('data-directory', opts.dataDirectory, osUser);
  if (opts.mode !== 'in-place') return undefined;
  const dataDir = opts.dataDirectory;
  const liveBin = await serverBinary(dataDirMajor(dataDir) as number, opts.pgBinDir);
  const id = (await controlData(liveBin, dataDir))['Database system identifier'];
  const accepted = [id, opts.config.pitr?.name].filter(Boolean);
  if (!accepted.includes(opts.confirm)) {
    throw new UserError(
      'confirm',
      `"${opts.confirm}" is neither the system identifier of ${dataDir} nor pitr.name from config`,
      `Read it with pg_controldata ${dataDir} (Database system identifier) and confirm that this is the cluster to roll back`,
    );
  }
  return liveBin;
}

/**
 * pitr-restore: plan (backup, WAL coverage, before anything changes), fetch and verify the base
 * backup, recover to the target serving WAL from a prefetching spool, prove it, hand over (in
 * place) or tear down.
 */
export async function runPitr(
  opts: PitrOptions,
  log: Logger,
  onStage?: (s: StageResult) => void,
): Promise<PitrResult> {
  const pipe = Pipeline.withConfig(opts.failOn, opts.config.ignore, onStage);
  const result: PitrResult = {
    ...pipe.begin('pitr'),
    mode: opts.mode,
    backend: opts.backend,
    source: '',
    target: describeTarget(opts.target, opts.inclusive),
    next: [],
  };
  const osUser = opts.osUser ?? (process.getuid?.() === 0 ? 'postgres' : undefined);
  const base = { pipe, result, log, osUser, owner: ownerOf(osUser), ts: timeStamp() };
  const backend = openBackend(opts, log, osUser);
  result.source = backend.description;
  const liveBin = await interlocks(opts, osUser);
  const { stage, chosen, coverage } = await planStage(
    { ...base, opts },
    backend,
    opts.history ? readHistory(opts.history) : [],
  );
  if (stage.status !== 'ok' || !chosen || opts.planOnly) {
    const why = opts.planOnly
      ? 'plan-only'
      : `the plan did not pass (${stage.findings[0]?.rule ?? stage.reason ?? 'no backup'})`;
    for (const s of PITR_STAGES) pipe.skip(s, why);
    if (opts.mode === 'in-place' && !opts.planOnly)
      result.next.push('Nothing was changed: production runs as before.');
    return finish(result, pipe, opts);
  }
  try {
    await recoverStages({ ...base, opts }, backend, chosen, coverage, liveBin);
  } catch (e) {
    // In place, an error of ours must not leave production down: the journal says what to undo.
    const j = opts.mode === 'in-place' ? readJournal(opts.dataDirectory) : undefined;
    if (j && j.pid === process.pid && j.phase !== 'serving' && j.phase !== 'rolled-back')
      log.warn(`in place, after an error (${errorMessage(e)}): ${putBackSync(j, true).note}`);
    throw e;
  }
  return finish(result, pipe, opts);
}

function finish(result: PitrResult, pipe: Pipeline, opts: PitrOptions): PitrResult {
  pipe.settle(result);
  if (opts.history && !opts.planOnly) {
    appendHistory(opts.history, {
      at: result.startedAt,
      command: 'pitr',
      tier: opts.mode,
      verdict: result.verdict,
      backup: result.plan?.backup ?? '',
      ...(result.server ? { targetVersion: result.server } : {}),
      totalSeconds: result.totalSeconds,
      stages: Object.fromEntries(pipe.stages.map((s) => [s.name, Math.round(s.seconds * 100) / 100])),
      rows: result.plan?.walSegments !== undefined ? { walSegments: result.plan.walSegments } : {},
    });
  }
  return result;
}

/**
 * After the plan, the stages in order: fetch, recover, checks, compare, then the mode's hand-over
 * and teardown. The mode (drill, side-by-side, in-place) says where each runs and what undoes it.
 */
async function recoverStages(
  ctx: RunContext,
  backend: PitrBackend,
  chosen: PlannedBackup,
  coverage: Coverage | undefined,
  liveBin: PgBinary | undefined,
): Promise<void> {
  const { opts, pipe, result, log } = ctx;
  const mode = recoveryMode(ctx, liveBin);
  const handover = mode.name === 'in-place' ? ['handover'] : [];
  await mode.beforeFetch();
  const fetched = await fetchStage(pipe, opts, backend, chosen, mode.dataDir, mode.spoolDir, ctx.owner, (b) =>
    mode.onBinary(b),
  );
  const { restored, bin: server } = fetched;
  if (fetched.fetch.status !== 'ok' || !restored || !server) {
    await restored?.spool?.remove();
    restored?.cleanup?.();
    await mode.abandon();
    for (const s of [...PITR_STAGES.slice(1), ...handover])
      pipe.skip(
        s,
        `the base backup did not restore (${fetched.fetch.findings[0]?.rule ?? fetched.fetch.reason ?? ''})`,
      );
    if (mode.name === 'in-place') result.next.push('Nothing was changed: production runs as before.');
    return;
  }
  mode.fetched(server);
  result.server = server.version;
  const prepared = await prepareServer(ctx, mode, restored);
  const { stage, outcome } = await recoverStage(ctx, mode, server, restored, prepared, coverage);
  if (stage.status !== 'ok' || outcome?.status !== 'promoted') {
    for (const s of PITR_STAGES.slice(2, 4)) pipe.skip(s, 'recovery did not reach the target');
    if (handover.length)
      pipe.skip('handover', 'recovery did not reach the target: production runs on its original data');
    await pipe.stage('teardown', async () => {
      await mode.cleanUp();
      return {};
    });
    return;
  }
  // In place the checks run on the private recovery, before production is handed anything.
  const named =
    opts.mode === 'in-place' && opts.checkUrl
      ? parseDbUrl('check-url', opts.checkUrl, (s) => log.secret(s))
      : undefined;
  const conn = mode.connection(named);
  mode.ready(server);
  await mode.beforeChecks(conn);
  await checksStage(ctx, conn, outcome);
  const { summary, changes } = await pitrCompare(pipe, opts.compare, conn, log);
  if (summary) result.compare = summary;
  if (changes) result.changedSinceTarget = changes;
  await mode.handOver(server);
  await mode.finish(conn);
}

export function pitrOutputs(r: PitrResult, reportPath: string): Record<string, string> {
  return {
    verdict: r.verdict,
    'recovered-to': r.recoveredTo ?? '',
    'base-backup': r.plan?.backup ?? '',
    'wal-segments': r.plan?.walSegments !== undefined ? String(r.plan.walSegments) : '',
    'wal-range': r.plan?.walFirst ? `${r.plan.walFirst}..${r.plan.walLast}` : '',
    'rpo-seconds': r.rpoSeconds !== undefined ? String(r.rpoSeconds) : '',
    'replay-seconds': r.replaySeconds !== undefined ? r.replaySeconds.toFixed(1) : '',
    'total-seconds': r.totalSeconds.toFixed(1),
    'estimated-seconds': r.plan?.estimatedSeconds !== undefined ? String(r.plan.estimatedSeconds) : '',
    'database-url': r.databaseUrl ?? '',
    'safety-snapshot': r.safetySnapshot ?? '',
    'downtime-seconds': r.downtimeSeconds !== undefined ? r.downtimeSeconds.toFixed(1) : '',
    'discarded-until': r.discarded?.until ?? '',
    'target-name': '',
    findings: JSON.stringify(r.findings),
    report: reportPath,
  };
}
