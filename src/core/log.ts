/**
 * What the core may say while it works. The action maps it onto @actions/core, the command line onto
 * the terminal, tests onto an array. The core never imports @actions/*.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** Register a value that must never be printed (a password, a token, a presigned signature). */
  secret(value: string): void;
}

export const silentLogger: Logger = {
  info() {},
  warn() {},
  debug() {},
  secret() {},
};

/** A logger that keeps every line, for tests. */
export function memoryLogger(): Logger & { lines: string[]; secrets: string[] } {
  const lines: string[] = [];
  const secrets: string[] = [];
  return {
    lines,
    secrets,
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`warning: ${m}`),
    debug: (m) => lines.push(`debug: ${m}`),
    secret: (s) => secrets.push(s),
  };
}
