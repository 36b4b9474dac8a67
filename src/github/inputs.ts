/** How github-report reads its inputs and the run's environment, shared by its modes. */
import fs from 'node:fs';
import { z } from 'zod';
import { UserError } from '../core/errors.js';
import { parseRepo, type Repo } from './client.js';

/** The keys of `o` that start with `prefix`, without it (`verify-finished-at` -> `finished-at`). */
export function prefixed(o: Record<string, string>, prefix: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(o)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
}

/** A job's outputs as JSON: an object of strings (numbers and booleans read as their text). */
const outputsJson = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

export function json(input: string, v: string | undefined): Record<string, string> {
  if (!v?.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {}
  const r = outputsJson.safeParse(parsed);
  if (r.success) return r.data;
  throw new UserError(input, 'is not a JSON object', `Pass toJSON(needs.<job>.outputs)`);
}

/** The fields `make` gives for a value that is there, else none: `...when(str(x), (y) => ({ y }))`. */
export const when = <T, R extends object>(v: T | undefined, make: (v: T) => R): R | Record<never, never> =>
  v === undefined ? {} : make(v);

const pullRequestEvent = z.object({
  pull_request: z.object({ number: z.number().optional() }).optional(),
  number: z.number().optional(),
});

export const num = (v: string | undefined) => (v && Number.isFinite(Number(v)) ? Number(v) : undefined);
export const str = (v: string | undefined) => (v?.trim() ? v.trim() : undefined);

export function context(env: Record<string, string | undefined>) {
  const server = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '');
  const repository = env.GITHUB_REPOSITORY ?? '';
  const runId = env.GITHUB_RUN_ID ?? '';
  return {
    repo: (): Repo => parseRepo(repository),
    runId,
    runUrl: repository && runId ? `${server}/${repository}/actions/runs/${runId}` : '(no run)',
  };
}

export function prNumber(raw: string | undefined, env: Record<string, string | undefined>): number {
  if (raw?.trim()) {
    if (!/^\d+$/.test(raw.trim()))
      throw new UserError('pr-number', `"${raw}" is not a number`, 'Give the PR number');
    return Number(raw);
  }
  const file = env.GITHUB_EVENT_PATH;
  if (file && fs.existsSync(file)) {
    const ev = pullRequestEvent.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    const n = ev.success ? (ev.data.pull_request?.number ?? ev.data.number) : undefined;
    if (n) return n;
  }
  throw new UserError(
    'pr-number',
    'this run is not for a pull request',
    'Run on pull_request, or give pr-number',
  );
}

/** The run's repository and URL, from the runner's environment. */
export type RunContext = ReturnType<typeof context>;
