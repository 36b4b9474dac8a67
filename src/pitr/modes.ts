import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/log.js';
import type { PgBinary } from '../postgres/binaries.js';
import { type ConnInfo, maskedUrl, waitForConnections } from '../postgres/client.js';
import { freePort, labelFolder, removeCluster, ScratchCluster, scratchFolder } from '../postgres/cluster.js';
import { controlData, ownedLog } from '../postgres/recovery.js';
import type { Finding } from '../report/findings.js';
import type { Pipeline } from '../report/stages.js';
import { lastingSettings } from './clone.js';
import {
  beginInPlace,
  handOver,
  type InPlace,
  markHistoryReady,
  preparePrivate,
  privateConn,
  privateOptions,
  rehome,
  rollBack,
  stopProduction,
} from './in-place.js';
import {
  pausePoint,
  putBackSync,
  servedTablespaces,
  tablespaceRoot,
  undoServedCommand,
  writeJournal,
} from './journal.js';
import type { InPlaceOptions, Mode, RecoverOptions } from './options.js';
import type { PitrResult } from './result.js';

/** A drill's recovered cluster is thrown away: replay need not be crash-safe. */
export const DRILL_RECOVERY_TUNING: Record<string, string> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  autovacuum: 'off',
};

/** What every stage shares: the run's options, report and log, and the server's OS user. */
export interface RunBase<O> {
  opts: O;
  pipe: Pipeline;
  result: PitrResult;
  log: Logger;
  osUser: string | undefined;
  owner: { uid: number; gid: number } | undefined;
  /** The run's time stamp, in the names of the folders beside a data directory. */
  ts: string;
}

/** A run that recovers (not a plan): what the modes and the stages after the plan are given. */
export type RunContext = RunBase<RecoverOptions>;

/**
 * Where and how a recovery runs, and what happens around it: a drill in a scratch cluster, a
 * side-by-side clone left running, or in place behind the journal. The pipeline (run.ts) calls
 * these in order: beforeFetch, onBinary, then fetched or abandon; serverSettings, settle, hbaRules
 * (prepareServer); beforeReplay, recoveryOptions, logFile, then promoting and promoted, or failed
 * and cleanUp (recoverStage); connection, ready, beforeChecks, handOver, finish.
 */
export abstract class RecoveryMode {
  abstract readonly name: Mode;
  /** Where the base backup is unpacked and the recovery runs, and its WAL spool. */
  abstract readonly dataDir: string;
  abstract readonly spoolDir: string;
  /** The recovered server's own socket folder, when it has one reachable after the run. */
  readonly socketDir: string | undefined = undefined;
  /** The recovered server's port for clients (none in place: its port is private). */
  port: number | undefined;
  protected settings: Record<string, string> = {};

  constructor(protected readonly ctx: RunContext) {}

  /** Before the fetch. */
  async beforeFetch(): Promise<void> {}
  /** The binaries of the backup's major are known. */
  onBinary(_bin: PgBinary): void {}
  /** The base backup is restored and its server is `server`. */
  fetched(_server: PgBinary): void {}
  /** The fetch failed: undo what was made, say what stands. */
  abstract abandon(): Promise<void>;

