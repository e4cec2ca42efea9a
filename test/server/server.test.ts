import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src/server/index.ts';
import { CSP } from '../../src/api/csp.ts';
import { fakeServices } from './fake-services.ts';

let dir: string;
let srv: RunningServer;
let fake: ReturnType<typeof fakeServices>;

function request(path: string, opts: { host?: string; headers?: Record<string, string>; method?: string; body?: string } = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: srv.port, path, method: opts.method ?? 'GET', headers: { host: opts.host ?? `127.0.0.1:${srv.port}`, ...opts.headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

function connect(query: string, headers: Record<string, string> = {}) {
  return new WebSocket(`ws://127.0.0.1:${srv.port}/api/ws${query}`, { headers });
}

function wsCall(ws: WebSocket, op: string, input: unknown, id = Math.floor(Math.random() * 1e9)) {
  return new Promise<{ error: { code: string; message: string } | null; result: unknown }>((resolve) => {
    const onMsg = (data: WebSocket.RawData) => {
      const msg = JSON.parse(String(data));
      if (msg.t === 'reply' && msg.id === id) {
        ws.off('message', onMsg);
        resolve(msg.envelope);
      }
    };
    ws.on('message', onMsg);
    ws.send(JSON.stringify({ t: 'call', id, op, input }));
  });
}

const opened = (ws: WebSocket) => new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
/**
 * The HTTP status that refused an upgrade; 0 when the server let it open (or it closed without one),
 * so a server that stops checking fails the test at once instead of leaving it waiting. The bound
 * only ends a wait for a server that answers nothing at all.
 */
const refused = (ws: WebSocket) =>
  new Promise<number>((resolve) => {
    const timer = setTimeout(() => (ws.terminate(), resolve(-2)), 10_000);
    const done = (code: number) => {
      clearTimeout(timer);
      resolve(code);
    };
    ws.once('unexpected-response', (_req, res) => done(res.statusCode!));
    ws.once('error', () => done(-1));
    ws.once('open', () => (ws.close(), done(0)));
    ws.once('close', () => done(0));
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'charmer-server-'));
  const renderer = join(dir, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>Charmer</title>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  fake = fakeServices(join(dir, 'data'));
  mkdirSync(join(dir, 'data'));
  srv = await startServer({ services: fake.services, rendererDir: renderer, port: 0 });
});

afterAll(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('browser-mode server', () => {
  it('listens on 127.0.0.1 with a long random token in the URL', () => {
    expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
    expect((srv.server.address() as { address: string }).address).toBe('127.0.0.1');
  });

  it('refuses requests without a token (401), with a wrong one (403) or a foreign Host (403), with no data', async () => {
    const none = await request('/');
    expect(none.status).toBe(401);
    expect(none.body).not.toContain('Charmer</title>');
    const wrong = await request('/?token=deadbeef');
    expect(wrong.status).toBe(403);
    const rebinding = await request(`/?token=${srv.token}`, { host: `evil.example:${srv.port}` });
    expect(rebinding.status).toBe(403);
    expect(rebinding.body).not.toContain('Charmer</title>');
    const noAsset = await request('/assets/app.js');
    expect(noAsset.status).toBe(401);
  });

  it('serves the renderer with the token, a strict CSP and an HttpOnly cookie for the assets', async () => {
    const page = await request(`/?token=${srv.token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Charmer');
    expect(page.headers['content-security-policy']).toBe(CSP);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const cookie = String(page.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const pair = cookie.split(';')[0]!;
    const asset = await request('/assets/app.js', { headers: { cookie: pair } });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    const localhost = await request(`/?token=${srv.token}`, { host: `localhost:${srv.port}` });
    expect(localhost.status).toBe(200);
  });

  it('does not serve files outside the renderer', async () => {
    const r = await request(`/..%2fsecret.txt?token=${srv.token}`);
    expect(r.status).toBe(404);
    expect(r.body).not.toContain('secret');
  });

  it('refuses WebSocket upgrades without the token or from another origin', async () => {
    expect(await refused(connect(''))).toBe(401);
    expect(await refused(connect('?token=nope'))).toBe(403);
    expect(await refused(connect(`?token=${srv.token}`, { Origin: 'https://evil.example' }))).toBe(403);
  });

  it('answers operations over WebSocket with envelopes, validated, and forwards events', async () => {
    const ws = connect(`?token=${srv.token}`, { Origin: `http://127.0.0.1:${srv.port}` });
    await opened(ws);
    const list = await wsCall(ws, 'library.list', {});
    expect(list.error).toBeNull();
    expect(list.result).toHaveLength(1);
    const bad = await wsCall(ws, 'library.get', { id: 'x' });
    expect(bad.error?.code).toBe('INVALID_INPUT');
    const missing = await wsCall(ws, 'library.get', { id: 42 });
    expect(missing.error).toMatchObject({ code: 'NOT_FOUND', message: 'There is no corpus 42.' });
    const event = new Promise((resolve) =>
      ws.on('message', (d) => {
        const m = JSON.parse(String(d));
        if (m.t === 'event' && m.name === 'runEvent') resolve(m.payload);
      }),
    );
    fake.emit({ runId: 3, kind: 'status', status: 'running', error: null });
    expect(await event).toEqual({ runId: 3, kind: 'status', status: 'running', error: null });
    ws.close();
  });

  it('imports an uploaded file and reports the engine’s errors as they are', async () => {
    const up = await request(`/api/upload?token=${srv.token}&name=poems.txt&mode=text`, { method: 'POST', body: 'roses are red\nviolets are blue\n' });
    expect(up.status).toBe(200);
    const env = JSON.parse(up.body);
    expect(env.error).toBeNull();
    expect(env.result.corpus).toMatchObject({ name: 'poems', mode: 'text' });
    const empty = await request(`/api/upload?token=${srv.token}&name=empty.txt`, { method: 'POST', body: '   ' });
    expect(JSON.parse(empty.body).error).toMatchObject({ code: 'EMPTY_CORPUS' });
    const noToken = await request(`/api/upload?name=x`, { method: 'POST', body: 'abc' });
    expect(noToken.status).toBe(401);
  });
});
