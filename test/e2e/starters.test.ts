/**
 * In Chromium against `charmer serve` with an empty data folder and the shipped starters: Generate
 * lists them and produces names at once, the companion suggests continuations with no training and
 * says which model it uses, Inspect shows a starter's cells, the Train view offers them as a base,
 * and deleting the corpus a starter trains on is refused in the UI with nothing lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ROOT, browser, hasChromium, serve, type Served, SHOTS, openApp, type PageProblems, tearDown } from './helpers.ts';

const STARTERS = join(ROOT, 'resources/starters');
const ready = existsSync(join(STARTERS, 'baby-names/model.json')) && existsSync(join(STARTERS, 'shakespeare/model.json'));

describe.skipIf(!hasChromium || !ready)('starter models in the app, empty data folder', () => {
  let dir: string;
  let server: Served;
  let ctx: BrowserContext;
  let page: Page;
  const problems: PageProblems = { csp: [], errors: [] };
  const before = process.env.CHARMER_STARTERS;
  const nav = (name: string) => page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name, exact: true }).click();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'charmer-e2e-starters-'));
    mkdirSync(SHOTS, { recursive: true });
    process.env.CHARMER_STARTERS = STARTERS; // serve() passes this process's environment on
    server = await serve(join(dir, 'library'));
    ctx = await browser();
    page = await openApp(ctx, server.url, problems);
  }, 180_000);

  afterAll(async () => {
    process.env.CHARMER_STARTERS = before;
    await tearDown(ctx, server, dir);
  });

  it('Generate lists the starters and produces names from baby-names', async () => {
    await nav('Generate');
    const model = page.getByRole('region', { name: 'Generate' }).getByLabel('Model');
    await model.locator('option', { hasText: /^shakespeare \(starter\)/ }).waitFor({ state: 'attached' });
    // A fresh library opens Generate on the baby-names starter and generates at once.
    await page
      .getByTestId('result-count')
      .filter({ hasText: /items · \d+ ms/ })
      .waitFor({ timeout: 60_000 });
    const names = await page.getByTestId('item-text').allTextContents();
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(n.trim()).toMatch(/^\S/);
    expect(await model.evaluate((el) => (el as HTMLSelectElement).selectedOptions[0]?.textContent ?? '')).toMatch(/^baby-names \(starter\)/);
  });

  it('the companion suggests continuations from shakespeare and says so', async () => {
    await nav('Companion');
    await expect.poll(() => page.getByTestId('companion-model').textContent(), { timeout: 20_000 }).toMatch(/shakespeare \(starter\).*starter model/);
    const editor = page.getByLabel('Draft', { exact: true });
    await editor.click();
    await editor.pressSequentially('ROMEO:\nWhat light through yonder ', { delay: 5 });
    await editor.press('Tab');
    await page.getByTestId('suggestion').first().waitFor({ timeout: 60_000 });
    expect(((await page.getByTestId('suggestion').first().locator('.stext').textContent()) ?? '').length).toBeGreaterThan(0);
  });

  it("Inspect shows the shakespeare starter's cells", async () => {
    await page.getByRole('button', { name: 'Inspect', exact: true }).first().click();
    const run = page.getByLabel('Run');
    const label = await run.locator('option', { hasText: /^shakespeare \(starter\)/ }).textContent();
    await run.selectOption({ label: label! });
    await page.getByLabel('Text to inspect').fill('ROMEO:\nBut soft, what light through yonder window breaks?\n');
    await page.locator('section.inspect').getByRole('button', { name: 'Inspect', exact: true }).click();
    await expect.poll(() => page.getByTestId('caption').textContent(), { timeout: 60_000 }).toMatch(/^layer \d (h|tanh\(c\)), cell \d+$/);
    expect(await page.locator('[data-testid=cell-text] span.ch').count()).toBeGreaterThan(40);
  });

  it('Train suggests starting a small text from shakespeare', async () => {
    await nav('Library');
    const file = join(dir, 'letters.txt');
    const para = 'My dear friend, I write to you from the house by the river, where the evenings are long and the lamps are lit early. ';
    writeFileSync(
      file,
      Array.from({ length: 60 }, (_, i) => `${para}This is letter ${i + 1}, and there will be more of them before the winter ends.`).join('\n\n') + '\n',
    );
    await page.getByTestId('file-input').setInputFiles(file);
    const pending = page.getByTestId('pending-import');
    await pending.waitFor();
    await pending.getByLabel(/text — one continuous stream/).check();
    await pending.getByRole('button', { name: 'Import' }).click();
    await page.getByRole('heading', { name: 'letters', exact: true }).waitFor();
    await nav('Train');
    const corpus = page.getByLabel('Corpus');
    await corpus.selectOption({ label: (await corpus.locator('option', { hasText: /^letters/ }).textContent())! });
    await page
      .getByTestId('base-suggestion')
      .filter({ hasText: /shakespeare \(starter\)/ })
      .waitFor({ timeout: 20_000 });
    const base = page.getByLabel('Start from');
    const chosen = await base.evaluate((el) => (el as HTMLSelectElement).selectedOptions[0]?.textContent ?? '');
    expect(chosen).toMatch(/^shakespeare \(starter\)/);
  });

  it('Train marks starters read-only and offers them to start from', async () => {
    await nav('Train');
    await expect.poll(() => page.getByRole('list', { name: 'Runs' }).textContent()).toMatch(/shakespeare \(starter\).*starter · read-only/s);
    const corpus = page.getByLabel('Corpus');
    await corpus.selectOption({ label: (await corpus.locator('option', { hasText: /^tinyshakespeare/ }).textContent())! });
    const base = page.getByLabel('Start from');
    await base.locator('option', { hasText: /^shakespeare \(starter\)/ }).waitFor({ state: 'attached' });
    // tiny-shakespeare is over 200 KB: no suggestion, random weights until chosen.
    expect(await page.getByTestId('base-suggestion').count()).toBe(0);
  });

  it('a starter opened in Train can be copied into a run of ones own', async () => {
    await page
      .getByRole('list', { name: 'Runs' })
      .getByRole('button', { name: /^baby-names \(starter\)/ })
      .click();
    await page.getByTestId('run-title').filter({ hasText: 'baby-names (starter)' }).waitFor();
    await page.getByRole('button', { name: 'Make a copy' }).click();
    await page.getByTestId('run-title').filter({ hasText: 'baby-names (copy)' }).waitFor({ timeout: 20_000 });
    expect(await page.getByRole('button', { name: 'Make a copy' }).count()).toBe(0);
  });

  it("deleting the starter's corpus in the Library is refused with a sentence, and nothing is lost", async () => {
    await nav('Library');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: /^tinyshakespeare/ }).click();
    await page.getByRole('heading', { name: 'tinyshakespeare', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const alert = page.getByRole('alert').filter({ hasText: /starter model/ });
    await alert.waitFor({ timeout: 20_000 });
    expect(await alert.textContent()).toMatch(/cannot be deleted/);
    await nav('Generate');
    const model = page.getByRole('region', { name: 'Generate' }).getByLabel('Model');
    await model.locator('option', { hasText: /^shakespeare \(starter\)/ }).waitFor({ state: 'attached', timeout: 20_000 });
    expect(problems.errors).toEqual([]);
  });
});
