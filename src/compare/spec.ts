import { parseTolerance } from '../config/restorable.js';
import { UserError } from '../core/errors.js';
import { choice, custom, flag, integer, severity, text } from '../core/inputs.js';
import type { ActionSpec } from '../core/spec.js';

export const compareInputs = {
  'source-url': text('The live database, read through a read-only session (the role needs only SELECT).'),
  baseline: text('Instead of source-url: a JSON file of counts written earlier with write-baseline.'),
  'target-url': text("The restored database (restore-drill's database-url)."),
  mode: choice(
    ['exact', 'estimate', 'auto'],
    '`exact` (count(*)), `estimate` (catalog statistics, one query), `auto` (exact below exact-limit).',
    {
      default: 'auto',
      problem: (v) => `"${v}" is not exact, estimate or auto`,
      fix: 'Use exact, estimate or auto',
    },
  ),
  'exact-limit': integer('In auto mode, tables estimated above this many rows are estimated, not counted.', {
    min: 0,
    default: 1000000,
  }),
  tolerance: custom(
    'Allowed difference: 0, 1000 (rows) or 2% (per-table overrides in restorable.yml).',
    (t) => {
      const tolerance = parseTolerance(t);
      if (!tolerance)
        throw new UserError(
          '',
          `"${t}" is not a tolerance`,
          'Write 0, 1000 (rows) or 2% (a share of the source count)',
        );
      return tolerance;
    },
    '0',
  ),
  direction: choice(
    ['drop', 'both'],
    '`drop` (only fewer rows in the target is drift) or `both` (two copies of one snapshot).',
    {
      default: 'drop',
      problem: (v) => `"${v}" is not drop or both`,
      fix: 'Use drop (the source grew after the backup) or both',
    },
  ),
  schemas: text('Only these schemas, comma-separated (default: every user schema).'),
  include: text('Globs over schema.table to compare, comma-separated.'),
  exclude: text('Globs over schema.table to leave out, comma-separated.'),
  jobs: integer('Parallel connections per side for exact counts.', { min: 1, default: 4 }),
  structure: flag(
    'Also compare tables, columns and types, indexes, constraints, sequences, extensions.',
    true,
  ),
  'write-baseline': text("Write the source's counts (and when they were taken) to this JSON file."),
  'freshness-column': text('Report max() of this column per table on both sides: the RPO actually achieved.'),
  config: text('restorable.yml, for per-table tolerances (compare.tables).'),
  'fail-on': severity('Lowest severity that fails: critical, high, medium, low, info.'),
  report: text('Write the JSON report to this path.'),
};

export const compareSpec: ActionSpec<typeof compareInputs> = {
  name: 'compare-counts',
  command: 'compare',
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
