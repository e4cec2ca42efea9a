/**
 * The UI's worst response time while a model trains (issue: the window never freezes): browser mode
 * with a fresh library, the names preset training, and view switches timed from click to the view
 * being shown. Prints one JSON line. Needs Debian's Chromium (/usr/bin/chromium).
 *
 *   npx tsx bench/ui-response.ts [--seconds 30]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browser, hasChromium, serve } from '../test/e2e/helpers.ts';

const arg = process.argv.indexOf('--seconds');
const seconds = arg >= 0 ? Number(process.argv[arg + 1]) : 30;

if (!hasChromium) {
  console.log(JSON.stringify({ bench: 'ui-response', skipped: 'no /usr/bin/chromium (apt-get install chromium)' }));
  process.exit(0);
}
const server = await serve(mkdtempSync(join(tmpdir(), 'charmer-bench-ui-')));
const context = await browser();
try {
  const page = await context.newPage();
  await page.goto(server.url);
  const nav = page.getByRole('navigation', { name: 'Views' });
  await nav.getByRole('button', { name: 'Train' }).click();
  await page.getByLabel('Corpus').selectOption({
    label: (await page
      .getByLabel('Corpus')
      .locator('option', { hasText: /^names/ })
      .textContent())!,
  });
  await page.getByRole('radio', { name: /Names: fast/ }).click();
  await page.getByRole('button', { name: 'Start training' }).click();
  await page.getByTestId('run-status').filter({ hasText: 'running' }).waitFor({ timeout: 60_000 });
  const times: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    for (const [button, region] of [
      ['Library', 'Library'],
      ['Train', 'Train'],
    ] as const) {
      const t = performance.now();
      await nav.getByRole('button', { name: button }).click();
      await page.getByRole('region', { name: region }).waitFor();
      times.push(performance.now() - t);
    }
    await page.waitForTimeout(250);
  }
  times.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bench: 'ui-response',
      during: 'training names-fast in browser mode',
      clicks: times.length,
      median_ms: Math.round(times[Math.floor(times.length / 2)]!),
      p95_ms: Math.round(times[Math.floor(times.length * 0.95)]!),
      worst_ms: Math.round(times.at(-1)!),
    }),
  );
} finally {
  await context.close();
  await server.stop();
}
