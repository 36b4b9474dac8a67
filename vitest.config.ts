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
  },
});
