import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/harness/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests start real PostgreSQL clusters; two cores do not take many at once.
    maxWorkers: 2,
    reporters: ['default', './test/harness/closing-line.ts'],
    // GitHub's workflow parser imports its schema JSON without an import attribute, which Node's
    // own loader refuses (tsx, which lint:actions runs under, does not): let vite load it.
    server: { deps: { inline: ['@actions/workflow-parser'] } },
  },
});
