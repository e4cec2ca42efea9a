import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Component tests of the Svelte renderer (test/renderer) in jsdom, with the browser build of Svelte.
export default defineConfig({
  plugins: [svelte()],
  resolve: { conditions: ['browser'] },
  test: {
    name: 'renderer',
    environment: 'jsdom',
    include: ['test/renderer/**/*.test.ts'],
    setupFiles: ['test/renderer/setup-uplot.ts'],
    testTimeout: 30_000,
  },
});
