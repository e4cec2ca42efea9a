/**
 * Vitest global setup: build the renderer of this checkout once, before any end-to-end test file
 * serves it. The e2e files run in parallel; each rebuilding out/renderer itself would race.
 */
import { existsSync } from 'node:fs';
import { CHROMIUM } from './helpers.ts';

export default async function setup(): Promise<void> {
  if (!existsSync(CHROMIUM)) return; // the e2e tests skip; nothing to serve
  const { buildRenderer } = await import('../../src/cli/commands/serve.ts');
  await buildRenderer(() => {});
}
