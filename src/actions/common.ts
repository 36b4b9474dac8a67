import path from 'node:path';
import * as core from '@actions/core';
import { errorMessage, ToolMissingError, UserError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { inlinePassword } from '../postgres/auth.js';
import { stageProgress as progressListener } from '../report/progress.js';
import { markdownSummary, type Reportable, writeJsonReport } from '../report/render.js';
import type { StageListener } from '../report/stages.js';

/** The inputs given in `with:`, as the runner passes them (INPUT_<NAME> variables). */
export function actionInputs(): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('INPUT_') || v === undefined) continue;
    const value = v.trim();
    if (value !== '') raw[k.slice(6).toLowerCase().replace(/_/g, '-')] = value;
  }
  return raw;
}

export const actionsLogger: Logger = {
  info: (m) => core.info(m),
  warn: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  secret: (s) => core.setSecret(s),
};

/**
 * The database-url output of a kept scratch cluster: the report and summary show it with its
 * password file (no password), later steps' tools get the password inline, masked in every log.
 */
export function keptUrlOutput(shown: string | undefined): Record<string, string> {
  const inline = shown ? inlinePassword(shown, (s) => core.setSecret(s)) : undefined;
  return inline ? { 'database-url': inline } : {};
}

/**
 * Each stage's line in the step's log as it ends (`restore: ok in 1.20s`, with why it did not run),
 * and while it runs, a line every ~10 s of what it has done so far.
 */
export const stageProgress: StageListener = progressListener(
  { line: (text) => core.info(text) },
  (s) => `${s.name}: ${s.status} in ${s.seconds.toFixed(2)}s${s.reason ? ` (${s.reason})` : ''}`,
);

/** Report, set outputs, write the job summary, and fail the step unless the verdict is pass. */
export async function publish(
  result: Reportable,
  opts: { report?: string; workDir: string; title: string; facts: [string, string][]; extra?: string },
  outputs: (reportPath: string) => Record<string, string>,
): Promise<void> {
  const reportPath = writeJsonReport(
    result,
    opts.report ?? path.join(opts.workDir, `${result.command}-report.json`),
  );
  for (const [k, v] of Object.entries(outputs(reportPath))) core.setOutput(k, v);
  await core.summary
    .addRaw(markdownSummary(result, opts.title, opts.facts) + (opts.extra ? `\n${opts.extra}\n` : ''))
    .write();
  if (result.verdict !== 'pass') {
    const top = result.findings.find((f) => !f.ignored);
    core.setFailed(`${opts.title}: ${result.verdict}${top ? ` (${top.rule}: ${top.message})` : ''}`);
  }
}

/** Run an action body: a user's mistake is one clear line, never a stack trace. */
export async function runAction(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof UserError || e instanceof ToolMissingError) core.setFailed(e.message);
    else
      core.setFailed(
        `internal error (please report it): ${e instanceof Error ? (e.stack ?? e.message) : errorMessage(e)}`,
      );
  }
}
