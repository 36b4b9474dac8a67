import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Duplex, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ToolMissingError } from './errors.js';

export interface RunOptions {
  /**
   * The program's own variables (a libpq environment, ...), over the allow-listed few of ours
   * (see childEnv): nothing else of this process's environment reaches a program.
   */
  env?: Record<string, string | undefined>;
  /** Also pass these of our variables (prefixes ending in `_`, e.g. PGBACKREST_, or whole names). */
  inherit?: readonly string[];
  cwd?: string;
  /** Run as this OS user (through runuser) when the current process is root and the user differs. */
  user?: string;
  /** Data for standard input: a string, a buffer, or a stream that is piped in. */
  stdin?: string | Buffer | Readable;
  /** Kill the process (SIGTERM, then SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  /** Called for each line of standard error as it arrives (progress, classification). */
  onStderrLine?: (line: string) => void;
  /** Keep only the lines of standard error it says yes to in the result (a tool's progress left out). */
  keepStderrLine?: (line: string) => boolean;
  /** How to install the program when it is missing, for the error message. */
  install?: string;
  /** Keep at most this many bytes of each output (the tail is kept). Default 4 MiB. */
  maxCapture?: number;
  /**
   * Start the program in its own process group (a shell and all it starts): the timeout, and a
   * SIGINT or SIGTERM sent to us while it runs, reach the whole group, not only the shell.
   */
  group?: boolean;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * What of this process's environment a program gets: the search path, locale, time zone and temp
 * folder, never the rest. A runner holds the backup store's keys, a GitHub token and database
 * passwords in its environment; a scratch postmaster, psql or pg_restore running a backup's SQL has
 * no use for them (and a server's environment is readable from SQL by a superuser).
 */
const ALLOWED = /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR)$/;

export function childEnv(
  own: Record<string, string | undefined> = {},
  inherit: readonly string[] = [],
): Record<string, string> {
  const out: Record<string, string> = {};
  const passes = (k: string) =>
    ALLOWED.test(k) || inherit.some((p) => (p.endsWith('_') ? k.startsWith(p) : k === p));
  // An inherited setting that is empty is not set: GitHub Actions gives a secret or input the caller
  // did not pass as '' (an empty WALG_LIBSODIUM_KEY or AWS_SESSION_TOKEN is a setting to a tool).
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && passes(k) && (v !== '' || ALLOWED.test(k))) out[k] = v;
  for (const [k, v] of Object.entries(own)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * For the user's own commands (migrate-command, start-command, stop-command): the runner's
 * environment, less what carries Restorable's secrets and inputs (the store's keys, tokens, the
 * action's inputs, passwords). PGSERVICE too: the connection's own libpq variables already hold what
 * its service gave, and libpq would let the service's settings win over them.
 */
export function userCommandEnv(own: Record<string, string> = {}): Record<string, string> {
  const secret =
    /^(AWS_|INPUT_|ACTIONS_|GITHUB_TOKEN$|GH_TOKEN$|PGPASSWORD$|PGSERVICE$|RESTORABLE_.*(TOKEN|KEY|SECRET|PASSWORD))/;
  return childEnv(
    own,
    Object.keys(process.env).filter((k) => !secret.test(k)),
  );
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The argv that runs `cmd args` as `user`; unchanged when no switch is needed. */
export function asUser(user: string | undefined, cmd: string, args: string[]): [string, string[]] {
  if (!user || !isRoot() || user === 'root') return [cmd, args];
  return ['runuser', ['-u', user, '--', cmd, ...args]];
}

class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.limit && this.chunks.length > 1) {
      this.size -= (this.chunks.shift() as Buffer).length;
    }
  }
  toString(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

/** Standard error kept (only the lines `keepStderrLine` keeps, when given), and each line handed on. */
function stderrLines(err: TailBuffer, opts: RunOptions): { data: (b: Buffer) => void; end: () => void } {
  const { onStderrLine, keepStderrLine } = opts;
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const line = (text: string, end: string) => {
    onStderrLine?.(text);
    if (keepStderrLine?.(text)) err.push(Buffer.from(text + end));
  };
  return {
    data: (b) => {
      if (!keepStderrLine) err.push(b);
      if (!onStderrLine && !keepStderrLine) return;
      const lines = (partial + decoder.write(b)).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) line(l, '\n');
    },
    end: () => {
      partial += decoder.end();
      if (partial) line(partial, '');
    },
  };
}

/** Wait synchronously: for exit and signal handlers, where nothing asynchronous runs any more. */
export const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * A program run synchronously, as `user`: for exit and signal handlers, where nothing asynchronous
 * runs any more, and code shared with them (everywhere else, `run`). Returns the exit status and
 * the end of standard error.
 */
export function runSync(
  cmd: string,
  args: string[],
  user?: string,
  env?: Record<string, string>,
  /** Give up (SIGKILL) after this long: a signal handler has seconds before the runner kills it. */
  timeoutMs?: number,
): { code: number | null; stderr: string } {
  const [file, argv] = asUser(user, cmd, args);
  const r = spawnSync(file, argv, {
    cwd: os.tmpdir(),
    env: childEnv(env),
    ...(timeoutMs ? { timeout: timeoutMs, killSignal: 'SIGKILL' as const } : {}),
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  return { code: r.status, stderr: (r.stderr ?? '').trim().split('\n').slice(-3).join(' ') };
}

/**
 * The one way Restorable runs a program. Arguments go as an array (no shell), secrets travel in the
 * environment, never in argv. Resolves with the exit status; rejects only when the program cannot
 * be started (ToolMissingError when it is not installed).
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, argv] = asUser(opts.user, cmd, args);
  const switching = file === 'runuser';
  const started = performance.now();
  const limit = opts.maxCapture ?? 4 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      env: childEnv(opts.env, opts.inherit),
      // A user we switch to may not be allowed into our working directory.
      cwd: opts.cwd ?? (switching ? os.tmpdir() : undefined),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.group ? { detached: true } : {}),
    });
    const signal = (sig: NodeJS.Signals) => {
      if (!opts.group || child.pid === undefined) return void child.kill(sig);
      try {
        process.kill(-child.pid, sig);
      } catch {
        // the group is gone already
      }
    };
    const onExit = () => signal('SIGKILL');
    if (opts.group) {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, signal);
      process.on('exit', onExit);
    }
    const unhook = () => {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.off(s, signal);
      process.off('exit', onExit);
    };
    const out = new TailBuffer(limit);
    const err = new TailBuffer(limit);
    const stderr = stderrLines(err, opts);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', stderr.data);
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        signal('SIGTERM');
        setTimeout(() => signal('SIGKILL'), 5000).unref();
      }, opts.timeoutMs).unref();
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      unhook();
      if (e.code === 'ENOENT') reject(new ToolMissingError(cmd, opts.install ?? `install ${cmd}`));
      else reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      unhook();
      stderr.end();
      resolve({
        code,
        signal,
        stdout: out.toString(),
        stderr: err.toString(),
        seconds: (performance.now() - started) / 1000,
      });
    });
    // A program that exits before reading all of its input closes the pipe: that is its answer,
    // which the exit status and stderr carry, not an error of ours.
    child.stdin.on('error', () => {});
    if (opts.stdin === undefined) child.stdin.end();
    else if (typeof opts.stdin === 'string' || Buffer.isBuffer(opts.stdin)) child.stdin.end(opts.stdin);
    else {
      opts.stdin.on('error', (e) => child.stdin.destroy(e));
      opts.stdin.pipe(child.stdin);
    }
  });
}

/** A filter program's failure: its exit status and what it said on standard error. */
export class FilterError extends Error {
  constructor(
    readonly program: string,
    readonly code: number | null,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A program that reads standard input and writes standard output (`xz -dc`), as one stream: bytes
 * written go to its input, its output is read, with backpressure both ways. The stream errors with
 * FilterError when the program exits other than 0, ToolMissingError when it is not installed.
 */
export function filterProcess(cmd: string, args: string[], install: string): Duplex {
  const child = spawn(cmd, args, { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  const err = new TailBuffer(64 * 1024);
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.on('error', () => {});
  const stream = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      if (child.stdin.write(chunk)) cb();
      else child.stdin.once('drain', () => cb());
    },
    final(cb) {
      child.stdin.end();
      cb();
    },
    read() {
      child.stdout.resume();
    },
    destroy(e, cb) {
      if (child.exitCode === null) child.kill('SIGKILL');
      cb(e);
    },
  });
  child.stdout.on('data', (b: Buffer) => {
    if (!stream.push(b)) child.stdout.pause();
  });
  child.on('error', (e: NodeJS.ErrnoException) =>
    stream.destroy(e.code === 'ENOENT' ? new ToolMissingError(cmd, install) : e),
  );
  child.on('close', (code, signal) => {
    if (code === 0) return void stream.push(null);
    // Its own first word on what went wrong (bzip2 follows it with paragraphs of advice).
    const lines = err.toString().trim().split('\n');
    const said = lines.find((l) => l.startsWith(`${cmd}:`)) ?? lines.pop() ?? '';
    stream.destroy(new FilterError(cmd, code, said || `${cmd} stopped (${signal ?? `exit ${code}`})`));
  });
  return stream;
}

/** Whether a program of that name is on PATH (to choose between ways of doing one thing). */
export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
