import { UserError } from '../core/errors.js';
import { type GitHubClient, httpStatus, type Repo } from './client.js';

interface EnvironmentJson {
  name?: string;
  can_admins_bypass?: boolean;
  protection_rules?: {
    type?: string;
    prevent_self_review?: boolean;
    reviewers?: { type?: string; reviewer?: { login?: string; slug?: string; name?: string } }[];
  }[];
  deployment_branch_policy?: { protected_branches?: boolean; custom_branch_policies?: boolean } | null;
}

export interface ReviewedEnvironment {
  name: string;
  /** Who may approve: user logins and team slugs. */
  reviewers: string[];
  /** Which refs may deploy to it: `protected branches`, or the custom policies' names. */
  branches: string[];
}

const ENVIRONMENT = 'GET /repos/{owner}/{repo}/environments/{environment_name}';

/**
 * The restore job's sign-off is the `environment:` it names. A job that names an environment that
 * does not exist creates it, with no protection rules, and runs at once: a typo would skip the
 * sign-off silently. So before anything is restored, the environment must exist and hold the
 * lead's sign-off: a `required_reviewers` rule with `prevent_self_review` (who starts the restore
 * cannot approve it), no administrator bypass (an admin's run would skip the review), and a
 * deployment branch policy (a workflow pushed to any branch could otherwise ask for the
 * environment and its secrets). Reading it takes `actions: read` on the job's token.
 */
export async function requireReviewedEnvironment(
  client: GitHubClient,
  repo: Repo,
  name: string,
): Promise<ReviewedEnvironment> {
  const env = await readEnvironment(client, repo, name);
  const where = `"${name}" in ${repo.owner}/${repo.repo}`;
  const settings = `Settings → Environments → ${name}`;
  const rule = (env.protection_rules ?? []).find((r) => r.type === 'required_reviewers');
  if (!rule) {
    throw new UserError(
      'environment',
      `${where} has no required reviewers, so the restore would run with no sign-off`,
      `Add the lead as a required reviewer under ${settings} → Deployment protection rules`,
    );
  }
  if (rule.prevent_self_review !== true) {
    throw new UserError(
      'environment',
      `${where} lets whoever starts the restore approve it (prevent self-review is off)`,
      `Tick "Prevent self-review" under ${settings} → Required reviewers`,
    );
  }
  if (env.can_admins_bypass !== false) {
    throw new UserError(
      'environment',
      `${where} lets administrators skip the review (admin bypass is on)`,
      `Untick "Allow administrators to bypass configured protection rules" under ${settings}`,
    );
  }
  const reviewers = (rule.reviewers ?? [])
    .map((r) => r.reviewer?.login ?? r.reviewer?.slug ?? r.reviewer?.name ?? '')
    .filter(Boolean);
  return { name: env.name ?? name, reviewers, branches: await deploymentBranches(client, repo, name, env) };
}

async function readEnvironment(client: GitHubClient, repo: Repo, name: string): Promise<EnvironmentJson> {
  const where = `${repo.owner}/${repo.repo}`;
  const create = `Create it under Settings → Environments of ${where} with the lead as a required reviewer, or correct the environment input`;
  if (!name.trim()) throw new UserError('environment', 'is empty', create);
  try {
    return (await client.request<EnvironmentJson>(ENVIRONMENT, { ...repo, environment_name: name })).data;
  } catch (e) {
    const status = httpStatus(e);
    if (status === 404) {
      throw new UserError(
        'environment',
        `"${name}" does not exist in ${where}, so the restore would run with no sign-off`,
        create,
      );
    }
    if (status === 401 || status === 403) {
      throw new UserError(
        'environment',
        `the job's token may not read "${name}" (HTTP ${status})`,
        'Grant `actions: read` to the job that calls pitr.yml (the plan job reads the environment with it)',
      );
    }
    throw e;
  }
}

/** The refs the environment's deployment branch policy lets deploy; none set is refused. */
async function deploymentBranches(
  client: GitHubClient,
  repo: Repo,
  name: string,
  env: EnvironmentJson,
): Promise<string[]> {
  const policy = env.deployment_branch_policy;
  const fix = `Under Settings → Environments → ${name} → Deployment branches and tags, choose "Protected branches only" or the branches that hold the reviewed caller (main)`;
  if (!policy) {
    throw new UserError(
      'environment',
      `"${name}" in ${repo.owner}/${repo.repo} may be used from any branch, so a workflow pushed to any branch could ask for it and its secrets`,
      fix,
    );
  }
  if (policy.protected_branches) return ['protected branches'];
  const policies = await client.paginate<{ name?: string; type?: string }>(
    'GET /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies',
    { ...repo, environment_name: name, per_page: 100 },
  );
  const names = policies.map((p) => `${p.type === 'tag' ? 'tag ' : ''}${p.name ?? ''}`).filter(Boolean);
  if (!names.length) {
    throw new UserError('environment', `"${name}" allows selected branches but names none`, fix);
  }
  return names;
}
