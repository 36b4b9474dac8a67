import { verifyFacts } from '../backup/facts.js';
import { parseVerifyOptions } from '../backup/options.js';
import { runVerify, verifyOutputs } from '../verify/run.js';
import { actionInputs, actionsLogger, publish, runAction, stageProgress } from './common.js';

export function run(raw: Record<string, string> = actionInputs()): Promise<void> {
  return runAction(async () => {
    const opts = parseVerifyOptions(raw, 'input');
    const result = await runVerify(opts, actionsLogger, stageProgress);
    await publish(result, { ...opts, title: 'verify-backup', facts: verifyFacts(result) }, (p) =>
      verifyOutputs(result, p),
    );
  });
}
