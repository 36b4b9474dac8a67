import type { Finding, RuleId } from '../report/findings.js';

/** A finding raised from deep inside a parser; the inspection turns it into a Finding. */
export class ArchiveProblem extends Error {
  constructor(
    readonly rule: Extract<
      RuleId,
      | 'ARCHIVE_UNREADABLE'
      | 'ARCHIVE_TRUNCATED'
      | 'ARCHIVE_CORRUPT'
      | 'COMPRESSION_CORRUPT'
      | 'FORMAT_UNSUPPORTED'
      | 'DATA_NOT_DUMPED'
      | 'PLAIN_META_COMMAND'
      | 'DUMP_OUTSIDE_DATABASE'
      | 'DUMP_SERVER_ACCESS'
    >,
    message: string,
    readonly evidence: Finding['evidence'] = {},
  ) {
    super(message);
  }
}
