import type { SmokeResult } from '../checks/semantics.js';
import type { CompareSummary } from '../comparison/run.js';
import type { Reportable } from '../report/render.js';
import type { TableChange } from './changes.js';
import type { PitrOptions } from './options.js';
import type { LogProof } from './proof.js';

/** What a pitr-restore run reports: the summary, the JSON and the action's outputs are made from it. */
export interface PitrResult extends Reportable {
  command: 'pitr';
  mode: PitrOptions['mode'];
  backend: string;
  source: string;
  target: string;
  plan?: {
    backup: string;
    backupEnded?: string;
    walFirst?: string;
    walLast?: string;
    walSegments?: number;
    /** The timeline the plan followed, and whether the WAL reaches the target (by segment names). */
    timeline?: number;
    reachesTarget?: 'yes' | 'no' | 'cannot tell';
    estimatedSeconds?: number;
  };
  server?: string;
  recoveredTo?: string;
  stopLine?: string;
  /** The server log's proof of the point: the last replayed commit and the first left out. */
  proof?: LogProof;
  /** Recovery point achieved: seconds from the last replayed commit to the target point. */
  rpoSeconds?: number;
  replaySeconds?: number;
  /** WAL served by the spool: segments fetched, bytes, and how many the server had to wait for. */
  wal?: { fetched: number; bytes: number; waits: number };
  checks?: SmokeResult[];
  compare?: CompareSummary;
  /** compare against the live server: each table whose rows changed since the target. */
  changedSinceTarget?: TableChange[];
  databaseUrl?: string;
  /** drill with keep: the scratch folder the post step (or clean) removes. */
  handle?: string;
  safetySnapshot?: string;
  /** In place: the writes the rollback discards, from the recovery point to production's stop. */
  discarded?: { until?: string; lsn?: string };
  /** In place: production's downtime, from its stop to serving the recovered data. */
  downtimeSeconds?: number;
  /** In place: the new timeline's history file, marked for the archiver. */
  history?: string;
  /** What a person should do now (seed 001 §2.5 after an in-place restore). */
  next: string[];
}
