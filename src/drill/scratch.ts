import type { Inspection } from '../archive/inspect.js';
import { serverMissing } from '../backup/tools.js';
import { scratchDiskFull, startedOutOfSpace } from '../core/disk.js';
import { errorMessage, ToolMissingError, UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { majorOf } from '../postgres/binaries.js';
import { ScratchCluster } from '../postgres/cluster.js';
import { type Finding, finding } from '../report/findings.js';
import type { DrillOptions } from './options.js';
import { chooseServer, type ServerChoice } from './server.js';
import { type DrillTarget, scratchTarget } from './target.js';

/** A target the drill opened, with what it found along the way. */
export interface Opened {
  target: DrillTarget;
  /** Found along the way (TARGET_VERSION_NEWER). */
  findings: Finding[];
  source?: ServerChoice['source'];
  rehearsalFrom?: number;
}

/** A scratch cluster of the dump's major (or the one restore-into names), started and ready. */
export async function openScratch(
  opts: DrillOptions,
  ins: Pick<Inspection, 'serverVersion'>,
  log: Logger,
): Promise<Opened | { findings: Finding[] }> {
  const dumpMajor = majorOf(ins.serverVersion ?? '') ?? 0;
  try {
    const server = await chooseServer({
      into: opts.restoreInto,
      dumpMajor,
      ...(opts.verify.pgBinDir ? { binDir: opts.verify.pgBinDir } : {}),
      embedded: opts.embedded,
      input: opts.restoreIntoInput,
      log,
    });
    const cluster = await ScratchCluster.start({
      bin: server.bin,
      ...(opts.osUser ? { osUser: opts.osUser } : {}),
      label: 'drill',
      logger: log,
    });
    return {
      target: scratchTarget(cluster),
      findings: server.findings,
      source: server.source,
      ...(server.rehearsalFrom ? { rehearsalFrom: server.rehearsalFrom } : {}),
    };
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (e instanceof ToolMissingError && opts.restoreInto !== 'same') {
      const message = `restore-into asks for ${e.tool}, and there is none`;
      return {
        findings: [finding('VERSION_UNSUPPORTED', 'target', message, { fix: `Install it: ${e.install}` })],
      };
    }
    if (e instanceof ToolMissingError)
      return { findings: [await serverMissing(ins, opts.verify.pgBinDir, 'target', e)] };
    if (startedOutOfSpace(e))
      return { findings: [scratchDiskFull('target', 'a scratch cluster', errorMessage(e))] };
    const message = `could not start a scratch PostgreSQL: ${errorMessage(e)}`;
    return { findings: [finding('TARGET_FAILED', 'target', message)] };
  }
}

type Settled = { opened: Opened | { findings: Finding[] } } | { error: unknown };

/**
 * A scratch cluster started from the dump's header while the rest of the backup is still read. The
 * target stage takes it (takeEarly); a drill whose backup did not verify, or that stops before its
 * target stage, discards it (discardEarly). Its cluster has ScratchCluster's cancel hooks from the
 * moment it exists, as any scratch cluster.
 */
export interface EarlyTarget {
  /** When it began and when it settled (performance.now()), for the target stage's own time. */
  readonly began: number;
  settledAt?: number;
  readonly settled: Promise<Settled>;
}

export function startEarly(opts: DrillOptions, serverVersion: string | undefined, log: Logger): EarlyTarget {
  const began = performance.now();
  log.debug('starting the scratch cluster while the backup is read');
  const early: { began: number; settledAt?: number; settled?: Promise<Settled> } = { began };
  early.settled = openScratch(opts, serverVersion ? { serverVersion } : {}, log)
    .then(
      (opened): Settled => ({ opened }),
      (error: unknown): Settled => ({ error }),
    )
    .finally(() => {
      early.settledAt = performance.now();
    });
  return early as EarlyTarget;
}

/** What the early start opened, for the target stage: its errors thrown there, as if it ran there. */
export async function takeEarly(early: EarlyTarget): Promise<Opened | { findings: Finding[] }> {
  const s = await early.settled;
  if ('error' in s) throw s.error;
  return s.opened;
}

/** Seconds of the early start's work done before `since` (the target stage's own, overlapped). */
export function earlySeconds(early: EarlyTarget, since: number): number {
  return Math.max(0, Math.min(early.settledAt ?? since, since) - early.began) / 1000;
}

/** An early target that no stage took: its cluster stopped and removed (a failure is said, not thrown). */
export async function discardEarly(early: EarlyTarget, log: Logger): Promise<void> {
  const s = await early.settled;
  if (!('opened' in s) || !('target' in s.opened)) return;
  try {
    await s.opened.target.teardown('');
  } catch (e) {
    log.warn(
      `the scratch cluster started early was not removed (restorable clean removes it): ${errorMessage(e)}`,
    );
  }
}
