/**
 * End to end, in Debian's Chromium against `charmer serve`: a tiny Transformer trained (by
 * iterations, not time) on a text where only the previous character predicts the next, then
 * Inspect: the heads ranked with one tracking the previous character, attention drawn over the
 * text from a clicked character, and every head as a grid.
 * Screenshot to test-results/screenshots/inspect-attention.png (docs/screenshots/ with CHARMER_UPDATE_SCREENSHOTS=1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ROOT, browser, hasChromium, serve, type Served, SHOTS, openApp, type PageProblems, tearDown } from './helpers.ts';
import { previousCharText } from '../engine/synthetic-text.ts';

describe.skipIf(!hasChromium)('Inspect a Transformer’s attention, end to end', () => {
  let dir: string;
  let server: Served;
  let ctx: BrowserContext;
  let page: Page;
  const problems: PageProblems = { csp: [], errors: [] };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'charmer-e2e-attention-'));
    const dataDir = join(dir, 'library');
    const corpus = join(dir, 'chains.txt');
    writeFileSync(corpus, previousCharText(20_000, 1));
    mkdirSync(SHOTS, { recursive: true });
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'bin/charmer.js'),
        'train',
        corpus,
        '--data-dir',
        dataDir,
        '--backend',
        'wasm',
        '--threads',
        '1',
        '--model',
        'transformer',
        '--n-layer',
        '1',
        '--n-head',
        '2',
        '--n-embd',
        '32',
        '--block-size',
        '32',
        '--batch-size',
        '16',
        '--learning-rate',
        '0.003',
        '--max-iters',
        '150',
        '--eval-every',
        '150',
        '--sample-every',
        '0',
      ],
      { cwd: ROOT, stdio: 'pipe', timeout: 240_000 },
    );
    server = await serve(dataDir);
    ctx = await browser();
    page = await openApp(ctx, server.url, problems);
  }, 300_000);

  afterAll(() => tearDown(ctx, server, dir));

  it('ranks a head as "previous character" and draws its attention from a clicked character', async () => {
    await page.getByRole('button', { name: 'Inspect', exact: true }).first().click();
    const textarea = page.getByLabel('Text to inspect');
    await expect.poll(() => textarea.inputValue(), { timeout: 15_000 }).toMatch(/^[a-h]+\n[a-h]+/);
    await page.locator('section.inspect').getByRole('button', { name: 'Inspect', exact: true }).click();

    // The ranked heads: the best tracks the previous character, well above chance.
    const heads = page.getByLabel('Ranked heads').getByRole('button');
    await expect.poll(() => heads.count(), { timeout: 60_000 }).toBe(2);
    const top = (await heads.first().textContent())!.replace(/\s+/g, ' ').trim();
    const m = /^L1 H(\d) previous character (\d\.\d\d)$/.exec(top);
    expect(m, top).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(0.6);

    // That head is shown from a character with a full block behind it: the one before is the darkest.
    const caption = page.getByTestId('attention-caption');
    await expect.poll(() => caption.textContent(), { timeout: 15_000 }).toBe(`L1 H${m![1]} (tracks previous character, ${m![2]}), from character 31`);
    const chars = page.locator('[data-testid=cell-text] span.ch');
    const alpha = (i: number) =>
      chars.nth(i).evaluate((el) => {
        const c = (el as HTMLElement).style.backgroundColor;
        const a = /rgba\(255, 170, 40, ([\d.]+)\)/.exec(c);
        return a ? Number(a[1]) : 0;
      });
    await expect.poll(() => chars.nth(31).getAttribute('class')).toMatch(/\bmark\b/);
    await expect.poll(() => alpha(30)).toBeGreaterThan(0);

    // Click a later character (not a newline, where the pattern breaks): drawn from there.
    const text = await textarea.inputValue();
    let pos = 120;
    while (text[pos] === '\n' || text[pos - 1] === '\n') pos++;
    await chars.nth(pos).click();
    await expect.poll(() => caption.textContent()).toMatch(new RegExp(`from character ${pos}$`));
    await expect.poll(() => chars.nth(pos).getAttribute('class')).toMatch(/\bmark\b/);
    await expect.poll(() => alpha(pos - 1)).toBeGreaterThan(0.5);
    const seen = await Promise.all(Array.from({ length: 32 }, (_, k) => alpha(pos - k)));
    expect(Math.max(...seen)).toBe(seen[1]);
    // Nothing after the position, nor beyond the block behind it, is attended.
    expect(await alpha(pos + 1)).toBe(0);
    expect(await alpha(pos - 40)).toBe(0);
    await chars.nth(pos - 1).hover();
    await expect.poll(() => page.getByTestId('attention-info').textContent()).toMatch(/L1 H\d puts \d+% of its attention from/);

    // Every head at once.
    await page.getByLabel('all heads').check();
    await expect.poll(() => page.getByTestId('grid-head').count()).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'inspect-attention.png') });

    // The view as a PNG: a download that is one.
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export PNG' }).click()]);
    expect(png.suggestedFilename()).toMatch(/-L1-H\d-at-\d+\.png$/);
    expect([...readFileSync((await png.path())!).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);

    expect(problems.csp).toEqual([]);
    expect(problems.errors).toEqual([]);
  }, 120_000);
});
