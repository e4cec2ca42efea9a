/**
 * End to end, in Debian's Chromium against `charmer serve`: a names model and a small text model
 * are trained into a fresh library first (small budgets, the command line). Generate 50 names with
 * "new only" and check none is in the corpus; move the temperature slider and see the names change;
 * keep three and find them in the Gallery after a server restart; export CSV and parse it; in the
 * companion, type, press Tab, accept a suggestion, restart, and find the draft intact.
 * Screenshots to test-results/screenshots/ (docs/screenshots/ with CHARMER_UPDATE_SCREENSHOTS=1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ROOT, browser, hasChromium, serve, type Served, SHOTS, openApp, type PageProblems, tearDown } from './helpers.ts';

function train(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/charmer.js'), 'train', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`charmer train ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

/** A small made-up English text: enough for a tiny model to learn words and spaces quickly. */
function storyText(): string {
  const pick = <T>(xs: T[], i: number) => xs[i % xs.length]!;
  const subj = ['the old man', 'a small boat', 'the sea', 'my sister', 'the wind', 'a dog', 'the captain', 'the morning light'];
  const verb = ['walked to', 'looked at', 'waited for', 'sailed past', 'remembered', 'found', 'followed', 'heard'];
  const obj = ['the harbour', 'the long road', 'a quiet house', 'the green hills', 'the river', 'an open door', 'the last train', 'the garden'];
  const tail = ['before dawn', 'in the rain', 'without a word', 'for a while', 'at last', 'again', 'that night', 'slowly'];
  let x = 7;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648);
  const out: string[] = [];
  for (let i = 0; i < 900; i++) {
    const s = `${pick(subj, next() >> 8)} ${pick(verb, next() >> 8)} ${pick(obj, next() >> 8)} ${pick(tail, next() >> 8)}.`;
    out.push(s[0]!.toUpperCase() + s.slice(1));
  }
  return out.join(' ') + '\n';
}

