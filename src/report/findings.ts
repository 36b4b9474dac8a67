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

/** Every rule Restorable can raise. The README's table of rules is checked against this list. */
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
    fires: 'the structure of a custom archive is damaged (an impossible length, a block of no known table)',
    fix: 'The bytes were damaged after pg_dump wrote them. Use an earlier backup and check the storage.',
  },
  FORMAT_UNSUPPORTED: {
    severity: 'medium',
    kind: 'unverifiable',
    fires:
      'the backup is in a form Restorable cannot walk (tar format, lz4 blocks, a SQL script not from pg_dump)',
    fix: 'Dump with pg_dump -Fc, -Fd or -Fp, so every block can be checked.',
  },
  COMPRESSION_CORRUPT: {
    severity: 'critical',
    kind: 'problem',
    fires: 'a compressed stream (gzip around the file, or a data block inside it) does not decompress',
    fix: 'The bytes were damaged after pg_dump wrote them. Use an earlier backup and check the storage.',
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