  /** The settings only this mode's server has (port, listener, tuning). */
  async serverSettings(): Promise<Record<string, string>> {
    this.port = this.ctx.opts.port ?? (await freePort());
    return {
      port: String(this.port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: this.socketDir as string,
      // Ours (auth.ts), wherever the backup's postgresql.conf points hba_file (Debian: /etc/...).
      hba_file: path.join(this.dataDir, 'pg_hba.conf'),
      logging_collector: 'off',
    };
  }
  /** The server's settings are final; what outlives recovery is kept from them. */
  settle(settings: Record<string, string>): Record<string, string> {
    this.settings = settings;
    return lastingSettings(this.name, settings);
  }
  /** Before replay starts; a finding stops the run there. */
  async beforeReplay(): Promise<Finding | undefined> {
    return undefined;
  }
  /** Options for this start of the recovery only (not written to its configuration). */
  recoveryOptions(): Record<string, string> | undefined {
    return undefined;
  }
  /** The recovered server's log: beside the data directory the run was given. */
  abstract logFile(): string;
  /** Recovery reached its target and the server promoted (before its settings are settled). */
  async promoting(): Promise<void> {}
  /** Recovery promoted and its settings are settled. */
  promoted(_placeholders: string[]): void {}
  /** The recovered server runs, proven or not yet: the checks come next. */
  ready(_server: PgBinary): void {}
  /** Recovery failed for `why`, its server stopped: what undoing it found. */
  failed(_why: string): Finding[] {
    return [];
  }
  /** How the checks reach the recovered server. */
  connection(_named: ConnInfo | undefined): ConnInfo {
    return {
      host: this.socketDir as string,
      port: this.port as number,
      user: 'postgres',
      database: 'postgres',
    };
  }
  /** Before the checks run on `conn`. */
  async beforeChecks(_conn: ConnInfo): Promise<void> {}
  /** After the checks: hand the recovery over (in place only). */
  async handOver(_server: PgBinary): Promise<void> {}
  /** The last stage after a recovery that reached its target: tear down, or say where it runs. */
  abstract finish(conn: ConnInfo): Promise<void>;
  /** The teardown after a recovery that did not reach its target (its server is stopped). */
  async cleanUp(): Promise<void> {}
}

/** A drill: a scratch cluster on a free port, torn down after (or kept for later steps). */
class DrillMode extends RecoveryMode {
  readonly name = 'drill' as const;
  readonly root: string;
  private adopted: ScratchCluster | undefined;
  readonly dataDir: string;
  readonly spoolDir: string;
  override readonly socketDir: string;

  constructor(ctx: RunContext) {
    super(ctx);
    this.root = scratchFolder('pitr', ctx.osUser);
    this.dataDir = path.join(this.root, 'data');
    this.spoolDir = path.join(this.root, 'spool');
    this.socketDir = path.join(this.root, 'socket');
  }
  override onBinary(bin: PgBinary): void {
    labelFolder(this.root, bin, this.ctx.osUser, 'pitr');
  }
  /** Unlabelled, no server ever ran in it; one whose server would not stop is left, and said so. */
  private async cleanup(): Promise<void> {
    const removed = await removeCluster(this.root).catch((e: Error) => {
      this.ctx.log.warn(e.message);
      return true;
    });
    if (!removed) fs.rmSync(this.root, { recursive: true, force: true });
    ScratchCluster.abandon(this.root);
  }
  async abandon(): Promise<void> {
    await this.cleanup();
  }
  override async serverSettings(): Promise<Record<string, string>> {
    return { ...(await super.serverSettings()), ...DRILL_RECOVERY_TUNING };
  }
  override logFile(): string {
    return path.join(this.root, 'server.log');
  }
  override ready(server: PgBinary): void {
    this.adopted = ScratchCluster.adopt(
      this.root,
      this.port as number,
      server,
      this.ctx.osUser,
      this.settings,
    );
    this.ctx.log.secret(this.adopted.secret());
  }
  /** The recovered superuser's password over TCP is the drill's own, once the server takes writes. */
  override async beforeChecks(conn: ConnInfo): Promise<void> {
    await waitForConnections(conn);
    await (this.adopted as ScratchCluster).lockTcp(conn).catch((e: Error) => {
      this.ctx.log.warn(
        `the recovered copy's ${conn.user} got no password of the drill's own (over TCP only the backup's own passwords work): ${e.message}`,
      );
    });
  }
  override async cleanUp(): Promise<void> {
    await this.cleanup();
  }
  async finish(): Promise<void> {
    const { opts, pipe, result } = this.ctx;
    const adopted = this.adopted as ScratchCluster;
    if (opts.keep) {
      result.handle = adopted.detach();
      result.databaseUrl = adopted.shownUrl();
      pipe.skip(
        'teardown',
        `keep: the recovered cluster stays up (remove it with: restorable clean --root ${result.handle})`,
      );
      return;
    }
    await pipe.stage('teardown', async () => {
      await adopted.stop();
      await this.cleanup();
      return {};
    });
  }
}

/** Side by side: a clone in an empty folder, on its own port and socket, left running. */
class SideBySideMode extends RecoveryMode {
  readonly name = 'side-by-side' as const;
  readonly dataDir: string;
  readonly spoolDir: string;
  override readonly socketDir: string;

