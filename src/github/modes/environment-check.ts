import { requireReviewedEnvironment } from '../environments.js';
import { str } from '../inputs.js';
import type { ModeRun, ReportResult } from './mode.js';

/** Before a restore that replaces something: its environment must require a review. */
export async function environmentCheck({ i, deps, ctx }: ModeRun): Promise<ReportResult> {
  const name = str(i.environment) ?? '';
  const restoreMode = str(i['restore-mode']) ?? 'drill';
  if (restoreMode === 'drill') {
    deps.log.info(`a drill replaces nothing: environment "${name}" is not checked for reviewers`);
    return {
      outputs: { reviewers: '' },
      summary: `Environment \`${name}\`: not checked (a drill).\n`,
    };
  }
  const env = await requireReviewedEnvironment(deps.client(), ctx.repo(), name);
  const who = env.reviewers.length ? env.reviewers.join(', ') : 'its required reviewers';
  const from = env.branches.join(', ');
  deps.log.info(
    `environment "${env.name}" requires a review by ${who}, not self-review, no admin bypass, from ${from}`,
  );
  return {
    outputs: { reviewers: env.reviewers.join(',') },
    summary: `Environment \`${env.name}\` requires a review before the restore runs: ${who} (not by whoever started it, no administrator bypass; usable from ${env.branches.map((b) => `\`${b}\``).join(', ')}).\n`,
  };
}
