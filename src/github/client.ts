/**
 * What the GitHub side needs of a REST client: a request by route (`GET /repos/{owner}/{repo}`,
 * its parameters filled in and encoded by the client) and every page of a list. The core takes
 * this interface; the adapter (src/actions/octokit.ts) gives it `@actions/github`'s Octokit with
 * the retry and throttling plugins, against GITHUB_API_URL (GitHub Enterprise Server included),
 * and tests point that same Octokit at a local server that records every call.
 */
export type Params = Record<string, unknown>;

export interface GitHubClient {
  request<T = unknown>(route: string, params?: Params): Promise<{ data: T }>;
  /** Every item of a list endpoint, following the Link header to the last page. */
  paginate<T = unknown>(route: string, params?: Params): Promise<T[]>;
}

/** The HTTP status of a failed request (Octokit's RequestError carries it), else undefined. */
export function httpStatus(e: unknown): number | undefined {
  const status = typeof e === 'object' && e !== null ? (e as { status?: unknown }).status : undefined;
  return typeof status === 'number' ? status : undefined;
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
