/**
 * electron-vite: main (plus the training worker as a second entry, run by utilityProcess), the
 * sandboxed preload (CommonJS, as sandboxed preloads must be) and the Svelte renderer.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { rendererConfig } from './src/renderer/vite.config.ts';

const worker = resolve('src/worker/train-process.ts');
const engine = resolve('src/engine/index.ts');

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      externalizeDeps: true,
      rollupOptions: {
        input: {
          index: resolve('src/main/index.ts'),
          ...(existsSync(worker) ? { 'train-process': worker } : {}),
          // The worker loads the engine lazily by path (CHARMER_ENGINE_MODULE points here).
          ...(existsSync(engine) ? { engine } : {}),
          // Worker threads: sampling/inspection (ModelHost) and data-parallel training.
          'model-thread': resolve('src/worker/model-thread.ts'),
          'parallel-worker': resolve('src/engine/parallel/worker.ts'),
        },
        output: { format: 'es', entryFileNames: '[name].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      externalizeDeps: true,
      rollupOptions: {
        input: { index: resolve('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    ...rendererConfig(),
    build: {
      ...rendererConfig().build,
      rollupOptions: { input: { index: resolve('src/renderer/index.html') } },
    },
  },
});
