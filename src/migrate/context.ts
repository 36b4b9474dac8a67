import type { SmokeResult } from '../checks/semantics.js';
import type { Logger } from '../core/log.js';
import type { ConnInfo } from '../postgres/client.js';
import type { Reportable } from '../report/render.js';
import type { Pipeline } from '../report/stages.js';
import type { MigrateOptions } from './options.js';
import type { Relation } from './relations.js';

export interface MigrateResult extends Reportable {
  command: 'migrate';
  /** The database migrated, password masked. */
  database: string;
  server?: string;
  /** Exit status of the migrate command; null when it was killed or did not run. */
  exitCode: number | null;
  signal?: string;
  migrateSeconds?: number;
  /** The end of the command's stderr when it failed: secrets masked, lines that may quote rows withheld. */
  stderrTail?: string;
  /** Tables whose relfilenode changed, with their size before. */
  rewritten: { table: string; bytes: number }[];
  /** Per table, the longest ACCESS EXCLUSIVE lock seen held, longest first. */
  locks: { table: string; seconds: number }[];
  /** How many times pg_locks was read while the command ran. */
  lockSamples: number;
  schemaDiff: { added: string[]; removed: string[] };
  smoke?: SmokeResult[];
}

/** The database as the migration found or left it: its catalog objects and its relations by OID. */
export interface Snapshot {
  structure: string[];
  relations: Map<string, Relation>;
}

/** What every stage of migrate-check reads and writes: the run's inputs, its pipeline, its result. */
export interface MigrateContext {
  readonly opts: MigrateOptions;
  readonly log: Logger;
  readonly pipe: Pipeline;
  readonly result: MigrateResult;
  /** The database migrated. */
  readonly conn: ConnInfo;
}
