#!/usr/bin/env node
// The `charmer` command. It runs the build in out/cli (scripts/build-cli.mjs, made by `npm install`)
// while that is newer than every source it came from; otherwise the TypeScript sources through tsx's
// loader, so an edited checkout never runs stale code and needs no build step.
// CHARMER_FROM_SOURCES=1 always runs the sources.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshBuild } from './fresh-build.js';

const built = process.env.CHARMER_FROM_SOURCES === '1' ? null : freshBuild(fileURLToPath(new URL('..', import.meta.url)));
if (built) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
