/**
 * The renderer's build, shared by electron-vite (npm run build) and browser mode (`charmer serve`
 * builds it with this file when out/renderer is missing): Svelte 5, relative asset paths so the
 * same files load from file:// in Electron and from the token-guarded server.
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import type { UserConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export const rendererRoot = root;
export const rendererOutDir = resolve(root, '../../out/renderer');

export function rendererConfig(): UserConfig {
  return {
    root,
    base: './',
    plugins: [svelte()],
    build: {
      outDir: rendererOutDir,
      emptyOutDir: true,
      target: 'chrome120',
      chunkSizeWarningLimit: 1500,
      // No inline scripts or data: modules: the CSP forbids them.
      assetsInlineLimit: 0,
      modulePreload: { polyfill: false },
    },
  };
}

export default rendererConfig();
