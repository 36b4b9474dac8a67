import { verifyInputs } from '../backup/inputs.js';
import { compareRungInputs } from '../comparison/inputs.js';
import { choice, custom, flag, integer, pick, text } from '../core/inputs.js';
import type { ActionSpec } from '../core/spec.js';
import { parseTimeline } from './wal-archive.js';

export const BACKENDS = ['native', 'pgbackrest', 'barman', 'barman-cloud', 'wal-g'] as const;
export const MODES = ['drill', 'side-by-side', 'in-place'] as const;

export const pitrInputs = {
  backend: choice(
    BACKENDS,
    '`native` (pg_basebackup + archived WAL), `pgbackrest`, `barman`, `barman-cloud` (S3: barman-cloud-url, s3-endpoint, AWS_* keys) or `wal-g` (its settings from the environment: WALG_*, AWS_*).',
    { default: 'native' },
  ),
  'base-backups': text(
    'native: the folder or s3://bucket/prefix holding base backups, one folder each (plain, or base.tar[.gz] with backup_manifest).',
  ),
  'wal-archive': text(
    'native: the folder or s3:// prefix holding the archived WAL: plain, .gz, .bz2, .lz4, .zst or .xz, Barman’s wals/ folder or pgBackRest’s archive/<stanza> folder.',
  ),
  stanza: text('pgbackrest: the stanza.'),
  'pgbackrest-config': text(
    'pgbackrest: path of its configuration file (default: pgBackRest’s own default).',
  ),
  'barman-server': text(
    'barman: the Barman server (its section in Barman’s configuration). barman-cloud: the server name given to barman-cloud-backup.',
  ),
  'barman-cloud-url': text(
    'barman-cloud: the s3://bucket/prefix given to barman-cloud-backup and barman-cloud-wal-archive (the endpoint is s3-endpoint, the keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).',
  ),
  'barman-config': text(
    'barman: path of Barman’s configuration file (default: Barman’s own, /etc/barman.conf).',
  ),
  'barman-user': text(
    'barman: the OS user barman runs as when Restorable runs as root (default: barman_user from the configuration, else barman); not root, barman runs as the current user.',
  ),
  backup: text(
    'Restore this base backup (its folder name, a pgBackRest label or a Barman (Cloud) backup id; `latest` for the newest) instead of the newest one that ended before the target.',
  ),
  'target-time': text('Recover to this time: ISO 8601 with a zone (2026-11-21T09:30:00Z, …+01:00).'),
  'target-lsn': text('Recover to this WAL location (0/3000060).'),
  'target-name': text('Recover to this restore point (pg_create_restore_point).'),
  'target-xid': text(
    'Recover to the commit of this transaction id (txid_current(), pg_current_xact_id(); its 64-bit form’s epoch is dropped, as PostgreSQL does).',
  ),
  'target-immediate': flag('Recover only until the base backup is consistent (the fastest drill).', false),
  'target-inclusive': flag('Stop just after the target (true) or just before it (false).', true),
  'target-timeline': custom(
    'The timeline to recover along: `latest` (the newest that descends from the base backup), `current` (the base backup’s own) or a number; the plan checks WAL along it (the .history files).',
    (t) => parseTimeline('', t),
    'latest',
  ),
  mode: choice(
    MODES,
    '`drill` (a scratch cluster, torn down), `side-by-side` (into data-directory, left running) or `in-place` (replace data-directory behind interlocks).',
    { default: 'drill' },
  ),
  'data-directory': text(
    'side-by-side: where to recover to (empty or absent). in-place: the live data directory to replace.',
  ),
  port: integer('side-by-side: the port of the recovered server (default: a free one).', {
    min: 1,
    max: 65535,
    what: 'a port',
  }),
  confirm: text(
    "in-place: must equal the cluster's system identifier (pg_controldata) or the pitr.name in config.",
  ),
  'stop-command': text(
    "in-place: how to stop the live server (default: pg_ctlcluster on Debian's layout, else pg_ctl stop -D <data-directory> -m fast).",
  ),
  'start-command': text(
    "in-place: how to start production, on the recovered data or after a roll-back (default: pg_ctlcluster on Debian's layout, else pg_ctl start -D <data-directory>).",
  ),
  'check-url': text(
    'in-place: the database and user the checks use on the private recovery (its host and port are not used: production is down then); default postgres.',
  ),
  prefetch: integer('WAL segments fetched ahead of replay, in parallel.', {
    min: 1,
    max: 64,
    what: 'a number of segments',
    default: 8,
  }),
  config: text('Path of restorable.yml: its `pitr` section (present/absent queries, checks, name).'),
  keep: flag('drill: leave the recovered cluster running for later steps (stopped by the post step).', false),
  'plan-only': flag('Stop after the plan: choose the backup, check WAL coverage, estimate the time.', false),
  'plant-marker': flag(
    'Instead of recovering: write a marker row and a restore point on marker-url, for a later drill to recover to.',
    false,
  ),
  rollback: flag(
    "Instead of recovering: finish an in-place run that was stopped (a cancel, a kill, a crash) from its journal beside data-directory: production's original data back and started, or, if the hand-over was done, the recovered data serving and the snapshot kept.",
    false,
  ),
  'marker-url': text(
    'With plant-marker: the live database to write the marker to (a role that may create a table).',
  ),
  ...compareRungInputs,
  history: text('A JSON-lines file: each run is appended; plans estimate their time from it.'),
  ...pick(verifyInputs, [
    'fail-on',
    'report',
    's3-endpoint',
    's3-region',
    's3-force-path-style',
    'pg-bin-dir',
  ]),
  'os-user': text(
    "Run the recovered server (and pgBackRest) as this OS user (default: the current user; postgres when root, who owns production's data and pgBackRest's repository).",
  ),
};

export const pitrSpec: ActionSpec<typeof pitrInputs> = {
  name: 'pitr-restore',
  command: 'pitr',
  post: true,
  title: 'Restorable: point-in-time recovery',
  description:
    'Point-in-time recovery from a base backup plus archived WAL to a target time, LSN, restore point or transaction: as a drill, as a side-by-side clone, or in place behind interlocks.',
  inputs: pitrInputs,
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
      description:
        'side-by-side: the recovered server through its socket (no password). drill with keep: over TCP on 127.0.0.1 with its own random password (masked in the log).',
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