/** RFC 4180-ish: quoted cells with doubled quotes, CRLF or LF rows. */
function parseCsv(s: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let q = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === '"' && s[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') q = false;
      else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

describe.skipIf(!hasChromium)('Generate, Gallery and Companion, end to end', () => {
  let dir: string;
  let dataDir: string;
  let server: Served;
  let ctx: BrowserContext;
  let page: Page;
  const problems: PageProblems = { csp: [], errors: [] };
  let corpusNames: Set<string>;
  const kept: string[] = [];
  let draft = '';

  async function openPage() {
    page = await openApp(ctx, server.url, problems);
  }

  async function restart() {
    await page.close();
    await server.stop();
    server = await serve(dataDir);
    await openPage();
  }

  const nav = (name: string) => page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name, exact: true }).click();

  /** Every item of the virtualized list, scrolling through it. */
  async function allItems(): Promise<string[]> {
    const list = page.getByTestId('generated-list');
    const seen = new Set<string>();
    const total = await list.evaluate((el) => el.scrollHeight);
    for (let y = 0; y <= total; y += 300) {
      await list.evaluate((el, top) => {
        el.scrollTop = top;
        el.dispatchEvent(new Event('scroll'));
      }, y);
      await page.waitForTimeout(30);
      for (const t of await page.getByTestId('item-text').allTextContents()) seen.add(t);
    }
    return [...seen];
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'charmer-e2e-gen-'));
    dataDir = join(dir, 'library');
    mkdirSync(SHOTS, { recursive: true });
    const story = join(dir, 'story.txt');
    writeFileSync(story, storyText());
    const common = ['--data-dir', dataDir, '--rnn-size', '64', '--backend', 'wasm', '--threads', '1'];
    // The library (and its database) is created by the first; the second starts once it exists.
    await train(['names', ...common, '--max-iters', '200', '--learning-rate', '0.01']);
    await train([story, '--mode', 'text', ...common, '--max-iters', '400', '--batch-size', '20', '--learning-rate', '0.01', '--eval-every', '100']);
    const corpora = join(dataDir, 'corpora');
    const namesFile = readdirSync(corpora)
      .map((f) => readFileSync(join(corpora, f), 'utf8'))
      .find((t) => !t.includes('.'))!;
    corpusNames = new Set(namesFile.split('\n').filter(Boolean));
    expect(corpusNames.size).toBeGreaterThan(5000);
    // out/renderer is built once for all e2e files by test/e2e/build-renderer.ts (vitest globalSetup).
    server = await serve(dataDir);
    ctx = await browser();
    await openPage();
  }, 180_000);

  afterAll(() => tearDown(ctx, server, dir));

  it('generates 50 new names, none of them in the corpus', async () => {
    await nav('Generate');
    const model = page.getByRole('region', { name: 'Generate' }).getByLabel('Model');
    await model.waitFor();
    const label = await model.locator('option', { hasText: /^names.*best/ }).textContent();
    await model.selectOption({ label: label! });
    expect(await page.getByRole('checkbox', { name: /New only/ }).isChecked()).toBe(true);
    await page
      .getByTestId('result-count')
      .filter({ hasText: /items · \d+ ms/ })
      .waitFor({ timeout: 30_000 });
    expect((await page.getByTestId('result-count').textContent())!.trim()).toMatch(/^50 items/);
    const names = await allItems();
    expect(names).toHaveLength(50);
    expect(names.filter((n) => corpusNames.has(n))).toEqual([]);
    expect(await page.getByTestId('item-tag').allTextContents()).not.toContain('in training set');
  });

  it('re-samples as the temperature slider moves', async () => {
    const before = (await page.getByTestId('item-text').allTextContents()).join('|');
    await page.getByLabel('Temperature').fill('1.6');
    await expect.poll(async () => (await page.getByTestId('item-text').allTextContents()).join('|'), { timeout: 20_000 }).not.toBe(before);
    expect(await page.getByTestId('temperature-value').textContent()).toBe('1.60');
    await page.getByLabel('Temperature').fill('0.8');
    await page.getByTestId('temperature-value').filter({ hasText: '0.80' }).waitFor();
    await page.getByTestId('result-count').filter({ hasText: /ms$/ }).waitFor();
    await page.waitForTimeout(300);
    await page.getByTestId('generated-list').evaluate((el) => {
      el.scrollTop = 0;
      el.dispatchEvent(new Event('scroll'));
    });
    await page.mouse.move(1200, 800);
    await page.screenshot({ path: join(SHOTS, 'generate.png') });
  });

  it('keeps three as favourites and finds them in the Gallery after a restart; exports CSV', async () => {
    await page.getByTestId('generated-list').evaluate((el) => {
      el.scrollTop = 0;
      el.dispatchEvent(new Event('scroll'));
    });
    for (let i = 0; i < 3; i++) {
      const item = page.getByTestId('generated-item').nth(i);
      kept.push((await item.getByTestId('item-text').textContent())!);
      await item.getByRole('button', { name: 'Keep as favourite' }).or(item.locator('button.name')).first().click();
      await item.locator('button.name[disabled]').waitFor();
    }
    await restart();
    await nav('Gallery');
    await page.getByTestId('gallery-count').filter({ hasText: '3 kept items' }).waitFor({ timeout: 20_000 });
    const texts = (await page.getByTestId('gallery-text').allTextContents()).map((t) => t.replace(/(new|in training set|in validation set)$/, ''));
    expect(texts.sort()).toEqual([...kept].sort());
    expect(await page.getByRole('button', { name: 'Unmark favourite' }).count()).toBe(3);
    await page.getByLabel('Note for ' + kept[0]).fill('my favourite');
    await page.getByLabel('Note for ' + kept[0]).press('Enter');
    await page.getByLabel('Export format').selectOption('csv');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /^Export/ }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    const csv = parseCsv(readFileSync((await download.path())!, 'utf8'));
    const header = csv[0]!;
    const col = (name: string) => header.indexOf(name);
    expect(col('text')).toBeGreaterThanOrEqual(0);
    const rows = csv.slice(1);
    expect(rows.map((r) => r[col('text')]).sort()).toEqual([...kept].sort());
    expect(rows.every((r) => r[col('favorite')] === 'true' && r[col('runName')]!.startsWith('names'))).toBe(true);
    await page.mouse.move(1200, 800);
    await page.screenshot({ path: join(SHOTS, 'gallery.png') });
  });

  it('streams text from a prime, stops on request, and explains unknown characters', async () => {
    await nav('Generate');
    const region = page.getByRole('region', { name: 'Generate' });
    const model = region.getByLabel('Model');
    const label = await model.locator('option', { hasText: /^story.*best/ }).textContent();
    await model.selectOption({ label: label! });
    await page.getByLabel('Length').fill('20000');
    await page.getByLabel('Length').dispatchEvent('change');
    await page.getByLabel('Prime').fill('The old man');
    await region.getByRole('button', { name: 'Generate', exact: true }).click();
    const out = page.getByTestId('text-output');
    // Characters arrive while it writes; Stop ends it early with what was written.
    await expect.poll(async () => ((await out.textContent()) ?? '').length, { timeout: 20_000 }).toBeGreaterThan(40);
    await page.getByRole('button', { name: 'Stop' }).click();
    await region.getByRole('button', { name: 'Generate', exact: true }).waitFor();
    const written = (await out.textContent())!;
    expect(written.startsWith('The old man')).toBe(true);
    expect(written.length).toBeLessThan(20000);
    await page.getByLabel('Prime').fill('The old man paid 5€');
    await region.getByRole('button', { name: 'Generate', exact: true }).click();
    const unknown = page.getByTestId('unknown-chars');
    await unknown.waitFor();
    expect(await unknown.textContent()).toContain('€ (U+20AC)');
    // The story has no digits either: both are marked in the prime.
    expect((await unknown.locator('pre mark').allTextContents()).join('')).toBe('5€');
    await unknown.getByRole('button', { name: 'Skip them and generate' }).click();
    await expect.poll(async () => ((await page.getByTestId('text-output').textContent()) ?? '').length, { timeout: 20_000 }).toBeGreaterThan(60);
    await region.getByRole('button', { name: 'Stop' }).click();
  });

  it('companion: type, Tab for suggestions, accept one, restart and find the draft', async () => {
    await nav('Companion');
    const model = page.getByRole('region', { name: 'Companion' }).getByLabel('Model');
    await model.locator('option', { hasText: /story/ }).first().waitFor({ state: 'attached' });
    const editor = page.getByLabel('Draft', { exact: true });
    await editor.click();
    await editor.pressSequentially('The old man walked to ', { delay: 5 });
    await editor.press('Tab');
    await page.getByTestId('suggestion').first().waitFor({ timeout: 30_000 });
    const suggestion = (await page.getByTestId('suggestion').first().locator('.stext').textContent())!;
    // Info notices also close themselves after 4 s, so a list taken now can go stale mid-loop:
    // dismiss whichever is first until none is left.
    const dismiss = page.getByRole('button', { name: 'Dismiss', exact: true });
    for (let i = 0; i < 10 && (await dismiss.count()) > 0; i++)
      await dismiss
        .first()
        .click({ timeout: 5_000 })
        .catch(() => {});
    await expect.poll(() => dismiss.count()).toBe(0);
    await page.mouse.move(1200, 800);
    await page.screenshot({ path: join(SHOTS, 'companion.png') });
    await editor.press('Tab');
    draft = 'The old man walked to ' + suggestion;
    await expect.poll(() => editor.inputValue()).toBe(draft);
    await page
      .getByTestId('save-state')
      .filter({ hasText: /^saved/ })
      .waitFor();
    await restart();
    await nav('Companion');
    await expect.poll(() => page.getByLabel('Draft', { exact: true }).inputValue(), { timeout: 20_000 }).toBe(draft);
    expect(problems.errors).toEqual([]);
  });
});
