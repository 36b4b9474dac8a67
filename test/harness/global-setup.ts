import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * One test run's temp folders carry its id (`tempDir` in pg.ts), so the run removes exactly its own
 * when it ends, whatever its tests forgot, and never another run's.
 */
export default function setup(): () => void {
  const run = `${process.pid}`;
  process.env.RESTORABLE_TEST_RUN = run;
  return () => {
    const prefix = `restorable-test-${run}-`;
    for (const name of fs.readdirSync(os.tmpdir())) {
      if (name.startsWith(prefix)) fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
    }
  };
}