  constructor(ctx: RunContext, dataDirectory: string) {
    super(ctx);
    this.dataDir = dataDirectory;
    this.spoolDir = `${this.dataDir}.restorable-spool-${ctx.ts}`;
    this.socketDir = `${this.dataDir}.restorable-socket`;
  }
  /** Whether the (empty) folder the Barman backends restore tablespaces into was there before the fetch. */
  private tablespacesBefore = true;

  logFile(): string {
    return besideLog(this.ctx, this.dataDir);
  }
  override async beforeFetch(): Promise<void> {
    this.tablespacesBefore = fs.existsSync(tablespaceRoot(this.dataDir));
  }
  /**
   * What we put into the empty folders is ours to remove: the tablespace folder if we made it, else
   * what is in it (it was empty: see checkCloneTarget).
   */
  async abandon(): Promise<void> {
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    const tablespaces = tablespaceRoot(this.dataDir);
    if (!this.tablespacesBefore) fs.rmSync(tablespaces, { recursive: true, force: true });
    else if (fs.existsSync(tablespaces))
      for (const n of fs.readdirSync(tablespaces, { withFileTypes: true }))
        fs.rmSync(path.join(tablespaces, n.name), { recursive: true, force: true });
  }
  async finish(conn: ConnInfo): Promise<void> {
    const { pipe, result } = this.ctx;
    result.databaseUrl = maskedUrl(conn);
    result.next.push(
      `The recovered copy runs on port ${this.port} (data ${this.dataDir}, socket ${this.socketDir}). Copy the rows you need back, then stop it: pg_ctl stop -D ${this.dataDir}`,
    );
    pipe.skip('teardown', 'side-by-side: the recovered server stays up');
  }
}

/**
 * In place: the recovery runs private in a staging folder beside production's, behind the journal;
 * production is stopped only for replay and handed the recovered folder once it is proven.
 */
class InPlaceMode extends RecoveryMode {
  readonly name = 'in-place' as const;
  readonly dataDir: string;
  readonly spoolDir: string;
  readonly ip: InPlace;
  private readonly live: string;
  private privatePort: number | undefined;

