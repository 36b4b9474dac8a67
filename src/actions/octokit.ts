import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { type ThrottlingOptions, throttling } from '@octokit/plugin-throttling';
import type { Logger } from '../core/log.js';
import type { GitHubClient } from '../github/client.js';

/** Retries after a rate limit (primary or secondary) before the call fails. */
const RATE_LIMIT_RETRIES = 3;
/** A primary rate limit that resets later than this fails now rather than hold the runner. */
const LONGEST_WAIT_SECONDS = 300;

export interface OctokitClientOptions {
  apiUrl: string;
  token: string;
  log: Logger;
  /**
   * Milliseconds per second of the plugins' waits (1000). Tests make it small: the waits are real
   * (retry-after, 1 s, 4 s, 9 s after a 5xx) and the behaviour is the same.
   */
  msPerSecond?: number;
  /** Overrides of the throttling plugin's Bottleneck groups (tests space writes less). */
  throttle?: Partial<ThrottlingOptions>;
}

/**
 * Every GitHub API call goes through `@actions/github`'s Octokit with @octokit/plugin-retry (a 5xx
 * or a dropped connection is retried three times, 1 s, 4 s, 9 s apart) and
 * @octokit/plugin-throttling (writes spaced a second apart, three for those that notify, as GitHub
 * asks; a primary or
 * secondary rate limit waits for retry-after or the reset, three times at most). Pagination is
 * Octokit's own: it follows the Link header to the last page.
 */
export function octokitClient(opts: OctokitClientOptions): GitHubClient {
  const ms = opts.msPerSecond ?? 1000;
  const onLimit =
    (kind: string) =>
    (retryAfter: number, req: { method: string; url: string }, _o: unknown, retryCount: number) => {
      const route = `${req.method} ${new URL(req.url, 'http://api').pathname}`;
      if (retryCount >= RATE_LIMIT_RETRIES || (kind === 'rate limit' && retryAfter > LONGEST_WAIT_SECONDS)) {
        opts.log.warn(`GitHub API ${kind} on ${route}: not retrying (reset in ${retryAfter}s)`);
        return false;
      }
      opts.log.warn(
        `GitHub API ${kind} on ${route}: retrying in ${retryAfter}s (${retryCount + 1} of ${RATE_LIMIT_RETRIES})`,
      );
      return true;
    };
  const octokit = getOctokit(
    opts.token,
    {
      baseUrl: opts.apiUrl.replace(/\/+$/, ''),
      log: {
        debug: (m: string) => opts.log.debug(m),
        info: (m: string) => opts.log.debug(m),
        warn: (m: string) => opts.log.warn(m),
        error: (m: string) => opts.log.warn(m),
      },
      retry: { retryAfterBaseValue: ms },
      throttle: {
        onRateLimit: onLimit('rate limit'),
        onSecondaryRateLimit: onLimit('secondary rate limit'),
        retryAfterBaseValue: ms,
        ...opts.throttle,
      },
    },
    retry,
    throttling,
  );
  return {
    request: (route, params) => octokit.request(route, params),
    paginate: (route, params) => octokit.paginate(route, params),
  };
}
