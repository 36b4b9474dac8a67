import type { Inputs } from './inputs.js';

export interface OutputSpec {
  name: string;
  description: string;
}

/**
 * One action: action.yml, the CLI's flags, the tables in docs/ and the typed options are all derived
 * from this (its inputs are typed specs, src/core/inputs.ts).
 */
export interface ActionSpec<I extends Inputs = Inputs> {
  /** The word shared by entries/, actions/, dist/ and actions/<name>/. */
  name: string;
  /** The CLI subcommand. */
  command: string;
  title: string;
  description: string;
  inputs: I;
  outputs: OutputSpec[];
  /** The action has a post step (the same bundle, run again at the end of the job). */
  post?: boolean;
  /** false: left out of the umbrella action (`command:`); a helper of the workflows, not a room. */
  umbrella?: boolean;
}
