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
import { createHandlers, type ShellHooks } from '../api/node/handlers.ts';
import { forwardRunEvents } from '../api/node/forward.ts';
import type { EmitOf } from '../api/define.ts';
import { fail } from '../api/errors.ts';
import { CSP, checkRequest, cookieName, newToken, requestTarget } from './security.ts';
import { browserPathPolicy } from './paths.ts';

export interface ServeOptions {
  services: Services;
  /** Folder with the built renderer (index.html + assets). */
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
  version?: string;
  guessMode?: ShellHooks['guessMode'];
  /** The one folder whose files library.inspectFile/importFile may open (`--allow-dir`); none without it. */
  allowDir?: string;
  /** Told when a connection misbehaves (a bad frame, a reset): one sentence, for the server's log. */
  log?: (line: string) => void;
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

/**
 * The largest WebSocket message a client has reason to send: a draft or a "learn my style" text of
 * 10 million characters (the contract's limit), 3 bytes each in UTF-8, plus the envelope. Files and
 * pasted text go over HTTP (/api/upload). Parsing a message costs about 4x its size, so this bounds
 * what one frame can make the server hold.
 */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

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
  const log = opts.log ?? (() => {});
  const hooks: ShellHooks = { shell: 'browser', version: opts.version ?? '0.0.0', ...(opts.guessMode ? { guessMode: opts.guessMode } : {}) };
  const handlers = createHandlers(opts.services, { ...hooks, resolvePath: await browserPathPolicy(opts.allowDir) }, emit);
  const dispatch = createDispatch(contract, handlers);
  // Uploads are files this server wrote itself (under the library's uploads/), so they are the one
  // path importFile opens without the client-path policy; clients cannot name them.
  const uploadHandlers = createHandlers(opts.services, hooks, emit);
  const importUpload = (input: Record<string, unknown>) => createDispatch(contract, uploadHandlers)('library.importFile', input);
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
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return deny(res, 400, 'Bad request: the path is not valid percent-encoding.');
    }
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
      envelope = await importUpload(input);
    } catch (e) {
      envelope = fail(e);
    } finally {
      await rm(tmp, { force: true }).catch(() => {});
    }
    baseHeaders(res);
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(envelope));
  };

  const handleRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = requestTarget(req.url);
    const isUpload = url?.pathname === '/api/upload';
    const verdict = checkRequest(req, port, token, { write: isUpload || (req.method !== 'GET' && req.method !== 'HEAD') });
    if (!verdict.ok) return deny(res, verdict.status, verdict.reason);
    if (!url) return deny(res, 400, 'Bad request.');
    if (isUpload) {
      if (req.method !== 'POST') return deny(res, 405, 'Use POST.');
      upload(req, res, url).catch((e) => failResponse(res, `Upload failed: ${(e as Error).message}`));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'Method not allowed.');
    serveFile(req, res, url.pathname, verdict.viaQuery).catch((e) => failResponse(res, `Error: ${(e as Error).message}`));
  };
  /** A failure after the headers may have gone: answer if still possible, else just end. */
  const failResponse = (res: ServerResponse, reason: string) => {
    if (!res.headersSent) deny(res, 500, reason);
    else res.destroy();
  };

  const server = createServer((req, res) => {
    // Nothing a client sends may end the process: whatever slips past the checks above is answered.
    try {
      handleRequest(req, res);
    } catch (e) {
      log(`A request to ${String(req.url).slice(0, 200)} failed: ${(e as Error)?.message ?? e}`);
      failResponse(res, 'Internal error.');
    }
  });
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  wss.on('error', (e) => log(`WebSocket server: ${e.message}`));
  const refuseUpgrade = (socket: Duplex, status: number, reason: string) => {
    const text = status === 400 ? 'Bad Request' : status === 401 ? 'Unauthorized' : 'Forbidden';
    if (socket.writable) socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
    socket.destroy();
  };
  const reply = (ws: WebSocket, id: number | string, envelope: unknown) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    let text: string;
    try {
      text = JSON.stringify({ t: 'reply', id, envelope });
    } catch (e) {
      text = JSON.stringify({ t: 'reply', id, envelope: fail(new Error(`the reply could not be encoded (${(e as Error).message})`)) });
    }
    ws.send(text);
  };
  const accept = (ws: WebSocket) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    // A malformed frame (bad UTF-8, too large, unmasked, reserved opcode or bits, bad close code,
    // stray continuation) arrives here; ws closes that connection itself. Without a listener the
    // 'error' event would end the process.
    ws.on('error', (e) => {
      log(`A WebSocket connection was closed: ${e.message}`);
      ws.terminate();
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: { t?: unknown; id?: unknown; op?: unknown; input?: unknown };
      try {
        msg = JSON.parse(String(data));
      } catch {
        return;
      }
      if (msg === null || typeof msg !== 'object' || msg.t !== 'call' || typeof msg.op !== 'string' || (typeof msg.id !== 'number' && typeof msg.id !== 'string')) return;
      const id = msg.id;
      dispatch(msg.op, msg.input)
        .catch((e: unknown) => fail(e))
        .then((envelope) => reply(ws, id, envelope))
        .catch((e: unknown) => log(`A reply could not be sent: ${(e as Error)?.message ?? e}`));
    });
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const url = requestTarget(req.url);
      if (!url) return refuseUpgrade(socket, 400, 'Bad request: the request target is not a path.');
      const verdict = url.pathname === '/api/ws' ? checkRequest(req, port, token, { websocket: true }) : ({ ok: false, status: 403, reason: 'Forbidden.' } as const);
      if (!verdict.ok) return refuseUpgrade(socket, verdict.status, verdict.reason);
      wss.handleUpgrade(req, socket, head, accept);
    } catch (e) {
      log(`A WebSocket upgrade failed: ${(e as Error)?.message ?? e}`);
      socket.destroy();
    }
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
