import type { Inspection } from '../archive/inspect.js';
import type { BackupFacts } from '../backup/context.js';
import type { TargetCollation } from '../checks/integrity.js';
import type { SmokeResult } from '../checks/semantics.js';
import type { CompareSummary } from '../comparison/run.js';
import type { Logger } from '../core/log.js';
import type { RunFolder } from '../core/workdir.js';
import type { ConnInfo } from '../postgres/client.js';
import type { Prepared } from '../postgres/owners.js';
import type { TableCount } from '../postgres/tables.js';
import type { HistoryEntry } from '../report/history.js';
import type { Reportable } from '../report/render.js';
import type { Pipeline } from '../report/stages.js';
import type { DrillOptions } from './options.js';
import type { EarlyTarget } from './scratch.js';
import type { DrillTarget } from './target.js';

export interface DrillResult extends Reportable {
  command: 'drill';
  source: string;
  tier: string;
  backup?: BackupFacts;
  target?: {
    kind: 'scratch' | 'server';
    version: string;
    major: number;
    database: string;
    settings: Record<string, string>;
    url?: string;
    /** Where a scratch server's binaries came from: installed, or Restorable's pinned embedded build. */
    source?: 'installed' | 'embedded';
    /** restore-into chose a newer major than the dump's: the dump's major. */
    rehearsalFrom?: number;
    /** With keep: what the post step (or clean) needs to remove the target. */
    handle?: string;
  };
  restore?: { tool: string; seconds: number; exitCode: number | null; jobs: number };
  tables?: number;
  rows?: number;
  counts?: TableCount[];
  smoke?: SmokeResult[];
  compare?: CompareSummary;
  /** What a partial tier did not check, for a pass that is not the whole story. */
  notChecked: string[];
  trend?: string;
  chart?: string;
  junitPath?: string;
}

/** What every stage of a drill reads and writes: the run's inputs, its pipeline, its result. */
export interface DrillContext {
  readonly opts: DrillOptions;
  readonly log: Logger;
  /** The drill's own folder beneath the work-dir: the download lives there until the drill ends. */
  readonly work: RunFolder;
  readonly pipe: Pipeline;
  readonly result: DrillResult;
  /** The history file's entries, and the last good run of this tier among them. */
  readonly history: HistoryEntry[];
  readonly previous: HistoryEntry | undefined;
  /** Takes a stopped scratch cluster's removal to a later step (the action's post step). */
  readonly handOff?: (handle: string) => void;
  /** Set by the target stage as soon as a target exists: what teardown removes (or keeps). */
  made?: { target: DrillTarget; database: string; restorer?: string };
  /** A database made on an existing server is dropped also when the run is cancelled. */
  forgetCreated?: () => void;
  /** Exact row counts taken while the restore ran (SideCounts): the volume stage counts the rest. */
  counted?: Map<string, number>;
  /** The scratch cluster started while the backup is read, until the target stage takes it. */
  early?: EarlyTarget;
}

/** A drill whose backup verified: there is a dump to restore, and the name of its database. */
export interface VerifiedDrill extends DrillContext {
  readonly ins: Inspection;
  readonly backup: BackupFacts & { localPath: string };
  readonly database: string;
}

/** A drill with its target: the database made for the dump, and how it sorts. */
export interface TargetedDrill extends VerifiedDrill {
  readonly target: DrillTarget;
  /** The drill's database as the restore and every check after reach it (the restorer's, on scratch). */
  readonly conn: ConnInfo;
  readonly collation: TargetCollation | undefined;
  /**
   * On a scratch cluster: the restore runs as the restorer (postgres/owners.ts), without owners,
   * after what this made for it; the superuser of target.conn() gives the owners back.
   */
  readonly prepared?: Prepared;
}

/** The stages of a drill after verify, in order (teardown runs last, also on failure). */
export const DRILL_STAGES = [
  'target',
  'restore',
  'structure',
  'volume',
  'semantics',
  'compare',
  'integrity',
  'teardown',
];