  constructor(
    ctx: RunContext,
    opts: InPlaceOptions,
    private readonly liveBin: PgBinary,
  ) {
    super(ctx);
    this.live = opts.dataDirectory;
    this.dataDir = `${this.live}.restorable-restore-${ctx.ts}`;
    this.spoolDir = `${this.live}.restorable-spool-${ctx.ts}`;
    // The journal and the put-back on a signal, before anything is fetched.
    const paths = { staging: this.dataDir, spool: this.spoolDir, ts: ctx.ts };
    this.ip = beginInPlace(opts, liveBin, ctx.osUser, paths, ctx.log);
  }
  logFile(): string {
    return besideLog(this.ctx, this.live);
  }
  override async beforeFetch(): Promise<void> {
    await pausePoint('fetch');
  }
  override fetched(server: PgBinary): void {
    this.ip.journal.serverBin = server.dir;
    writeJournal(this.ip.journal);
  }
  /** The attempt is removed, and its tablespaces with it. */
  async abandon(): Promise<void> {
    for (const d of [this.dataDir, tablespaceRoot(this.dataDir)])
      fs.rmSync(d, { recursive: true, force: true });
    putBackSync(this.ip.journal, true);
    this.ip.release();
  }
  override async serverSettings(): Promise<Record<string, string>> {
    this.privatePort = await freePort();
    preparePrivate(this.ip, this.ctx.owner);
    return {};
  }
  override async beforeReplay(): Promise<Finding | undefined> {
    const { result } = this.ctx;
    const notStopped = await stopProduction(this.ip);
    if (notStopped) {
      putBackSync(this.ip.journal, true);
      this.ip.release();
      result.next.push('Nothing was changed: production runs as before.');
      return notStopped;
    }
    // Production's last write is its shutdown checkpoint: what the rollback discards ends there.
    const cd = await controlData(this.liveBin, this.ip.journal.live);
    const at = Date.parse(cd['Time of latest checkpoint'] ?? '');
    result.discarded = {
      ...(Number.isFinite(at) ? { until: new Date(at).toISOString() } : {}),
      ...(cd['Latest checkpoint location'] ? { lsn: cd['Latest checkpoint location'] } : {}),
    };
    await pausePoint('replay');
    return undefined;
  }
  override recoveryOptions(): Record<string, string> {
    return privateOptions(this.ip, this.privatePort as number);
  }
  override async promoting(): Promise<void> {
    // The staging copy has promoted itself; the journal still says production is stopped.
    await pausePoint('promote');
  }
  override promoted(placeholders: string[]): void {
    const history = markHistoryReady(this.dataDir, this.ctx.owner);
    if (history) this.ctx.result.history = history;
    // Debian's layout keeps its configuration in /etc: the empty files recovery needed go.
    if (this.ip.debian) for (const f of placeholders) fs.rmSync(f, { force: true });
    rehome(this.ip);
    writeJournal(this.ip.journal, 'promoted');
  }
  override failed(why: string): Finding[] {
    return [rollBack(this.ip, why, this.ctx.result.next)];
  }
  override connection(named: ConnInfo | undefined): ConnInfo {
    return privateConn(this.ip, this.privatePort as number, named);
  }
  override async beforeChecks(conn: ConnInfo): Promise<void> {
    await waitForConnections(conn);
    await pausePoint('verify');
  }
  override async handOver(server: PgBinary): Promise<void> {
    const { pipe, result, log } = this.ctx;
    await pipe.stage('handover', async () => {
      const unrun = pipe.stages.find((x) => x.name === 'checks' && x.status === 'not-run');
      if (unrun)
        return {
          findings: [rollBack(this.ip, `the checks could not run (${unrun.reason ?? ''})`, result.next)],
        };
      if (pipe.verdict() === 'fail') {
        const why = pipe.findings.find((f) => f.severity !== 'info')?.rule ?? 'a check failed';
        return {
          findings: [rollBack(this.ip, `the recovered copy did not pass its checks (${why})`, result.next)],
        };
      }
      const h = await handOver(this.ip, server, log, result.next);
      if (h.downtimeSeconds !== undefined) result.downtimeSeconds = Math.round(h.downtimeSeconds * 10) / 10;
      if (h.findings.length === 0) result.safetySnapshot = this.ip.journal.safety;
      return { findings: h.findings };
    });
  }
  async finish(): Promise<void> {
    const { pipe, result } = this.ctx;
    if (!result.safetySnapshot) {
      pipe.skip('teardown', 'in-place: production runs on its original data');
      return;
    }
    result.next.push(
      `Production now runs on the recovered data${servedTablespaces(this.ip.journal)}. The previous data directory is kept at ${result.safetySnapshot} (never deleted by Restorable): remove it only when you are sure. ${undoServedCommand(this.ip.journal)}.`,
      'Take a fresh base backup now (seed 001 §2.5): the recovery started a new timeline, and older backups lead elsewhere.',
      `archive_mode is off in the recovered server (postgresql.auto.conf): once the new base backup is planned, ALTER SYSTEM RESET archive_mode and restart${result.history ? `; the new timeline's history file ${result.history} is marked ready, so the archiver sends it first` : ''}.`,
    );
    pipe.skip('teardown', 'in-place: the recovered server stays up');
  }
}

/** The mode the options ask for; in place, `liveBin` is production's server binaries. */
export function recoveryMode(ctx: RunContext, liveBin: PgBinary | undefined): RecoveryMode {
  const { opts } = ctx;
  if (opts.mode === 'drill') return new DrillMode(ctx);
  if (opts.mode === 'side-by-side') return new SideBySideMode(ctx, opts.dataDirectory);
  return new InPlaceMode(ctx, opts, liveBin as PgBinary);
}

/** A clone's or an in-place recovery's server log, beside the data directory it was given. */
function besideLog(ctx: RunContext, dataDirectory: string): string {
  return ownedLog(`${dataDirectory}.restorable-recovery-${ctx.ts}.log`, ctx.owner);
}
