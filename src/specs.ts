import { compareSpec } from './compare/spec.js';
import { choice } from './core/inputs.js';
import type { ActionSpec } from './core/spec.js';
import { drillSpec } from './drill/spec.js';
import { githubReportSpec } from './github/spec.js';
import { migrateSpec } from './migrate/spec.js';
import { pitrSpec } from './pitr/spec.js';
import { verifySpec } from './verify/spec.js';

/** Every action, in the order the README lists them (each has its page under docs/). */
export const SPECS: ActionSpec[] = [
  verifySpec,
  drillSpec,
  pitrSpec,
  compareSpec,
  migrateSpec,
  githubReportSpec,
];

/** The rooms of the umbrella action (`uses: your-org/restorable@v0`), which `command` picks. */
export const ROOMS = SPECS.filter((s) => s.umbrella !== false);

/** The umbrella action's own input; the others are its rooms', passed on to the one picked. */
export const umbrellaInputs = {
  command: choice(
    ROOMS.map((s) => s.command),
    `Which check to run: ${ROOMS.map((s) => s.command).join(', ')}.`,
    { required: true, problem: (v) => `"${v}" is not a command` },
  ),
};
