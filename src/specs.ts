import { compareSpec } from './compare/spec.js';
import type { ActionSpec } from './core/spec.js';
import { drillSpec } from './drill/spec.js';
import { githubReportSpec } from './github/spec.js';
import { migrateSpec } from './migrate/spec.js';
import { pitrSpec } from './pitr/spec.js';
import { verifySpec } from './verify/spec.js';

/** Every action, in the order the README lists them. */
export const SPECS: ActionSpec[] = [
  verifySpec,
  drillSpec,
  pitrSpec,
  compareSpec,
  migrateSpec,
  githubReportSpec,
];
