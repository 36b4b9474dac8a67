import { UserError } from '../core/errors.js';
import { actionInputs, runAction } from './common.js';
import { run as verify } from './verify-backup.js';

const COMMANDS: Record<string, (raw: Record<string, string>) => Promise<void>> = { verify };

/** The umbrella action: `command:` picks the room, the other inputs go to it. */
export function run(): Promise<void> {
  return runAction(async () => {
    const { command, ...rest } = actionInputs();
    const target = COMMANDS[command ?? ''];
    if (!target) {
      throw new UserError(
        'command',
        `"${command ?? ''}" is not a command`,
        `Use one of: ${Object.keys(COMMANDS).join(', ')}`,
      );
    }
    await target(rest);
  });
}
