import { defineConfig } from 'vitest/config';

// Engine, store, service and CLI tests run in Node; component tests (test/renderer) in jsdom
// through their own project; the end-to-end tests (test/e2e) drive Debian's Chromium.
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/renderer/**', 'node_modules/**'],
          globalSetup: ['test/e2e/build-renderer.ts'],
          // Tests start from a library without the shipped starters unless they ask for them
          // (test/starters/*), so that "a fresh library is empty" stays true for the rest.
          env: { CHARMER_STARTERS: 'none' },
        },
      },
      './vitest.renderer.config.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
