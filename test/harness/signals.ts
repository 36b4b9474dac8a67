import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { passwdIds } from '../../src/postgres/scratch-user.js';
import { sleep } from './pitr.js';

/**
 * Signalling the committed CLI during an in-place PITR, as a runner and a person do it, for the
 * signal tests of every backend.
 */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const CLI = path.join(root, 'dist/cli/index.js');
/**
 * How the CLI is started: the committed bundle, or (RESTORABLE_TEST_CLI=source) its sources through
 * tsx in the same process, for a branch whose bundle is not rebuilt yet.
 */
const CLI_ARGV =
  process.env.RESTORABLE_TEST_CLI === 'source'
    ? ['--import', 'tsx', path.join(root, 'src/cli/index.ts')]
    : [CLI];

/** Where a run can be held (RESTORABLE_PAUSE_AT), in order, and the journal's phase there. */
export const PHASE_AT = {
  fetch: 'fetching',
  unpack: 'fetching',
  replay: 'stopped',
  promote: 'stopped',
  verify: 'promoted',
  handover: 'swapped',
} as const;
export type Point = keyof typeof PHASE_AT;
export const STYLES = ['SIGINT', 'SIGTERM', 'runner', 'kill -9 then --rollback'] as const;
export type Style = (typeof STYLES)[number];

export const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.on('exit', (c) => resolve(c));
  });

export function journalOf(dataDir: string): { phase: string } | undefined {
  try {
    return JSON.parse(fs.readFileSync(`${dataDir}.restorable-journal.json`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** `restorable pitr --mode in-place …` on `dataDir`, with a fresh journal; its stderr collected. */
export function inPlaceRun(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; stderr: () => string } {
  fs.rmSync(`${dataDir}.restorable-journal.json`, { force: true });
  const child = spawn(
    process.execPath,
    [...CLI_ARGV, 'pitr', '--mode', 'in-place', '--data-directory', dataDir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, cwd: root },
  );
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  return { child, stderr: () => err };
}

/**
 * Hold the run at `point` (it says so on stderr, and its journal is in that point's phase), signal
 * it in `style`, and after a kill run `--rollback` as a person would. Returns what it said.
 */
export async function signalAt(
  dataDir: string,
  args: string[],
  point: Point,
  style: Style,
  env: Record<string, string> = {},
): Promise<string> {
  const { child, stderr } = inPlaceRun(dataDir, args, { ...env, RESTORABLE_PAUSE_AT: point });
  for (let i = 0; i < 1200 && child.exitCode === null; i++) {
    if (stderr().includes(`paused at ${point}`)) break;
    await sleep(50);
  }
  expect(stderr(), 'the run never reached the point').toContain(`restorable: paused at ${point}`);
  expect(journalOf(dataDir)?.phase, stderr()).toBe(PHASE_AT[point]);
  await sleep(300); // inside the pause
  if (style === 'SIGINT' || style === 'SIGTERM') child.kill(style);
  else if (style === 'runner') {
    // The runner's cancel: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that.
    child.kill('SIGINT');
    await Promise.race([exited(child), sleep(7500)]);
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited(child), sleep(2500)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  } else child.kill('SIGKILL');
  await exited(child);
  let said = stderr();
  if (style === 'kill -9 then --rollback') {
    const r = spawnSync(process.execPath, [...CLI_ARGV, 'pitr', '--rollback', '--data-directory', dataDir], {
      encoding: 'utf8',
      cwd: root,
      env: { ...process.env, ...env },
    });
    expect(r.status, r.stderr).toBe(0);
    said += r.stdout;
  }
  return said;
}

/** Nothing Restorable made is left beside production's data directory, and no server runs there. */
export function expectNothingLeft(dataDir: string, said: string): void {
  const beside = fs.readdirSync(path.dirname(dataDir));
  for (const what of ['restorable-safety', 'restorable-restore-'])
    expect(
      beside.filter((n) => n.includes(what)),
      said,
    ).toEqual([]);
  for (const n of beside.filter((x) => x.includes('restorable-failed'))) {
    const dir = path.join(path.dirname(dataDir), n);
    expect(fs.existsSync(path.join(dir, 'postmaster.pid')), said).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A drill run as a child: SIGINT once its scratch cluster exists (as a person's Ctrl-C, a runner's
 * cancel), then the child's exit code and whether the cluster's folder is gone. Fails the test when
 * no cluster appears within a minute (with what the child said).
 */
export async function interruptOnceClusterUp(
  child: ChildProcess & { stderr: NodeJS.ReadableStream },
  findLeftovers: () => { root: string; label: { pid: number; osUser?: string } }[],
): Promise<{ code: number | null; removed: boolean; userRemoved: boolean }> {
  let err = '';
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const deadline = Date.now() + 60_000;
  let made: { root: string; label: { osUser?: string } } | undefined;
  while (!made && Date.now() < deadline) {
    made = findLeftovers().find((c) => c.label.pid === child.pid);
    if (!made) await sleep(20);
  }
  expect(made, err).toBeDefined();
  child.kill('SIGINT');
  const code = await exited(child);
  // As root the cluster's server ran as a user of its own, which goes with it.
  const user = made?.label.osUser;
  return { code, removed: !fs.existsSync(made?.root as string), userRemoved: !user || !passwdIds(user) };
}

/** Where each link in `dataDir`'s pg_tblspc points (a tablespace of the backup, relocated). */
export function tablespaceLinks(dataDir: string): string[] {
  const tblspc = path.join(dataDir, 'pg_tblspc');
  return fs.readdirSync(tblspc).map((n) => fs.readlinkSync(path.join(tblspc, n)));
}

/**
 * A rolled-back in-place run kept its attempt at `<live>.restorable-failed-*` with its tablespaces
 * beside it (`<failed>.tablespaces`), the attempt's links pointing there, and nothing of the attempt
 * under the staging folder's name; `said` names both. Returns the kept attempt's folder.
 */
export function expectAttemptKeptWhole(live: string, said: string): string {
  const beside = fs.readdirSync(path.dirname(live));
  expect(
    beside.filter((n) => n.includes('restorable-restore-')),
    said,
  ).toEqual([]);
  const failed = beside.filter((n) => /restorable-failed-[^.]*$/.test(n));
  expect(failed, said).toHaveLength(1);
  const kept = path.join(path.dirname(live), failed[0] as string);
  const links = tablespaceLinks(kept);
  expect(links.length, said).toBeGreaterThan(0);
  for (const to of links) {
    expect(to.startsWith(`${kept}.tablespaces/`), `${to}\n${said}`).toBe(true);
    expect(
      fs.readdirSync(to).some((n) => n.startsWith('PG_')),
      to,
    ).toBe(true);
  }
  expect(said).toContain(`the attempt is kept at ${kept} (its tablespaces at ${kept}.tablespaces)`);
  return kept;
}
