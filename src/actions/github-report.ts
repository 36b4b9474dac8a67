import * as core from '@actions/core';
import { UserError } from '../core/errors.js';
import { runReport } from '../github/run.js';
import { actionInputs, actionsLogger, runAction } from './common.js';
import { octokitClient } from './octokit.js';

export function run(raw: Record<string, string> = actionInputs()): Promise<void> {
  return runAction(async () => {
    const token = raw['github-token'] ?? '';
    if (token) core.setSecret(token);
    const result = await runReport(raw, {
      client: () => {
        if (!token)
          throw new UserError('github-token', 'is empty', 'Pass github-token (its default is the job token)');
        return octokitClient({
          apiUrl: process.env.GITHUB_API_URL ?? 'https://api.github.com',
          token,
          log: actionsLogger,
        });
      },
      log: actionsLogger,
      env: process.env,
      now: new Date(),
    });
    for (const [k, v] of Object.entries(result.outputs)) core.setOutput(k, v);
    if (result.summary) await core.summary.addRaw(result.summary).write();
  });
}
