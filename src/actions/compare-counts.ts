import { compareFacts, compareOutputs, compareTable } from '../compare/present.js';
import { parseCompareOptions } from '../comparison/options.js';
import { runCompare } from '../comparison/run.js';
import { actionInputs, actionsLogger, publish, runAction, stageProgress } from './common.js';

export function run(raw: Record<string, string> = actionInputs()): Promise<void> {
  return runAction(async () => {
    const opts = parseCompareOptions(raw, 'input', actionsLogger);
    const result = await runCompare(opts, actionsLogger, stageProgress);
    await publish(
      result,
      {
        ...opts,
        title: 'compare-counts',
        facts: compareFacts(result),
        extra: `### Tables\n\n${compareTable(result)}\n`,
      },
      (p) => compareOutputs(result, p),
    );
  });
}
