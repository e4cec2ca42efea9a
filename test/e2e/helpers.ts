/** End-to-end helpers: `charmer serve` as a child process, and Debian's Chromium through playwright-core. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHROMIUM = process.env.CHARMER_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`[e2e] skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHARMER_CHROMIUM).`);

/** Screenshots: test-results/screenshots (ignored by git) on every run; docs/screenshots with CHARMER_UPDATE_SCREENSHOTS=1. */
export const SHOTS = process.env.CHARMER_UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs/screenshots') : join(ROOT, 'test-results/screenshots');

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface Served {
  url: string;
  port: number;
  proc: ChildProcess;
  output: () => string;
  stop: () => Promise<number | null>;
}

export async function serve(dataDir: string, extra: string[] = []): Promise<Served> {
  const proc = spawn(process.execPath, [join(ROOT, 'bin/charmer.js'), 'serve', '--port', '0', '--data-dir', dataDir, ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CHARMER_DATA_DIR: dataDir },
  });
  let out = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => (out += d));
  proc.stderr!.on('data', (d: string) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`charmer serve printed no URL in 90 s:\n${out}`)), 90_000);
    const check = () => {
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`charmer serve exited (${code}):\n${out}`));
    });
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    url,
    port: Number(new URL(url).port),
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export async function browser(): Promise<BrowserContext> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'charmer-chromium-'));
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 860 },
  });
}

/** What went wrong in the page: CSP refusals on the console and uncaught errors. */
export interface PageProblems {
  csp: string[];
  errors: string[];
}

/** A new page at `url`, with its CSP refusals and uncaught errors collected into `problems`. */
export async function openApp(ctx: BrowserContext, url: string, problems: PageProblems): Promise<Page> {
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.csp.push(m.text());
  });
  page.on('pageerror', (e) => problems.errors.push(e.message));
  await page.goto(url);
  return page;
}

/** Close the browser, stop the server and remove the data folder (each when it was set up). */
export async function tearDown(ctx: BrowserContext | undefined, server: Served | undefined, dir: string | undefined): Promise<void> {
  await ctx?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
