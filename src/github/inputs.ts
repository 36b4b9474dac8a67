/** How github-report reads its inputs and the run's environment, shared by its modes. */
import fs from 'node:fs';
import { UserError } from '../core/errors.js';
import { parseRepo, type Repo } from './client.js';

export const bool = (input: string, v: string | undefined): boolean => {
  const t = (v ?? '').trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false' || t === '') return false;
  throw new UserError(input, `"${v}" is not true or false`, 'Write true or false');
};

/** The keys of `o` that start with `prefix`, without it (`verify-finished-at` -> `finished-at`). */
export function prefixed(o: Record<string, string>, prefix: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(o)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
}

export function json(input: string, v: string | undefined): Record<string, string> {
  if (!v?.trim()) return {};
  try {
    const o = JSON.parse(v) as unknown;
    if (o && typeof o === 'object' && !Array.isArray(o)) return o as Record<string, string>;
  } catch {}
  throw new UserError(input, 'is not a JSON object', `Pass toJSON(needs.<job>.outputs)`);
}

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
    const ev = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      pull_request?: { number?: number };
      number?: number;
    };
    const n = ev.pull_request?.number ?? ev.number;
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
