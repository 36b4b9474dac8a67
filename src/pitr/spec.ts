import { type ActionSpec, inputsOf } from '../core/spec.js';
import { drillSpec } from '../drill/spec.js';
import { verifySpec } from '../verify/spec.js';

export const pitrSpec: ActionSpec = {
  name: 'pitr-restore',
  command: 'pitr',
  post: true,
  title: 'Restorable: point-in-time recovery',
  description:
    'Point-in-time recovery from a base backup plus archived WAL to a target time, LSN or restore point: as a drill, as a side-by-side clone, or in place behind interlocks.',
  inputs: [
    {
      name: 'backend',
      default: 'native',
      description: '`native` (pg_basebackup + archived WAL) or `pgbackrest`.',
    },
    {
      name: 'base-backups',
      description:
        'native: the folder or s3://bucket/prefix holding base backups, one folder each (plain, or base.tar[.gz] with backup_manifest).',
    },
    {
      name: 'wal-archive',
      description:
        'native: the folder or s3:// prefix archive_command copies WAL segments to (plain or .gz).',
    },
    { name: 'stanza', description: 'pgbackrest: the stanza.' },
    {
      name: 'pgbackrest-config',
      description: 'pgbackrest: path of its configuration file (default: pgBackRest’s own default).',
    },
    {
      name: 'backup',
      description:
        'Restore this base backup (its folder name, or a pgBackRest label) instead of the newest one that ended before the target.',
    },
    {
      name: 'target-time',
      description: 'Recover to this time: ISO 8601 with a zone (2026-11-21T09:30:00Z, …+01:00).',
    },
    { name: 'target-lsn', description: 'Recover to this WAL location (0/3000060).' },
    { name: 'target-name', description: 'Recover to this restore point (pg_create_restore_point).' },
    {
      name: 'target-immediate',
      default: 'false',
      description: 'Recover only until the base backup is consistent (the fastest drill).',
    },
    {
      name: 'target-inclusive',
      default: 'true',
      description: 'Stop just after the target (true) or just before it (false).',
    },
    {
      name: 'target-timeline',
      default: 'latest',
      description:
        'The timeline to recover along: `latest` (the newest that descends from the base backup), `current` (the base backup’s own) or a number; the plan checks WAL along it (the .history files).',
    },
    {
      name: 'mode',
      default: 'drill',
      description:
        '`drill` (a scratch cluster, torn down), `side-by-side` (into data-directory, left running) or `in-place` (replace data-directory behind interlocks).',
    },
    {
      name: 'data-directory',
      description:
        'side-by-side: where to recover to (empty or absent). in-place: the live data directory to replace.',
    },
    { name: 'port', description: 'side-by-side: the port of the recovered server (default: a free one).' },
    {
      name: 'confirm',
      description:
        "in-place: must equal the cluster's system identifier (pg_controldata) or the pitr.name in config.",
    },
    {
      name: 'stop-command',
      description:
        "in-place: how to stop the live server (default: pg_ctlcluster on Debian's layout, else pg_ctl stop -D <data-directory> -m fast).",
    },
    {
      name: 'start-command',
      description:
        "in-place: how to start production, on the recovered data or after a roll-back (default: pg_ctlcluster on Debian's layout, else pg_ctl start -D <data-directory>).",
    },
    {
      name: 'check-url',
      description:
        'in-place: the database and user the checks use on the private recovery (its host and port are not used: production is down then); default postgres.',
    },
    { name: 'prefetch', default: '8', description: 'WAL segments fetched ahead of replay, in parallel.' },
    {
      name: 'config',
      description: 'Path of restorable.yml: its `pitr` section (present/absent queries, checks, name).',
    },
    {
      name: 'keep',
      default: 'false',
      description: 'drill: leave the recovered cluster running for later steps (stopped by the post step).',
    },
    {
      name: 'plan-only',
      default: 'false',
      description: 'Stop after the plan: choose the backup, check WAL coverage, estimate the time.',
    },
    {
      name: 'plant-marker',
      default: 'false',
      description:
        'Instead of recovering: write a marker row and a restore point on marker-url, for a later drill to recover to.',
    },
    {
      name: 'rollback',
      default: 'false',
      description:
        "Instead of recovering: finish an in-place run that was stopped (a cancel, a kill, a crash) from its journal beside data-directory: production's original data back and started, or, if the hand-over was done, the recovered data serving and the snapshot kept.",
    },
    {
      name: 'marker-url',
      description:
        'With plant-marker: the live database to write the marker to (a role that may create a table).',
    },
    ...inputsOf(drillSpec, ['compare-source-url', 'compare-baseline']),
    {
      name: 'history',
      description: 'A JSON-lines file: each run is appended; plans estimate their time from it.',
    },
    ...inputsOf(verifySpec, [
      'fail-on',
      'report',
      's3-endpoint',
      's3-region',
      's3-force-path-style',
      'pg-bin-dir',
    ]),
    {
      name: 'os-user',
      description:
        "Run the recovered server (and pgBackRest) as this OS user (default: the current user; postgres when root, who owns production's data and pgBackRest's repository).",
    },
  ],
  outputs: [
    { name: 'verdict', description: '`pass`, `fail` or `could-not-verify`.' },
    { name: 'recovered-to', description: 'The last replayed commit time (ISO 8601, to the microsecond).' },
    {
      name: 'rpo-seconds',
      description:
        'Recovery point achieved: seconds from the last replayed commit to the target time (or restore point), from the server log.',
    },
    { name: 'base-backup', description: 'The base backup restored.' },
    {
      name: 'wal-segments',
      description: 'WAL segments the plan covers (from the backup start to the target).',
    },
    { name: 'wal-range', description: 'First and last WAL segment of the plan.' },
    { name: 'replay-seconds', description: 'Wall time of the recovery (start to promotion).' },
    { name: 'total-seconds', description: 'Wall time of the whole run.' },
    { name: 'estimated-seconds', description: 'The plan’s estimate, from history (empty without one).' },
    {
      name: 'database-url',
      description: 'side-by-side, or drill with keep: the recovered server (no password).',
    },
    {
      name: 'safety-snapshot',
      description: 'in-place: where the previous data directory was moved (never deleted).',
    },
    {
      name: 'discarded-until',
      description:
        "in-place: production's last write (its shutdown checkpoint): the writes from recovered-to up to it are discarded (and kept in the safety snapshot).",
    },
    {
      name: 'downtime-seconds',
      description: "in-place: production's downtime, from its stop to serving the recovered data.",
    },
    {
      name: 'target-name',
      description: 'plant-marker: the restore point written (recover to it with target-name).',
    },
    { name: 'findings', description: 'Findings as JSON.' },
    { name: 'report', description: 'Path of the JSON report.' },
  ],
};
