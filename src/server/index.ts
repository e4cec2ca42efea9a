/**
 * Browser mode: the renderer and the API over HTTP + WebSocket, on 127.0.0.1 only, behind a random
 * access token (like Jupyter). Every request has its Host header and token checked; a request
 * without them gets 401/403 and a one-line reason, never data.
 *
 *   GET  /?token=T          index.html (sets an HttpOnly, SameSite=Strict cookie with the token)
 *   GET  /assets/...        the built renderer (out/renderer)
 *   GET  /api/ws            WebSocket: {t:'call',id,op,input} -> {t:'reply',id,envelope}; {t:'event',name,payload}
 *   POST /api/upload?name=&mode=&importId=   the body is a corpus file; answers the import's envelope
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import type { Services } from '../services/types.ts';
import { contract, events as eventDefs, type Events } from '../api/contract.ts';
import { createDispatch } from '../api/dispatch.ts';
import { createHandlers, type ShellHooks } from '../api/handlers.ts';
import { forwardRunEvents } from '../api/forward.ts';
import type { EmitOf } from '../api/define.ts';
import { fail } from '../api/errors.ts';
import { CSP, checkRequest, cookieName, newToken } from './security.ts';

export interface ServeOptions {
  services: Services;
  /** Folder with the built renderer (index.html + assets). */
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
  version?: string;
  guessMode?: ShellHooks['guessMode'];
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  server: Server;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

const MAX_UPLOAD = 2 * 1024 ** 3;

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const token = opts.token ?? newToken();
  const rendererDir = resolve(opts.rendererDir);
  const sockets = new Set<WebSocket>();
  let port = 0;

  const emit: EmitOf<Events> = (name, payload) => {
    const msg = JSON.stringify({ t: 'event', name, payload });
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(msg);
  };
  void eventDefs;
  const handlers = createHandlers(
    opts.services,
    { shell: 'browser', version: opts.version ?? '0.0.0', ...(opts.guessMode ? { guessMode: opts.guessMode } : {}) },
    emit,
  );
  const dispatch = createDispatch(contract, handlers);
  const stopForwarding = forwardRunEvents(opts.services, emit);

  const baseHeaders = (res: ServerResponse) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  };
  const deny = (res: ServerResponse, status: number, reason: string) => {
    baseHeaders(res);
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`${reason}\n`);
  };

  const serveFile = async (req: IncomingMessage, res: ServerResponse, pathname: string, viaQuery: boolean) => {
    let rel = decodeURIComponent(pathname);
    if (rel === '/' || rel === '') rel = '/index.html';
    const file = normalize(join(rendererDir, rel));
    if (file !== rendererDir && !file.startsWith(rendererDir + sep)) return deny(res, 404, 'Not found.');
    let info;
    try {
      info = await stat(file);
    } catch {
      info = null;
    }
    if (!info || !info.isFile()) {
      if (rel === '/index.html') {
        return deny(res, 503, 'The renderer is not built: run `npm run build` (or `charmer serve` builds it on start).');
      }
      return deny(res, 404, 'Not found.');
    }
    baseHeaders(res);
    const isHtml = extname(file) === '.html';
    const headers: Record<string, string | number> = {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': info.size,
      'Cache-Control': isHtml ? 'no-store' : 'private, max-age=3600',
    };
    if (isHtml) headers['Content-Security-Policy'] = CSP;
    if (viaQuery) {
      res.setHeader('Set-Cookie', `${cookieName(port)}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  };

  const upload = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const uploads = join(opts.services.info.dataDir, 'uploads');
    await mkdir(uploads, { recursive: true });
    const rawName = (url.searchParams.get('name') ?? 'upload').slice(0, 200);
    const tmp = join(uploads, `${Date.now()}-${randomBytes(6).toString('hex')}.txt`);
    const length = Number(req.headers['content-length'] ?? 0);
    let envelope;
    try {
      if (length > MAX_UPLOAD) throw Object.assign(new Error(`The file is larger than ${MAX_UPLOAD / 1024 ** 3} GB.`), { name: 'ApiError', code: 'IO_ERROR' });
      let seen = 0;
      req.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > MAX_UPLOAD) req.destroy(new Error('upload too large'));
      });
      await pipeline(req, createWriteStream(tmp));
      const input: Record<string, unknown> = { path: tmp, name: rawName.replace(/\.[^.]*$/, '') || rawName };
      const mode = url.searchParams.get('mode');
      if (mode) input.mode = mode;
      const importId = url.searchParams.get('importId');
      if (importId) input.importId = importId;
      envelope = await dispatch('library.importFile', input);
    } catch (e) {
      envelope = fail(e);
    } finally {
      await rm(tmp, { force: true }).catch(() => {});
    }
    baseHeaders(res);
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(envelope));
  };

  const server = createServer((req, res) => {
    const verdict = checkRequest(req, port, token);
    if (!verdict.ok) return deny(res, verdict.status, verdict.reason);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/api/upload') {
      if (req.method !== 'POST') return deny(res, 405, 'Use POST.');
      upload(req, res, url).catch((e) => deny(res, 500, `Upload failed: ${(e as Error).message}`));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'Method not allowed.');
    serveFile(req, res, url.pathname, verdict.viaQuery).catch((e) => deny(res, 500, `Error: ${(e as Error).message}`));
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 * 1024 });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const verdict = url.pathname === '/api/ws' ? checkRequest(req, port, token, { websocket: true }) : ({ ok: false, status: 403, reason: 'Forbidden.' } as const);
    if (!verdict.ok) {
      socket.write(`HTTP/1.1 ${verdict.status} ${verdict.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${verdict.reason}\n`);
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data) => {
        let msg: { t?: unknown; id?: unknown; op?: unknown; input?: unknown };
        try {
          msg = JSON.parse(String(data));
        } catch {
          return;
        }
        if (msg?.t !== 'call' || typeof msg.op !== 'string' || (typeof msg.id !== 'number' && typeof msg.id !== 'string')) return;
        const id = msg.id;
        dispatch(msg.op, msg.input).then((envelope) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: 'reply', id, envelope }));
        });
      });
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolveListen());
  });
  port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}/?token=${token}`;

  return {
    url,
    port,
    token,
    server,
    close: async () => {
      stopForwarding();
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
