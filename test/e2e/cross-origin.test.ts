/**
 * Issue 15, item 4, in Chromium: a page served from another port of 127.0.0.1 (the same site, so
 * the SameSite=Strict token cookie goes along) auto-submits a text/plain form to /api/upload. The
 * server refuses it by its Origin and creates no corpus; the app's own upload still works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { browser, hasChromium, serve, tearDown, type Served } from './helpers.ts';
import { wsCall } from '../server/raw.ts';

describe.skipIf(!hasChromium)('a cross-origin form post to /api/upload', () => {
  let dir: string;
  let served: Served;
  let ctx: BrowserContext;
  let evil: http.Server;
  let evilPort = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'charmer-xorigin-'));
    served = await serve(join(dir, 'library'));
    evil = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>another app</title>
        <form id="f" method="POST" enctype="text/plain" action="http://127.0.0.1:${served.port}/api/upload?name=planted.txt&mode=text">
          <input type="hidden" name="planted corpus line one" value=" and the rest of the text">
        </form>
        <script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    evilPort = (evil.address() as { port: number }).port;
    ctx = await browser();
  }, 180_000);

  afterAll(async () => {
    evil?.closeAllConnections();
    await new Promise((r) => evil?.close(r));
    await tearDown(ctx, served, dir);
  });

  it('is refused by its Origin, with the token cookie set, and creates no corpus', async () => {
    const page = await ctx.newPage();
    // The person has the app open: the browser holds the token cookie for 127.0.0.1.
    await page.goto(served.url);
    const cookies = await ctx.cookies(`http://127.0.0.1:${served.port}/`);
    expect(cookies.some((c) => c.name === `charmer_token_${served.port}`)).toBe(true);

    const answered = page.waitForResponse((r) => r.url().includes('/api/upload'));
    await page.goto(`http://127.0.0.1:${evilPort}/`);
    const response = await answered;
    expect(response.request().headers()['origin']).toBe(`http://127.0.0.1:${evilPort}`);
    expect(response.status()).toBe(403);
    expect(await response.text()).toMatch(/cross-origin/);

    const token = new URL(served.url).searchParams.get('token')!;
    const list = await wsCall(served.port, token, 'library.list', {});
    expect((list.result as Array<{ name: string }>).map((c) => c.name)).toEqual(['names']);
  });

  it('the app’s own upload, from its own origin, still imports', async () => {
    const page = await ctx.newPage();
    await page.goto(served.url);
    const envelope = await page.evaluate(async () => {
      const r = await fetch(`/api/upload?name=${encodeURIComponent('own.txt')}&mode=lines`, { method: 'POST', body: 'Ada\nBea\nCy\n' });
      return r.json();
    });
    expect(envelope.error).toBeNull();
    expect(envelope.result.corpus).toMatchObject({ name: 'own', mode: 'lines' });
  });
});
