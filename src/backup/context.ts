import type { ExpectedChecksum } from '../archive/checksum.js';
import type { EarlyFacts, Inspection } from '../archive/inspect.js';
import type { Logger } from '../core/log.js';
import type { RunFolder } from '../core/workdir.js';
import type { Finding } from '../report/findings.js';
import type { Pipeline, StageResult, Verdict } from '../report/stages.js';
import type { Candidate } from '../sources/select.js';
import type { BackupObject, BackupSource } from '../sources/types.js';
import type { VerifyOptions } from './options.js';

export interface BackupFacts {
  name: string;
  time: string;
  timeFrom: 'name' | 'modified';
  ageHours: number;
  sizeBytes: number;
  /** Where the backup is on this machine after the run: a local backup, or a download that is kept. */
  localPath?: string;
  /** A backup Restorable downloaded: where, and whether it stays after the run (keep-download). */
  download?: { path: string; kept: boolean };
  sha256?: string;
  format?: string;
  wrapper?: string | null;
  compression?: string;
  archiveVersion?: string;
  serverVersion?: string;
  pgDumpVersion?: string;
  dumpedAt?: string;
  database?: string;
  tables?: number;
  /** The archive's table of contents by entry type. */
  tocEntries?: Record<string, number>;
  extensions?: string[];
  owners?: string[];
  dataBlocks?: number;
  dataBytes?: number;
  /** Rows per table with data in the dump (schema.table), as the walk counted them. */
  tableRows?: Record<string, number>;
  checksum?: { algorithm: string; from: string; matched: boolean };
}

export interface VerifyResult {
  command: 'verify';
  verdict: Verdict;
  failOn: string;
  source: string;
  startedAt: string;
  totalSeconds: number;
  candidates: number;
  backup?: BackupFacts;
  schema?: { tool: string; server: string; seconds: number; errors: string[] };
  stages: StageResult[];
  findings: Finding[];
}

/** What the verify stages found, for runVerify's result and for the pipelines that build on it. */
export interface VerifyState {
  source: string;
  candidates: number;
  backup?: BackupFacts;
  inspection?: Inspection;
  schema?: VerifyResult['schema'];
}

/** What every verify stage reads and writes: the run's inputs, its pipeline, its source, its state. */
export interface VerifyContext {
  readonly opts: VerifyOptions;
  readonly log: Logger;
  readonly pipe: Pipeline;
  /** The run's own folder: a download goes there (the caller closes it when the run ends). */
  readonly work: RunFolder;
  readonly source: BackupSource;
  readonly state: VerifyState;
  /** The time the run started, for the backup's age. */
  readonly now: Date;
  /** Told what the dump says of itself as soon as the read has its header (a drill starts its target). */
  readonly onHeader?: (f: EarlyFacts) => void;
}

/** A run that found its backup: the source's listing, the backup chosen, and its facts so far. */
export interface LocatedBackup extends VerifyContext {
  readonly all: BackupObject[];
  readonly backup: Candidate;
  readonly facts: BackupFacts;
  /** How old the backup is, at the run's start. */
  readonly ageMs: number;
}

/** A run that read its backup: the one-pass inspection, and the checksum it is to match, if any. */
export interface ReadBackup extends LocatedBackup {
  readonly ins: Inspection;
  readonly expected: ExpectedChecksum | undefined;
}
