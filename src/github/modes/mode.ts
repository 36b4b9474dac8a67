import type { Values } from '../../core/inputs.js';
import type { Logger } from '../../core/log.js';
import type { NotifyTargets } from '../../report/notify.js';
import type { GitHubClient } from '../client.js';
import type { RunContext } from '../inputs.js';
import type { githubReportInputs } from '../spec.js';

export interface ReportDeps {
  /** Made on first use, so modes that need no API (notify, pitr-request) need no token. */
  client: () => GitHubClient;
  log: Logger;
  env: Record<string, string | undefined>;
  now: Date;
  fetchImpl?: typeof fetch;
}

export interface ReportResult {
  outputs: Record<string, string>;
  /** Markdown for the job summary. */
  summary: string;
}

/** What every mode is given: the inputs by name, the run, and the notification the inputs set up. */
export interface ModeRun {
  i: Values<typeof githubReportInputs>;
  deps: ReportDeps;
  ctx: RunContext;
  targets: NotifyTargets;
  /** Notify, as `notify-on` says, when a target is set. */
  send: (text: string, problem: boolean) => Promise<void>;
  database: string;
}

/** One mode of github-report. */
export type ModeHandler = (m: ModeRun) => Promise<ReportResult>;
