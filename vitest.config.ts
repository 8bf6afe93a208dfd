import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globals: false,
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Database suites create databases of their own; two workers fit a 2-core machine.
    maxWorkers: 2,
    // A node that failed is left alone for 1 ms instead of 5 s, so that a test about something else runs again at
    // once; the back-off tests set their own (the backOff option, or these variables for a mesh process).
    env: { WORKMESH_BACKOFF_BASE_MS: '1', WORKMESH_BACKOFF_CAP_MS: '1' },
  },
});
