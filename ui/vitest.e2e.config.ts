import { defineConfig } from 'vitest/config';

// The end-to-end test: builds and starts the real stack, drives Debian's Chromium.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['e2e/**/*.e2e.ts'],
    // A process of its own, so the stack's teardown can hook the process's exit and signals.
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 30 * 60_000,
    fileParallelism: false,
  },
});
