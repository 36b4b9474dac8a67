import { parseMigrateOptions } from '../migrate/options.js';
import { migrateComment, migrateFacts } from '../migrate/present.js';
import { migrateOutputs, runMigrate, schemaDiffText, writeComment } from '../migrate/run.js';
import { actionInputs, actionsLogger, publish, runAction, stageProgress } from './common.js';

export function run(raw: Record<string, string> = actionInputs()): Promise<void> {
  return runAction(async () => {
    const opts = parseMigrateOptions(raw, 'input', actionsLogger);
    const result = await runMigrate(opts, actionsLogger, stageProgress);
    const text = migrateComment(result);
    const file = writeComment(text, opts.workDir);
    const diff = schemaDiffText(result);
    await publish(
      result,
      {
        ...opts,
        title: 'migrate-check',
        facts: migrateFacts(result),
        ...(diff ? { extra: `### Schema difference\n\n\`\`\`diff\n${diff}\n\`\`\`\n` } : {}),
      },
      (p) => migrateOutputs(result, p, { text, file }),
    );
  });
}
