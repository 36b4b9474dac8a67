import fs from 'node:fs';
import path from 'node:path';
import { type RunResult, run, runSync } from '../core/exec.js';

/** Is a server running on this data directory (postmaster.pid naming a live process)? */
export function postmasterAlive(dataDir: string): boolean {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!pid) return false;
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How long pg_ctl waits (`-t`, seconds) for a server to start or stop, by whose server it is. */
export const PGCTL_WAIT = {
  /** A scratch cluster, or a recovered copy: Restorable's own, small and local. */
  own: 60,
  /** Production's fast stop: the shutdown checkpoint of a large, busy server. */
  productionStop: 300,
  /** Production's start, on the recovered data or after a roll-back. */
  productionStart: 120,
  /** Production's start from a signal handler, seconds before the runner's SIGKILL. */
  signalStart: 6,
} as const;

/** `pg_ctl -o` for settings: pg_ctl hands the string to a shell, so a value is single-quoted, and one with a quote refused. */
export function serverOptions(settings: Record<string, string>): string[] {
  const parts = Object.entries(settings).map(([k, v]) => {
    if (!/^[a-z_.]+$/.test(k) || v.includes("'"))
      throw new Error(`the server setting ${k} = ${v} cannot be passed on the command line (a quote in it)`);
    return `-c ${k}='${v}'`;
  });
  return parts.length ? ['-o', parts.join(' ')] : [];
}

export interface StartOptions {
  /** The server's log file (`pg_ctl -l`). */
  log: string;
  /** Wait this many seconds for the server to accept connections, or `false`: return at once (`-W`). */
  wait?: number | false;
  /** Settings for this start only (`postgres -c`, through `-o`). */
  options?: Record<string, string>;
}

/**
 * The one way Restorable starts and stops a PostgreSQL server: `pg_ctl` of the server's own binaries
 * folder, on its data directory, as the OS user that owns it. Stops wait for the server (`-w`); a fast
 * stop waits `PGCTL_WAIT.own` unless told otherwise, an immediate one pg_ctl's own default. The
 * synchronous variants are for exit and signal handlers, where nothing asynchronous runs any more.
 */
export class PgCtl {
  constructor(
    /** The folder of pg_ctl (Restorable's own discovery, never a label's or a config's word). */
    readonly binDir: string,
    readonly dataDir: string,
    readonly osUser: string | undefined,
  ) {}

  private get pgCtl(): string {
    return path.join(this.binDir, 'pg_ctl');
  }

  private startArgs(o: StartOptions): string[] {
    const wait = o.wait ?? PGCTL_WAIT.own;
    return [
      '-D',
      this.dataDir,
      '-l',
      o.log,
      ...serverOptions(o.options ?? {}),
      ...(wait === false ? ['-W'] : ['-w', '-t', String(wait)]),
      'start',
    ];
  }

  private stopArgs(mode: 'fast' | 'immediate', waitSeconds: number | undefined): string[] {
    const wait = waitSeconds ?? (mode === 'fast' ? PGCTL_WAIT.own : undefined);
    return [
      '-D',
      this.dataDir,
      '-m',
      mode,
      '-w',
      ...(wait === undefined ? [] : ['-t', String(wait)]),
      'stop',
    ];
  }

  start(o: StartOptions): Promise<RunResult> {
    return run(this.pgCtl, this.startArgs(o), { user: this.osUser });
  }

  /** `start`, synchronously; pg_ctl itself is killed after `limitMs`. */
  startSync(o: StartOptions, limitMs: number): { code: number | null; stderr: string } {
    return runSync(this.pgCtl, this.startArgs(o), this.osUser, {}, limitMs);
  }

  stop(mode: 'fast' | 'immediate', waitSeconds?: number): Promise<RunResult> {
    return run(this.pgCtl, this.stopArgs(mode, waitSeconds), { user: this.osUser });
  }

  /** An immediate stop, synchronously: for exit and signal handlers. */
  stopSync(): void {
    runSync(this.pgCtl, this.stopArgs('immediate', undefined), this.osUser);
  }

  /** Stop the server if it runs: fast, then immediate when the fast stop failed. */
  async shutdown(): Promise<void> {
    if (!postmasterAlive(this.dataDir)) return;
    const r = await this.stop('fast');
    if (r.code !== 0) await this.stop('immediate');
  }
}
