export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The one Finding model. `evidence` holds catalog facts and numbers only, never row values. */
export interface Finding {
  rule: string;
  severity: Severity;
  stage: string;
  message: string;
  fix?: string;
  evidence?: Record<string, string | number | boolean | null>;
  /** Set when the rule is ignored in config; the reason is required. */
  ignored?: string;
}

export interface RuleInfo {
  severity: Severity;
  /**
   * `problem`: the backup is bad. `unverifiable`: a check could not run, so nothing can be said;
   * the verdict is could-not-verify, never pass.
   */
  kind: 'problem' | 'unverifiable';
  fires: string;
  fix: string;
}

/** Every rule Restorable can raise. The table of rules in docs/findings.md is checked against this list. */
export const RULES = {
  BACKUP_MISSING: {
    severity: 'critical',
    kind: 'problem',
    fires: 'no backup under the source matches the pattern (or the selected name)',
    fix: 'Check that the backup job ran and uploaded, and that `source` and `pattern` point at it.',
  },
  BACKUP_TOO_OLD: {
    severity: 'high',
    kind: 'problem',
    fires: 'the newest backup is older than `max-age`',
    fix: 'Check the backup schedule (cron, timer) and its logs: the last run did not produce a backup.',
  },
  RETENTION_SHORT: {
    severity: 'medium',
    kind: 'problem',
    fires: 'a retention tier named in `expect` holds fewer backups than expected',
    fix: 'Check the rotation of that tier: backups are being deleted early or not written.',
  },
  CHECKSUM_MISMATCH: {
    severity: 'critical',
    kind: 'problem',
    fires: 'the SHA-256 or MD5 of the bytes read differs from the sidecar, object metadata or `checksum`',
    fix: 'Do not restore from this file. Fetch it again; if it still differs, use an earlier backup.',
  },
  CHECKSUM_UNVERIFIED: {
    severity: 'low',
    kind: 'problem',
    fires: 'no checksum was found to compare with (`checksum: auto`), or `checksum: required` found none',
    fix: 'Have the backup job write `<file>.sha256` (sha256sum format) or set `sha256` object metadata.',
  },
  ARCHIVE_UNREADABLE: {
    severity: 'critical',
    kind: 'problem',
    fires: 'the file is empty or is not a pg_dump archive or plain SQL dump',
    fix: 'Check what the backup job writes: the file is not a dump.',
  },
  ARCHIVE_TRUNCATED: {
    severity: 'critical',
    kind: 'problem',
    fires: 'the archive ends before its last data block, or a plain dump lacks its closing line',
    fix: 'The dump or its upload was cut short (disk full, timeout, killed job). Use an earlier backup.',
  },
  ARCHIVE_CORRUPT: {
    severity: 'critical',
    kind: 'problem',
    fires:
      'the structure of a custom archive is damaged (an impossible length, a block of no known table), or its TOC or header contradicts the blocks (a data offset other than where the block is, a block of an entry marked as having no data, a header compression the blocks do not have): what pg_restore trips on, or restores a table empty over',
    fix: 'The bytes were damaged after pg_dump wrote them. Use an earlier backup and check the storage.',
  },
  FORMAT_UNSUPPORTED: {
    severity: 'medium',
    kind: 'unverifiable',
    fires:
      'the backup is in a form Restorable cannot walk (a SQL script not from pg_dump, an archive version it does not know, a whole-file .xz or .bz2 with no xz or bzip2 program installed)',
    fix: 'Dump with pg_dump -Fc, -Fd, -Ft or -Fp, so every block can be checked; for .xz and .bz2 backups, install xz-utils and bzip2.',
  },
  COMPRESSION_CORRUPT: {
    severity: 'critical',
    kind: 'problem',
    fires:
      'a compressed stream (gzip, zstd, lz4, xz or bzip2 around the file, or a data block inside it) does not decompress, or fails its checksum',
    fix: 'The bytes were damaged after pg_dump wrote them. Use an earlier backup and check the storage.',
  },
  DATA_NOT_DUMPED: {
    severity: 'high',
    kind: 'problem',
    fires:
      "tables the dump creates but holds no rows for: a schema-only dump (pg_dump -s), or tables left out with --exclude-table-data (pg_dump writes a TABLE DATA entry, or a COPY block, for every table whose data it dumped, an empty one too; a partitioned table's rows are its partitions')",
    fix: 'Dump the data too (drop -s / --schema-only, or the --exclude-table-data pattern). If leaving it out is meant, ignore the rule in restorable.yml with the reason.',
  },
  PLAIN_META_COMMAND: {
    severity: 'critical',
    kind: 'problem',
    fires:
      'a plain dump holds a psql meta-command pg_dump does not write (`\\!`, `\\o |`, `\\copy ... program`, `\\setenv`, `\\i`, `\\connect` to another database), or COPY data pg_dump would not write; nothing of the dump is run',
    fix: 'Do not load this file with psql: it was not written by pg_dump as it stands. Find out who changed it, and restore from a dump you can trust.',
  },
  DUMP_OUTSIDE_DATABASE: {
    severity: 'critical',
    kind: 'problem',
    fires:
      'a plain dump holds a statement about another database or the whole server (roles, tablespaces, ALTER SYSTEM), which pg_dump of one database never writes; nothing of the dump is run',
    fix: 'Do not load this file: it would act outside the database it restores. Restore roles with pg_dumpall --roles-only separately, and the database from a dump you can trust.',
  },
  DUMP_SERVER_ACCESS: {
    severity: 'high',
    kind: 'problem',
    fires:
      "SQL of the dump that runs when restored runs a program on the server or reads or writes its files: a TOC entry's SQL or a plain dump's statement outside COPY data with COPY ... TO/FROM PROGRAM or a file, lo_import/lo_export, pg_read_file, a grant of pg_execute_server_program (pg_dump never writes these; a function body that mentions them is not flagged)",
    fix: 'Do not restore this dump anywhere that matters: it was not written by pg_dump alone. Find who changed it; use an earlier backup.',
  },
  VERSION_UNSUPPORTED: {
    severity: 'high',
    kind: 'unverifiable',
    fires: 'no installed pg_restore or server is new enough for the archive, or the format is too new',
    fix: 'Install the PostgreSQL client and server of the major named in the message.',
  },
  SCHEMA_REPLAY_FAILED: {
    severity: 'high',
    kind: 'problem',
    fires: 'loading the schema into a scratch cluster failed',
    fix: 'Read the errors in the evidence: a missing extension or a broken object definition.',
  },
  SCHEMA_REPLAY_NOT_RUN: {
    severity: 'medium',
    kind: 'unverifiable',
    fires: 'the schema check could not run (no server binaries, no pg_restore)',
    fix: 'Install the PostgreSQL server binaries on the runner, or set `schema-check: false` knowingly.',
  },
  FETCH_FAILED: {
    severity: 'high',
    kind: 'unverifiable',
    fires: 'the backup store could not be listed or read (network, credentials, permissions)',
    fix: 'Check the endpoint, the credentials in the environment and the bucket policy.',
  },
  DISK_FULL: {
    severity: 'high',
    kind: 'unverifiable',
    fires:
      "this machine's disk has no room, never a finding about the backup: for the download or unpacked copy in `work-dir` (checked before a download of known size), for a scratch cluster under TMPDIR as it starts or restores, or on `target-url`'s server",
    fix: 'Free space in the folder named, or point `work-dir` (for a scratch cluster: TMPDIR) at a disk with room.',
  },
  UNPACK_CAPPED: {
    severity: 'high',
    kind: 'unverifiable',
    fires:
      'a compressed dump unpacked to disk for pg_restore (`jobs` above 1, the sample tier) came out larger than the cap: the smaller of 1000× its compressed size and half the free space in `work-dir`; the copy is removed',
    fix: 'A crafted file that expands without end is stopped here. If the dump is genuine, drill with jobs: 1 (it streams into pg_restore, nothing unpacked), or point work-dir at a disk with more room.',
  },
  ROLE_ABSENT: {
    severity: 'high',
    kind: 'problem',
    fires: 'the restore referred to a role the target does not have (`roles: strict`)',
    fix: 'Create the role on the target first (roles are not in a pg_dump of one database: pg_dumpall --roles-only).',
  },
  EXTENSION_ABSENT: {
    severity: 'high',
    kind: 'problem',
    fires: 'the dump needs an extension the target server does not have installed',
    fix: "Install the extension's package for the target's major version.",
  },
  RESTORE_ERROR: {
    severity: 'high',
    kind: 'problem',
    fires: 'pg_restore or psql reported errors that no more specific rule explains',
    fix: 'Read the first error in the message; the restore is incomplete until it is fixed.',
  },
  RESTORE_NEEDS_SUPERUSER: {
    severity: 'info',
    kind: 'problem',
    fires:
      "verify's schema replay, or a drill on a scratch cluster (both run as a role that is not a superuser, so a dump's SQL has no superuser's powers: no program, no server file), met statements only a superuser may run (C functions, event triggers, untrusted languages, COPY to a program)",
    fix: 'A statement pg_dump would not write (COPY ... TO PROGRAM, a function that runs one) is an attack: find who wrote the backup. C functions and event triggers are left out of the drill: drill onto a server of your own with target-url to check them.',
  },
  RESTORE_WARNING: {
    severity: 'low',
    kind: 'problem',
    fires: 'the restore printed warnings',
    fix: 'Read the warnings; most are harmless, some announce a missing object.',
  },
  RESTORE_FAILED: {
    severity: 'critical',
    kind: 'problem',
    fires: 'the restore exited non-zero with nothing on stderr to explain it',
    fix: 'Run the restore by hand with --verbose to see where it stops.',
  },
  EXIT_CODE_LIED: {
    severity: 'high',
    kind: 'problem',
    fires: 'the restore exited 0 but printed errors (psql without ON_ERROR_STOP does this)',
    fix: 'Treat the restore as failed: read the errors. Do not trust the exit status alone.',
  },
  EMPTY_RESTORE: {
    severity: 'critical',
    kind: 'problem',
    fires: 'the restored database has no user tables',
    fix: 'Check what the backup job dumps (database name, --schema / --table filters).',
  },
  TARGET_VERSION_NEWER: {
    severity: 'info',
    kind: 'problem',
    fires: "no server of the dump's major is installed, so the restore ran on the nearest newer one",
    fix: 'Install the server of the same major as production to drill on exactly what you would restore to.',
  },
  ROLES_CREATED: {
    severity: 'info',
    kind: 'problem',
    fires:
      'roles: create-missing created owners and grantees the dump names and the target lacked, as NOLOGIN',
    fix: 'Nothing to do for the drill; a restore onto a new production server needs these roles first (CREATE ROLE).',
  },
  OWNERS_NOT_RESTORED: {
    severity: 'info',
    kind: 'problem',
    fires:
      "a scratch drill restores as a role without superuser powers and gives the owners back after; some objects whose owner it could give were not found by the name the dump gives them, and stay the restoring role's",
    fix: 'Nothing in the backup: the objects restored. Their owners differ in the drill only; the message names the first.',
  },
  TARGET_REFUSED: {
    severity: 'high',
    kind: 'unverifiable',
    fires:
      '`target-url` points at a server that looks like production, or at a database Restorable did not create',
    fix: 'Point target-url at a scratch server, or set allow-target-server: true knowingly.',
  },
  TARGET_FAILED: {
    severity: 'high',
    kind: 'unverifiable',
    fires: 'the target (a scratch cluster or a database on target-url) could not be created',
    fix: 'Read the message: missing server binaries, no disk space, no permission to create databases.',
  },
  STRUCTURE_MISSING: {
    severity: 'high',
    kind: 'problem',
    fires: 'an object in the structure reference is missing from the restored database (or differs)',
    fix: 'Find why the object is not in the backup; if the change is intended, rewrite the reference.',
  },
  STRUCTURE_UNEXPECTED: {
    severity: 'medium',
    kind: 'problem',
    fires: 'the restored database has an object the structure reference does not list',
    fix: 'If the schema change is intended, rewrite the reference with `restorable drill --write-reference`.',
  },
  ROWS_LOST: {
    severity: 'high',
    kind: 'problem',
    fires:
      'tier full: a table has other than the rows the dump holds for it (counted by the walk), or a table with rows in the dump is not in the restored database; no config needed',
    fix: 'Read the restore errors for that table; if there are none, the dump or its TOC was damaged after pg_dump wrote it: use an earlier backup.',
  },
  VOLUME_BELOW_MINIMUM: {
    severity: 'high',
    kind: 'problem',
    fires: 'a table has fewer rows than the minimum in the config',
    fix: 'Check the table in production and the backup job: rows are missing from the dump.',
  },
  VOLUME_TABLE_MISSING: {
    severity: 'high',
    kind: 'problem',
    fires: 'a table named in the config, or present in the last good run, is absent',
    fix: 'Check whether the table was dropped on purpose or left out of the dump.',
  },
  VOLUME_DRIFT: {
    severity: 'high',
    kind: 'problem',
    fires: 'a table has fewer rows than in the last good run of the same tier, beyond the tolerance',
    fix: 'Rows were deleted in production or are missing from the dump: find out which.',
  },
  SEMANTICS_FAILED: {
    severity: 'high',
    kind: 'problem',
    fires: 'a smoke query failed, did not return one number, or missed its expectation',
    fix: 'Run the query on the restored copy and on production to see which one is wrong.',
  },
  SEQUENCE_BEHIND: {
    severity: 'high',
    kind: 'problem',
    fires: "a sequence's next value is at or below max() of the column it feeds: the next insert collides",
    fix: "SELECT setval('<sequence>', (SELECT max(<column>) FROM <table>)); and check how the dump was taken.",
  },
  COLLATION_MISMATCH: {
    severity: 'medium',
    kind: 'problem',
    fires: "a collation's recorded version differs from the version the target's C library provides",
    fix: 'REINDEX the indexes that use the collation, then ALTER COLLATION ... REFRESH VERSION.',
  },
  COLLATION_UNVERIFIABLE: {
    severity: 'info',
    kind: 'problem',
    fires: 'the dump does not record collation versions, so the target cannot be compared with the source',
    fix: "Compare pg_collation_actual_version() on production with the target's by hand if it matters.",
  },
  INDEX_CORRUPT: {
    severity: 'high',
    kind: 'problem',
    fires: 'amcheck found a B-tree index inconsistent with its table',
    fix: 'REINDEX the index; if the source is corrupt too, fix it there.',
  },
  CONSTRAINT_INVALID: {
    severity: 'high',
    kind: 'problem',
    fires: 'a NOT VALID constraint does not hold for the restored rows',
    fix: 'Fix the violating rows in production, then VALIDATE CONSTRAINT there.',
  },
  TABLE_MISSING: {
    severity: 'high',
    kind: 'problem',
    fires: 'a table of the source (or baseline) is absent from the target',
    fix: 'Find out whether the table was left out of the backup or the restore failed for it.',
  },
  TABLE_UNEXPECTED: {
    severity: 'low',
    kind: 'problem',
    fires: 'the target has a table the source (or baseline) does not',
    fix: 'Usually a table dropped in production since the backup; check that it is meant to be gone.',
  },
  COUNT_DRIFT: {
    severity: 'high',
    kind: 'problem',
    fires:
      'a table has fewer rows in the target than in the source, beyond the tolerance (or differs at all, direction both)',
    fix: 'A live source gains and loses rows while it is compared: allow for that with `tolerance` (per table in restorable.yml), compare against a baseline the backup job wrote at backup time (`write-baseline`), or set `direction`. Otherwise compare the table on both sides: rows are missing from the backup or the restore.',
  },
  COUNT_ESTIMATED: {
    severity: 'info',
    kind: 'problem',
    fires: "a table's count came from catalog statistics, not count(*)",
    fix: 'Use mode: exact (or raise exact-limit) for tables where the exact number matters.',
  },
  SOURCE_UNREACHABLE: {
    severity: 'high',
    kind: 'unverifiable',
    fires: 'the source database could not be reached, or refused a read-only session',
    fix: 'Check source-url, the network, and that the role can log in (it needs only SELECT).',
  },
  TARGET_UNREACHABLE: {
    severity: 'high',
    kind: 'unverifiable',
    fires: 'the target database could not be reached',
    fix: 'Check target-url (restore-drill outputs database-url with keep: true).',
  },
  RTO_EXCEEDED: {
    severity: 'high',
    kind: 'problem',
    fires: 'the whole drill took longer than `rto-budget`',
    fix: 'Faster storage, more --jobs, a physical backup, or an honest RTO.',
  },
  WAL_GAP: {
    severity: 'critical',
    kind: 'problem',
    fires:
      'a WAL segment is missing from the chain recovery needs, judged by segment names on the timeline it follows: from the base backup’s start to the target LSN, or, for a time or a name, to the last segment present (file times are not trusted; found before anything is restored)',
    fix: 'Check archive_command and its logs for the named segment; recover to a point before the gap, or from a later base backup.',
  },
  ARCHIVER_ERRORS: {
    severity: 'medium',
    kind: 'problem',
    fires:
      'the backup tool reports its WAL archiver failing at the plan (barman check: archiver errors, or no WAL archived): WAL may stop arriving even where the chain is whole today',
    fix: 'Read the tool’s own check (barman check <server>) and its errors folder; fix archive_command or the archiver before relying on this backup.',
  },
  WAL_CORRUPT: {
    severity: 'critical',
    kind: 'problem',
    fires:
      'a WAL segment recovery asked for is in the archive but damaged: it does not decompress (gzip, bzip2, lz4, zstd, xz, by its suffix or its first bytes), or not to a whole segment; replay stopped before it',
    fix: 'Check the storage and the archiver for the named segment; recover to a point before it, or from a later base backup.',
  },
  PITR_TIMELINE_UNKNOWN: {
    severity: 'high',
    kind: 'problem',
    fires:
      '`target-timeline` names a timeline whose .history file is not in the WAL archive, or one that does not descend from the base backup’s timeline (found before anything is restored)',
    fix: 'List the .history files in the archive and pick one of them (or latest / current).',
  },
  PITR_TARGET_BEFORE_BACKUP: {
    severity: 'high',
    kind: 'problem',
    fires: 'the target is earlier than the end of every base backup (or of the one named by `backup`)',
    fix: 'Keep base backups for as long as you need to go back, or pick a later target.',
  },
  PITR_TARGET_UNREACHED: {
    severity: 'critical',
    kind: 'problem',
    fires:
      'recovery ended before the target: PostgreSQL said so, replay reached the end of the archived WAL, or nothing was archived after the target time (a time target needs a commit after it)',
    fix: 'Check that WAL up to the target reached the archive (pg_switch_wal, archive_timeout); a time target needs a later commit in the WAL.',
  },
  PITR_UNASSERTED: {
    severity: 'medium',
    kind: 'unverifiable',
    fires:
      'recovery finished, but neither the server log (its stop line and last completed transaction, for a time, name or LSN target) nor a check proved a row from before the target exists and a row from after it does not (`pitr.checks` with `asserts`, or a planted marker)',
    fix: 'Add pitr.checks with asserts: before-target and after-target to restorable.yml, or recover to a marker planted with plant-marker.',
  },
  PITR_WRONG_POINT: {
    severity: 'high',
    kind: 'problem',
    fires:
      'the recovered server’s log contradicts the target: its last replayed commit is after a time target, the first commit it left out is not after it, or it stopped at another restore point',
    fix: 'Do not use this copy as the point asked for: check the target’s zone and precision, and recover again.',
  },
  PITR_CHANGED_SINCE_TARGET: {
    severity: 'info',
    kind: 'problem',
    fires:
      'compare-source-url is the live server: a table’s rows differ between the recovered copy and production (the change since the target, per table, counts both sides)',
    fix: 'Nothing to fix: this is what changed after the target. Copy back the rows you need from the recovered copy.',
  },
  BASE_BACKUP_CORRUPT: {
    severity: 'critical',
    kind: 'problem',
    fires:
      'pg_verifybackup found files missing, changed or unreadable against the backup_manifest, or the backup could not be unpacked',
    fix: 'Do not recover from this base backup: take a fresh one, and recover from an earlier one meanwhile.',
  },
  BASE_BACKUP_UNVERIFIED: {
    severity: 'low',
    kind: 'problem',
    fires: 'the base backup has no backup_manifest, so pg_verifybackup could not check it',
    fix: 'Take base backups with pg_basebackup 13+ (it writes backup_manifest by default) and keep the manifest.',
  },
  RECOVERY_FAILED: {
    severity: 'critical',
    kind: 'problem',
    fires: 'the recovered server stopped or did not start during recovery (the message ends with its log)',
    fix: 'Read the server log in the message: a missing extension library, too little memory or disk, or a damaged backup.',
  },
  PITR_ROLLED_BACK: {
    severity: 'critical',
    kind: 'problem',
    fires:
      'an in-place recovery failed before promotion; the original data directory was put back and the server started',
    fix: 'Production runs as before the attempt. Fix the cause named in the other findings, or recover side-by-side and copy rows back.',
  },
  MIGRATION_FAILED: {
    severity: 'high',
    kind: 'problem',
    fires:
      'the migrate command exited non-zero, was killed, or ran past `timeout` (migrate-check; the message ends with its stderr)',
    fix: 'Run the migration against a restored copy by hand and fix it: as written it fails on production data.',
  },
  MIGRATION_SLOW: {
    severity: 'high',
    kind: 'problem',
    fires: 'the migrate command took longer than `max-migration-seconds`',
    fix: 'Split the migration, move backfills out of the deploy (batches, a background job), or raise the limit knowingly.',
  },
  LOCK_HELD_TOO_LONG: {
    severity: 'high',
    kind: 'problem',
    fires:
      'an ACCESS EXCLUSIVE lock on a table (or its index or TOAST table) was held longer than `max-lock-seconds`, sampled from pg_locks',
    fix: 'Take the lock briefly: CREATE INDEX CONCURRENTLY, NOT VALID then VALIDATE CONSTRAINT, backfill in batches, set lock_timeout.',
  },
  TABLE_REWRITTEN: {
    severity: 'medium',
    kind: 'problem',
    fires: "the migration changed a table's relfilenode: it rewrote (or truncated) the whole table",
    fix: 'Avoid the rewrite: add the column without a volatile default and backfill in batches; change types in steps.',
  },
} as const satisfies Record<string, RuleInfo>;

export type RuleId = keyof typeof RULES;

export function finding(
  rule: RuleId,
  stage: string,
  message: string,
  extra: { evidence?: Finding['evidence']; severity?: Severity; fix?: string } = {},
): Finding {
  const info: RuleInfo = RULES[rule];
  return {
    rule,
    severity: extra.severity ?? info.severity,
    stage,
    message,
    fix: extra.fix ?? info.fix,
    ...(extra.evidence ? { evidence: extra.evidence } : {}),
  };
}

export function severityRank(s: Severity): number {
  return SEVERITIES.length - SEVERITIES.indexOf(s);
}

export function atLeast(s: Severity, threshold: Severity): boolean {
  return severityRank(s) >= severityRank(threshold);
}

export function ruleKind(rule: string): RuleInfo['kind'] {
  return (RULES as Record<string, RuleInfo>)[rule]?.kind ?? 'problem';
}
