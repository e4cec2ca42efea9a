/**
 * Names end to end, in Debian's Chromium against `charmer serve`: a two-category CSV (elves and
 * dwarves, told apart by their letters) is dropped into the Library with its category column
 * chosen (a CSV with an empty category is refused first, leaving the library as it was); a tiny
 * model trains on it; Generate writes names for each category; a name card opens; three names are
 * kept and are in the Gallery's shortlist, with their cards, after a server restart.
 * Screenshots: name-cards.png (test-results/screenshots/, docs/screenshots/ with CHARMER_UPDATE_SCREENSHOTS=1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ROOT, browser, hasChromium, openApp, serve, SHOTS, tearDown, type PageProblems, type Served } from './helpers.ts';
import { DWARF, ELF, twoKindCsv } from '../engine/folk.ts';

const inAlphabet = (name: string, letters: string) => [...name.toLowerCase()].every((c) => letters.includes(c));

function charmer(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/charmer.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`charmer ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

describe.skipIf(!hasChromium)('names with categories, end to end', () => {
  let dir: string;
  let dataDir: string;
  let csv: string;
  let server: Served;
  let ctx: BrowserContext;
  let page: Page;
  const problems: PageProblems = { csp: [], errors: [] };
  const kept: string[] = [];
  const nav = (name: string) => page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name, exact: true }).click();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'charmer-e2e-names-'));
    dataDir = join(dir, 'library');
    mkdirSync(SHOTS, { recursive: true });
    csv = join(dir, 'folk.csv');
    writeFileSync(csv, twoKindCsv(150, 11));
    writeFileSync(join(dir, 'holes.csv'), 'name,kind\nAelin,elf\nBorin,\n');
    server = await serve(dataDir);
    ctx = await browser();
    page = await openApp(ctx, server.url, problems);
  }, 180_000);

  afterAll(() => tearDown(ctx, server, dir));

  it('refuses a CSV with an empty category, then imports the two-category CSV with its column chosen', async () => {
    await nav('Library');
    const library = page.getByRole('region', { name: 'Library' });
    const corpora = library.getByRole('list', { name: 'Corpora' });
    await corpora.getByRole('button').first().waitFor();
    await page.getByTestId('file-input').setInputFiles(join(dir, 'holes.csv'));
    await page.getByTestId('table-choice').waitFor();
    await page.getByLabel('Category column kind').check();
    await library.getByRole('button', { name: 'Import', exact: true }).click();
    await expect
      .poll(async () => (await page.getByTestId('import-error').textContent()) ?? '')
      .toMatch(/Line 3 of holes(\.csv)? \("Borin"\) has no value in the category column "kind"/);
    // By name, not by count: the list may still be filling with the starters' corpora on a busy machine.
    expect(await corpora.getByRole('button', { name: /^holes/ }).count()).toBe(0);
    await library.getByRole('button', { name: 'Cancel' }).click();

    await page.getByTestId('file-input').setInputFiles(csv);
    await page.getByTestId('table-choice').waitFor();
    expect(await page.getByLabel('Name column').inputValue()).toBe('name');
    await page.getByLabel('Category column kind').check();
    await library.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByTestId('corpus-categories').filter({ hasText: 'dwarf, elf' }).waitFor({ timeout: 20_000 });
    await expect.poll(() => corpora.getByRole('button', { name: /^folk/ }).count()).toBe(1);
    expect(await corpora.getByRole('button', { name: /^holes/ }).count()).toBe(0);
  });

  it('trains one model on it and generates names for each category', async () => {
    // The same CSV and column: the command line finds the corpus just imported and trains on it.
    const out = await charmer([
      'train',
      csv,
      '--categories',
      'kind',
      '--data-dir',
      dataDir,
      '--rnn-size',
      '48',
      '--num-layers',
      '1',
      '--batch-size',
      '32',
      '--learning-rate',
      '0.01',
      '--max-iters',
      '300',
      '--eval-every',
      '150',
      '--sample-every',
      '0',
      '--backend',
      'wasm',
      '--threads',
      '1',
      '--quiet',
    ]);
    expect(out).toMatch(/Run \d+|/);
    await nav('Generate');
    const region = page.getByRole('region', { name: 'Generate' });
    const model = region.getByLabel('Model');
    await model.waitFor();
    // The Generate view lists models when it opens: reopen it so the new run is there.
    await nav('Library');
    await nav('Generate');
    await expect.poll(async () => (await model.locator('option').allTextContents()).some((t) => /^folk.*best/.test(t)), { timeout: 20_000 }).toBe(true);
    const label = (await model.locator('option').allTextContents()).find((t) => /^folk.*best/.test(t))!;
    await model.selectOption({ label });
    for (const [kind, letters] of [
      ['dwarf', DWARF],
      ['elf', ELF],
    ] as const) {
      const chip = region.getByRole('group', { name: 'Category kind' }).getByRole('button', { name: kind, exact: true });
      const other = region.getByRole('group', { name: 'Category kind' }).getByRole('button', { name: kind === 'elf' ? 'dwarf' : 'elf', exact: true });
      if ((await other.getAttribute('aria-pressed')) === 'true') await other.click();
      await chip.click();
      await expect
        .poll(
          async () => {
            const cats = await page.getByTestId('item-category').allTextContents();
            return cats.length > 0 && cats.every((c) => c === kind);
          },
          { timeout: 30_000 },
        )
        .toBe(true);
      const names = await page.getByTestId('item-text').allTextContents();
      expect(names.length).toBeGreaterThan(5);
      expect(names.filter((n) => inAlphabet(n, letters)).length / names.length).toBeGreaterThan(0.8);
    }
  });

  it('opens a name card and keeps three names', async () => {
    const first = page.getByTestId('generated-item').first();
    const name = (await first.getByTestId('item-text').textContent())!;
    await first.getByRole('button', { name: `Card of ${name}` }).click();
    const card = page.getByTestId('card-panel').getByTestId('name-card');
    await card.getByTestId('card-name').filter({ hasText: name }).waitFor({ timeout: 20_000 });
    await card.getByTestId('card-likelihood').waitFor();
    expect(await card.getByTestId('card-status').textContent()).toMatch(/known name|new name/);
    for (let i = 0; i < 3; i++) {
      const item = page.getByTestId('generated-item').nth(i);
      kept.push((await item.getByTestId('item-text').textContent())!);
      await item.locator('button.name').click();
      await item.locator('button.name[disabled]').waitFor({ timeout: 20_000 });
    }
    await page.mouse.move(1200, 800);
    await page.screenshot({ path: join(SHOTS, 'name-card-generate.png') });
  });

  it('shows the three in the shortlist, with their cards, after a restart', async () => {
    await page.close();
    await server.stop();
    server = await serve(dataDir);
    page = await openApp(ctx, server.url, problems);
    await nav('Gallery');
    await page.getByLabel('Tag').selectOption('shortlist');
    await expect.poll(async () => page.getByTestId('shortlist-item').count(), { timeout: 20_000 }).toBe(3);
    const names = await page.getByTestId('shortlist').getByTestId('card-name').allTextContents();
    expect(names.sort()).toEqual([...kept].sort());
    const chips = await page.getByTestId('shortlist').locator('.chip').allTextContents();
    expect(chips.every((c) => c === 'elf')).toBe(true);
    await page.mouse.move(1200, 800);
    await page.screenshot({ path: join(SHOTS, 'name-cards.png') });
    expect(problems.csp).toEqual([]);
    expect(problems.errors).toEqual([]);
  });
});
