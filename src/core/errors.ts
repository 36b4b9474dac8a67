/**
 * A mistake in what the user gave us (an input, a flag, a config file). Entries print its message on
 * one line, without a stack trace, and exit non-zero. The message names the input, what was wrong
 * and how to fix it.
 */
export class UserError extends Error {
  constructor(
    readonly input: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${input}: ${problem}. ${fix}`);
    this.name = 'UserError';
  }
}

/** A program we need is not installed; the message says how to install it. */
export class ToolMissingError extends Error {
  constructor(
    readonly tool: string,
    readonly install: string,
  ) {
    super(`${tool} is not installed or not on PATH. Install it: ${install}`);
    this.name = 'ToolMissingError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
