import { parseTolerance } from '../config/restorable.js';
import { UserError } from '../core/errors.js';
import { choice, custom, flag, integer, severity, text } from '../core/inputs.js';

/** The command whose inputs these are, for messages about them. */
export const COMPARE_COMMAND = 'compare';

/** compare-counts' inputs: what is compared with what, how exactly, and what drift is allowed. */
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

/** The compare rung a drill or a PITR drill offers: what the restored copy is compared with. */
export const compareRungInputs = {
  'compare-source-url': text(
    'Also compare row counts and structure with this live database (read-only), as a rung of the drill.',
  ),
  'compare-baseline': text('Or compare with a baseline file written by compare-counts write-baseline.'),
};
