import fs from 'node:fs';
import { afterEach } from 'vitest';
import { createServices, type Services } from '../../src/services/index.ts';
import { tempDir } from '../store/helpers.ts';

/**
 * Call once at the top of a test file: `services()` opens the services over a fresh library folder,
 * and everything pushed to `cleanup` (those services and folders included) is undone after each test.
 */
export function servicesPerTest(): { services: () => Promise<{ s: Services; d: string }>; cleanup: Array<() => Promise<void> | void> } {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  async function services(): Promise<{ s: Services; d: string }> {
    const d = tempDir();
    const s = await createServices({ dataDir: d });
    cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
    cleanup.push(() => s.close());
    return { s, d };
  }
  return { services, cleanup };
}
