import type { GitHubClient, Repo } from './client.js';

export interface Approval {
  state: 'approved' | 'rejected' | 'pending' | string;
  user: string;
  comment: string;
  environments: string[];
}

/** Who approved (or rejected) the run's environment gates: the sign-off, for the incident record. */
export async function runApprovals(client: GitHubClient, repo: Repo, runId: string): Promise<Approval[]> {
  const { data: raw } = await client.request<
    { state: string; comment?: string; user?: { login?: string }; environments?: { name?: string }[] }[]
  >('GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals', { ...repo, run_id: runId });
  return raw.map((a) => ({
    state: a.state,
    user: a.user?.login ?? 'unknown',
    comment: a.comment ?? '',
    environments: (a.environments ?? []).map((e) => e.name ?? '').filter(Boolean),
  }));
}

/** The workflow file of a run, from GITHUB_WORKFLOW_REF (`owner/repo/.github/workflows/x.yml@ref`). */
export function workflowFile(workflowRef: string | undefined): string {
  const m = /\/\.github\/workflows\/([^@/]+)@/.exec(workflowRef ?? '');
  if (!m) throw new Error(`cannot tell the workflow file from GITHUB_WORKFLOW_REF "${workflowRef ?? ''}"`);
  return m[1] as string;
}

interface Run {
  id: number;
  event: string;
  status: string;
  conclusion: string | null;
  created_at: string;
  html_url: string;
}

interface Job {
  name: string;
  conclusion: string | null;
}

export interface MonthState {
  /** A run this month (not this one) whose drill job passed. */
  passed?: { runId: number; url: string; at: string };
  /** A run this month, not finished, started by hand or by a dispatch: a drill may be on its way. */
  pending?: { runId: number; url: string };
}

/** `name` is the drill job's name; in a called workflow GitHub shows it as `<caller job> / <name>`. */
export const jobMatches = (jobName: string, name: string) =>
  jobName === name || jobName.endsWith(` / ${name}`);

/**
 * Look at this month's runs (UTC) of the calling workflow: did a drill job named `drillJob` pass
 * in any of them, and is a dispatched or manual run still on its way?
 */
export async function drillMonthState(
  client: GitHubClient,
  repo: Repo,
  opts: { workflow: string; drillJob: string; now: Date; currentRunId?: string },
): Promise<MonthState> {
  const start = `${opts.now.toISOString().slice(0, 7)}-01`;
  const runs = await client.paginate<Run>('GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs', {
    ...repo,
    workflow_id: opts.workflow,
    created: `>=${start}`,
    per_page: 100,
  });
  const state: MonthState = {};
  for (const run of runs) {
    if (String(run.id) === opts.currentRunId) continue;
    if (run.status !== 'completed') {
      if (!state.pending && run.event !== 'schedule') state.pending = { runId: run.id, url: run.html_url };
      continue;
    }
    if (state.passed) continue;
    const jobs = await client.paginate<Job>('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
      ...repo,
      run_id: run.id,
      per_page: 100,
    });
    if (jobs.some((j) => jobMatches(j.name, opts.drillJob) && j.conclusion === 'success')) {
      state.passed = { runId: run.id, url: run.html_url, at: run.created_at };
    }
  }
  return state;
}

/** Start the workflow again, as a workflow_dispatch on the same ref. */
export async function dispatchWorkflow(
  client: GitHubClient,
  repo: Repo,
  workflow: string,
  ref: string,
): Promise<void> {
  await client.request('POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches', {
    ...repo,
    workflow_id: workflow,
    ref,
  });
}

/** The run that uploaded the newest unexpired artifact of that name (to carry history across runs). */
export async function latestArtifactRun(
  client: GitHubClient,
  repo: Repo,
  name: string,
): Promise<string | undefined> {
  const artifacts = await client.paginate<{
    expired: boolean;
    created_at: string;
    workflow_run?: { id?: number };
  }>('GET /repos/{owner}/{repo}/actions/artifacts', { ...repo, name, per_page: 100 });
  const live = artifacts
    .filter((a) => !a.expired && a.workflow_run?.id)
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
  const id = live[0]?.workflow_run?.id;
  return id === undefined ? undefined : String(id);
}
