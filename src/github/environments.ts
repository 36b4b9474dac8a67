import { UserError } from '../core/errors.js';
import { type GitHubClient, httpStatus, type Repo } from './client.js';

interface EnvironmentJson {
  name?: string;
  protection_rules?: {
    type?: string;
    reviewers?: { type?: string; reviewer?: { login?: string; slug?: string; name?: string } }[];
  }[];
}

export interface ReviewedEnvironment {
  name: string;
  /** Who may approve: user logins and team slugs. */
  reviewers: string[];
}

/**
 * The restore job's sign-off is the `environment:` it names. A job that names an environment that
 * does not exist creates it, with no protection rules, and runs at once: a typo would skip the
 * sign-off silently. So before anything is restored, the environment must exist and carry a
 * `required_reviewers` protection rule. Reading it takes `actions: read` on the job's token.
 */
export async function requireReviewedEnvironment(
  client: GitHubClient,
  repo: Repo,
  name: string,
): Promise<ReviewedEnvironment> {
  const where = `${repo.owner}/${repo.repo}`;
  const create = `Create it under Settings → Environments of ${where} with the lead as a required reviewer, or correct the environment input`;
  if (!name.trim()) {
    throw new UserError('environment', 'is empty', create);
  }
  let env: EnvironmentJson;
  try {
    ({ data: env } = await client.request<EnvironmentJson>(
      'GET /repos/{owner}/{repo}/environments/{environment_name}',
      { ...repo, environment_name: name },
    ));
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
  const rule = (env.protection_rules ?? []).find((r) => r.type === 'required_reviewers');
  if (!rule) {
    throw new UserError(
      'environment',
      `"${name}" in ${where} has no required reviewers, so the restore would run with no sign-off`,
      `Add the lead as a required reviewer under Settings → Environments → ${name} → Deployment protection rules`,
    );
  }
  const reviewers = (rule.reviewers ?? [])
    .map((r) => r.reviewer?.login ?? r.reviewer?.slug ?? r.reviewer?.name ?? '')
    .filter(Boolean);
  return { name: env.name ?? name, reviewers };
}
