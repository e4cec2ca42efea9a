/**
 * End to end, in Debian's Chromium against `charmer serve`: a tiny model trained on the built-in
 * names into a fresh library, then Inspect: the validation text shaded by a cell, switching cells,
 * hovering a character for its five guesses, the sample-evolution strip, and a PNG export.
 * Screenshot to test-results/screenshots/inspect.png (docs/screenshots/ with CHARMER_UPDATE_SCREENSHOTS=1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ROOT, browser, hasChromium, serve, type Served, SHOTS, openApp, type PageProblems, tearDown } from './helpers.ts';

describe.skipIf(!hasChromium)('Inspect, end to end', () => {
  let dir: string;
  let dataDir: string;
  let server: Served;
  let ctx: BrowserContext;
  let page: Page;
  const problems: PageProblems = { csp: [], errors: [] };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'charmer-e2e-inspect-'));
    dataDir = join(dir, 'library');
    mkdirSync(SHOTS, { recursive: true });
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'bin/charmer.js'),
        'train',
        'names',
        '--data-dir',
        dataDir,
        '--max-iters',
        '60',
        '--rnn-size',
        '32',
        '--backend',
        'wasm',
        '--eval-every',
        '20',
        '--sample-every',
        '20',
      ],
      { cwd: ROOT, stdio: 'pipe', timeout: 120_000 },
    );
    // The renderer of this checkout was built once by the global setup (test/e2e/build-renderer.ts).
    server = await serve(dataDir);
    ctx = await browser();
    page = await openApp(ctx, server.url, problems);
  }, 180_000);

  afterAll(() => tearDown(ctx, server, dir));

  it('opens Inspect on the trained model, switches cells, shows five guesses on hover, exports a PNG', async () => {
    await page.getByRole('button', { name: 'Inspect', exact: true }).first().click();
    const textarea = page.getByLabel('Text to inspect');
    await expect.poll(() => textarea.inputValue(), { timeout: 15_000 }).toMatch(/\w+\n\w+/);
    await expect.poll(() => page.getByText(/From validation items/).count()).toBe(1);

    // The sample-evolution strip: samples at iterations 20, 40, 60 with their loss.
    const strip = page.getByLabel('Sample evolution');
    await expect.poll(() => strip.textContent(), { timeout: 10_000 }).toMatch(/iteration 20.*loss \d\.\d{3}/s);

    await page.locator('section.inspect').getByRole('button', { name: 'Inspect', exact: true }).click();
    const caption = page.getByTestId('caption');
    await expect.poll(() => caption.textContent(), { timeout: 30_000 }).toMatch(/^layer \d (h|tanh\(c\)), cell \d+$/);
    const chars = page.locator('[data-testid=cell-text] span.ch');
    expect(await chars.count()).toBeGreaterThan(100);
    // Shaded: blue or green backgrounds.
    const bg = await chars.nth(2).evaluate((el) => (el as HTMLElement).style.backgroundColor);
    expect(bg).toMatch(/rgba\((66, 135, 245|60, 200, 90)/);

    // Switch cells: by number, with Next, and from the interesting-cells list.
    await page.getByLabel('Layer').selectOption({ label: 'layer 2 tanh(c)' });
    await page.getByLabel('Cell', { exact: true }).fill('7');
    await page.getByLabel('Cell', { exact: true }).press('Enter');
    await expect.poll(() => caption.textContent()).toBe('layer 2 tanh(c), cell 7');
    await page.getByRole('button', { name: 'Next cell' }).click();
    await expect.poll(() => caption.textContent()).toBe('layer 2 tanh(c), cell 8');
    const first = page.getByLabel('Interesting cells').getByRole('button').first();
    const label = (await first.locator('.mono').textContent())!; // "L1 h #12"
    await first.click();
    const m = /^L(\d) (h|c) #(\d+)$/.exec(label)!;
    await expect.poll(() => caption.textContent()).toBe(`layer ${m[1]} ${m[2] === 'c' ? 'tanh(c)' : 'h'}, cell ${m[3]}`);

    // Hover a character: its five guesses, shaded by probability.
    await chars.nth(3).hover();
    const guesses = page.getByTestId('guess');
    await expect.poll(() => guesses.count()).toBe(5);
    const ps = await guesses.locator('.p').allTextContents();
    const values = ps.map((p) => Number(p.replace('%', '')));
    expect([...values].sort((a, b) => b - a)).toEqual(values);
    expect(values.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(100.5);

    await page.screenshot({ path: join(SHOTS, 'inspect.png') });

    // Surprise mode, then back.
    await page.getByRole('button', { name: 'Surprise' }).click();
    await expect.poll(() => caption.textContent()).toMatch(/^surprise/);
    expect(await chars.nth(2).evaluate((el) => (el as HTMLElement).style.backgroundColor)).toMatch(/rgba\(240, 80, 60/);

    // Export PNG: a download that is a PNG.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export PNG' }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.png$/);
    const png = readFileSync((await download.path())!);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.length).toBeGreaterThan(2000);
    await download.saveAs(join(ROOT, 'test-results/screenshots/inspect-export.png'));

    const [html] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export HTML' }).click()]);
    expect(html.suggestedFilename()).toMatch(/\.html$/);
    expect(readFileSync((await html.path())!, 'utf8')).toMatch(/<span style="background:rgba/);

    expect(problems.csp).toEqual([]);
    expect(problems.errors).toEqual([]);
  }, 90_000);
});
