/**
 * What must happen when a run is cancelled: the runner sends SIGINT, then SIGTERM 7.5 s later, and
 * Node skips 'exit' handlers on a signal. Handlers run synchronously, newest first, then the process
 * exits with 130 (SIGINT) or 143 (SIGTERM).
 */
const handlers: (() => void)[] = [];
let installed = false;

export function onCancel(fn: () => void): () => void {
  if (!installed) {
    installed = true;
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.once(signal, () => {
        for (const h of [...handlers].reverse()) {
          try {
            h();
          } catch {
            // Best effort: one failing clean-up must not stop the others.
          }
        }
        process.exit(code);
      });
    }
  }
  handlers.push(fn);
  return () => {
    const i = handlers.indexOf(fn);
    if (i >= 0) handlers.splice(i, 1);
  };
}
