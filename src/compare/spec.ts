import { COMPARE_COMMAND, compareInputs } from '../comparison/inputs.js';
import type { ActionSpec } from '../core/spec.js';

export const compareSpec: ActionSpec<typeof compareInputs> = {
  name: 'compare-counts',
  command: COMPARE_COMMAND,
  title: 'Restorable: compare counts',
  description:
    'Row counts and structure of a live database (read-only) or a baseline file against a restored copy: exact where it matters, estimated where it is big.',
  inputs: compareInputs,
  outputs: [
    { name: 'verdict', description: '`pass`, `fail` or `could-not-verify`.' },
    { name: 'compared', description: 'Tables compared.' },
    { name: 'drifted', description: 'Tables whose counts drifted.' },
    { name: 'missing', description: 'Tables missing from the target.' },
    { name: 'table', description: 'The comparison as a markdown table, drifted rows first.' },
    { name: 'findings', description: 'Findings as JSON.' },
    { name: 'report', description: 'Path of the JSON report.' },
  ],
};
