import type { Verdict } from '../report/stages.js';
import { type GitHubClient, httpStatus, type Repo } from './client.js';

interface Issue {
  number: number;
  html_url: string;
  title: string;
  pull_request?: unknown;
}

interface Comment {
  id: number;
  html_url: string;
  body?: string;
  user?: { login?: string; type?: string } | null;
}

const COMMENTS = 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments';

/** Written by a bot (the job token is github-actions[bot]; a GitHub App's token is another Bot). */
const byBot = (c: Comment) => c.user?.type === 'Bot' || c.user?.login === 'github-actions[bot]';

export interface IssueOutcome {
  action: 'opened' | 'commented' | 'closed' | 'none';
  number?: number;
  url?: string;
}

/** Open issues carrying the label (pull requests excluded), oldest first. */
export async function openIssuesWithLabel(client: GitHubClient, repo: Repo, label: string): Promise<Issue[]> {
  const issues = await client.paginate<Issue>('GET /repos/{owner}/{repo}/issues', {
    ...repo,
    state: 'open',
    labels: label,
    sort: 'created',
    direction: 'asc',
    per_page: 100,
  });
  return issues.filter((i) => !i.pull_request);
}

/** Make sure the label exists, so the issue carries it whoever's token opened it. */
async function ensureLabel(client: GitHubClient, repo: Repo, label: string, color: string): Promise<void> {
  try {
    await client.request('GET /repos/{owner}/{repo}/labels/{name}', { ...repo, name: label });
  } catch (e) {
    if (httpStatus(e) !== 404) throw e;
    await client.request('POST /repos/{owner}/{repo}/labels', {
      ...repo,
      name: label,
      color,
      description: 'Opened by Restorable',
    });
  }
}

/**
 * One issue per label for a recurring check: a failure opens one, or comments on the open one
 * instead of opening another; a pass after a failure closes it (with a comment saying so); a pass
 * with nothing open does nothing.
 */
export async function syncIssue(
  client: GitHubClient,
  repo: Repo,
  opts: { label: string; title: string; verdict: Verdict; body: string; passBody?: string },
): Promise<IssueOutcome> {
  const open = await openIssuesWithLabel(client, repo, opts.label);
  const current = open[0];
  if (opts.verdict === 'pass') {
    if (!current) return { action: 'none' };
    await client.request(COMMENTS, {
      ...repo,
      issue_number: current.number,
      body: opts.passBody ?? opts.body,
    });
    await client.request('PATCH /repos/{owner}/{repo}/issues/{issue_number}', {
      ...repo,
      issue_number: current.number,
      state: 'closed',
      state_reason: 'completed',
    });
    return { action: 'closed', number: current.number, url: current.html_url };
  }
  if (current) {
    const { data: c } = await client.request<Comment>(COMMENTS, {
      ...repo,
      issue_number: current.number,
      body: opts.body,
    });
    return { action: 'commented', number: current.number, url: c.html_url ?? current.html_url };
  }
  return openIssue(client, repo, opts, 'd73a4a');
}

/** A new issue every time (an incident record is one event, not a recurring state). */
export async function openIssue(
  client: GitHubClient,
  repo: Repo,
  opts: { label: string; title: string; body: string },
  labelColor = '5319e7',
): Promise<IssueOutcome> {
  await ensureLabel(client, repo, opts.label, labelColor);
  const { data: created } = await client.request<Issue>('POST /repos/{owner}/{repo}/issues', {
    ...repo,
    title: opts.title,
    body: opts.body,
    labels: [opts.label],
  });
  return { action: 'opened', number: created.number, url: created.html_url };
}

/**
 * One comment per pull request, found by a hidden marker and edited in place on every push instead
 * of adding another. The body must start with the marker (it is prepended when it does not). Ours
 * is a comment by a bot that starts with the marker: a person quoting it is never edited.
 */
export async function upsertMarkedComment(
  client: GitHubClient,
  repo: Repo,
  issueNumber: number,
  marker: string,
  body: string,
): Promise<{ action: 'created' | 'updated'; id: number; url: string }> {
  const text = body.startsWith(marker) ? body : `${marker}\n${body}`;
  const comments = await client.paginate<Comment>(
    'GET /repos/{owner}/{repo}/issues/{issue_number}/comments',
    {
      ...repo,
      issue_number: issueNumber,
      per_page: 100,
    },
  );
  const mine = comments.find((c) => byBot(c) && (c.body ?? '').startsWith(marker));
  if (mine) {
    const { data: c } = await client.request<Comment>(
      'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}',
      {
        ...repo,
        comment_id: mine.id,
        body: text,
      },
    );
    return { action: 'updated', id: mine.id, url: c.html_url ?? mine.html_url };
  }
  const { data: c } = await client.request<Comment>(COMMENTS, {
    ...repo,
    issue_number: issueNumber,
    body: text,
  });
  return { action: 'created', id: c.id, url: c.html_url };
}
