/**
 * The smallest GitHub REST client the workflows need: plain fetch against GITHUB_API_URL (GitHub
 * Enterprise Server included), the token in a header and nowhere else. The core takes the
 * `GitHubClient` interface, so tests point it at a local server that records every call.
 */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface GitHubClient {
  request<T = unknown>(method: HttpMethod, path: string, body?: unknown): Promise<T>;
}

export class GitHubApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    detail: string,
  ) {
    super(`GitHub API ${method} ${path}: ${status}${detail ? ` ${detail}` : ''}`);
    this.name = 'GitHubApiError';
  }
}

export interface Repo {
  owner: string;
  repo: string;
}

/** `owner/name` (GITHUB_REPOSITORY) as the two path segments. */
export function parseRepo(full: string | undefined): Repo {
  const m = /^([\w.-]+)\/([\w.-]+)$/.exec(full ?? '');
  if (!m) throw new Error(`not a repository (owner/name): "${full ?? ''}"`);
  return { owner: m[1] as string, repo: m[2] as string };
}

export const repoPath = (r: Repo) => `/repos/${encodeURIComponent(r.owner)}/${encodeURIComponent(r.repo)}`;

export function fetchClient(opts: { apiUrl: string; token: string; fetchImpl?: typeof fetch }): GitHubClient {
  const base = opts.apiUrl.replace(/\/+$/, '');
  const doFetch = opts.fetchImpl ?? fetch;
  return {
    async request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
      const res = await doFetch(`${base}${path}`, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${opts.token}`,
          'x-github-api-version': '2022-11-28',
          'user-agent': 'restorable',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (!res.ok) {
        let detail = '';
        try {
          detail = String((JSON.parse(text) as { message?: string }).message ?? '');
        } catch {
          detail = text.slice(0, 200);
        }
        throw new GitHubApiError(res.status, method, path, detail);
      }
      return (text ? JSON.parse(text) : undefined) as T;
    },
  };
}

/** Every page of a list endpoint (100 a page, at most `maxPages`). */
export async function listAll<T>(client: GitHubClient, path: string, maxPages = 10): Promise<T[]> {
  const out: T[] = [];
  const sep = path.includes('?') ? '&' : '?';
  for (let page = 1; page <= maxPages; page++) {
    const batch = await client.request<T[]>('GET', `${path}${sep}per_page=100&page=${page}`);
    out.push(...batch);
    if (batch.length < 100) break;
  }
  return out;
}
