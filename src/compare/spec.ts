import type { ActionSpec } from '../core/spec.js';

export const compareSpec: ActionSpec = {
  name: 'compare-counts',
  command: 'compare',
  title: 'Restorable: compare counts',
  description:
    'Row counts and structure of a live database (read-only) or a baseline file against a restored copy: exact where it matters, estimated where it is big.',
  inputs: [
    {
      name: 'source-url',
      description: 'The live database, read through a read-only session (the role needs only SELECT).',
    },
    {
      name: 'baseline',
      description: 'Instead of source-url: a JSON file of counts written earlier with write-baseline.',
    },
    { name: 'target-url', description: "The restored database (restore-drill's database-url)." },
    {
      name: 'mode',
      default: 'auto',
      description:
        '`exact` (count(*)), `estimate` (catalog statistics, one query), `auto` (exact below exact-limit).',
    },
    {
      name: 'exact-limit',
      default: '1000000',
      description: 'In auto mode, tables estimated above this many rows are estimated, not counted.',
    },
    {
      name: 'tolerance',
      default: '0',
      description: 'Allowed difference: 0, 1000 (rows) or 2% (per-table overrides in restorable.yml).',
    },
    {
      name: 'direction',
      default: 'drop',
      description: '`drop` (only fewer rows in the target is drift) or `both` (two copies of one snapshot).',
    },
    { name: 'schemas', description: 'Only these schemas, comma-separated (default: every user schema).' },
    { name: 'include', description: 'Globs over schema.table to compare, comma-separated.' },
    { name: 'exclude', description: 'Globs over schema.table to leave out, comma-separated.' },
    { name: 'jobs', default: '4', description: 'Parallel connections per side for exact counts.' },
    {
      name: 'structure',
      default: 'true',
      description: 'Also compare tables, columns and types, indexes, constraints, sequences, extensions.',
    },
    {
      name: 'write-baseline',
      description: "Write the source's counts (and when they were taken) to this JSON file.",
    },
    {
      name: 'freshness-column',
      description: 'Report max() of this column per table on both sides: the RPO actually achieved.',
    },
    { name: 'config', description: 'restorable.yml, for per-table tolerances (compare.tables).' },
    {
      name: 'fail-on',
      default: 'high',
      description: 'Lowest severity that fails: critical, high, medium, low, info.',
    },
    { name: 'report', description: 'Write the JSON report to this path.' },
  ],
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
