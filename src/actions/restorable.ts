import * as core from '@actions/core';
import { UserError } from '../core/errors.js';
import { readInputs } from '../core/inputs.js';
import { umbrellaInputs } from '../specs.js';
import { actionInputs, runAction } from './common.js';
import { run as compare } from './compare-counts.js';
import { run as migrate } from './migrate-check.js';
import { run as pitr } from './pitr-restore.js';
import { run as drill } from './restore-drill.js';
import { run as verify } from './verify-backup.js';

const COMMANDS: Record<string, (raw: Record<string, string>) => Promise<void>> = {
  verify,
  drill,
  pitr,
  compare,
  migrate,
};

/** The umbrella action: `command:` picks the room, the other inputs go to it. */
export function run(): Promise<void> {
  return runAction(async () => {
    const { command: given, ...rest } = actionInputs();
    // The post step runs this bundle again: only a drill or a PITR drill has something to clean up then.
    if (core.getState('is-post') === 'true') {
      if (given === 'drill') await drill(rest);
      if (given === 'pitr') await pitr(rest);
      return;
    }
    const { command } = readInputs('restorable', umbrellaInputs, { command: given }, 'input');
    const target = COMMANDS[command];
    if (!target) {
      throw new UserError(
        'command',
        `"${command}" is not a command`,
        `Use one of: ${Object.keys(COMMANDS).join(', ')}`,
      );
    }
    await target(rest);
  });
}
