import type { Logger } from '../core/log.js';
import type { Reportable } from '../report/render.js';
import type { Pipeline } from '../report/stages.js';
import type { CompareOptions } from './options.js';
import type { Mode } from './side.js';

export interface CompareRow {
  table: string;
  source: number | null;
  target: number | null;
  difference: number | null;
  mode: Mode;
  drifted: boolean;
  sourceMax?: string | null;
  targetMax?: string | null;
}

export interface CompareResult extends Reportable {
  command: 'compare';
  source: string;
  target: string;
  rows: CompareRow[];
  compared: number;
  drifted: number;
  missing: number;
  baselineWritten?: string;
}

/** What every stage of a comparison reads and writes: the run's inputs, its pipeline, its result. */
export interface CompareContext {
  readonly opts: CompareOptions;
  readonly log: Logger;
  readonly pipe: Pipeline;
  readonly result: CompareResult;
}
