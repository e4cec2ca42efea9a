/**
 * Browser mode's HTTP side: the built renderer (with the CSP and, on the token's first use, the
 * cookie), and corpus uploads (POST /api/upload) streamed to a file under the library's uploads/ and
 * imported from there. Every request's Host header and token are checked first (./security.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Envelope } from '../api/errors.ts';
import { fail } from '../api/errors.ts';
import { CSP, checkRequest, cookieName, requestTarget } from './security.ts';

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

export interface HttpContext {
  /** Absolute folder of the built renderer. */
  rendererDir: string;
  token: string;
  /** The port listened on (known once listening; the Host check and the cookie name use it). */
  port: () => number;
  /** The library's folder: uploads are written under its uploads/. */
  dataDir: string;
  /** Imports an uploaded file (library.importFile without the client-path policy). */
  importUpload: (input: Record<string, unknown>) => Promise<Envelope<unknown>>;
}

export interface HttpHandler {
  /** Answers every request that is not a WebSocket upgrade. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  /** A failure after the headers may have gone: answers if still possible, else ends the response. */
  failResponse(res: ServerResponse, reason: string): void;
}

export function createHttpHandler(ctx: HttpContext): HttpHandler {
  const { rendererDir, token, port, importUpload } = ctx;
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
      res.setHeader('Set-Cookie', `${cookieName(port())}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  };

  const upload = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const uploads = join(ctx.dataDir, 'uploads');
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
    const verdict = checkRequest(req, port(), token, { write: isUpload || (req.method !== 'GET' && req.method !== 'HEAD') });
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

  return { handleRequest, failResponse };
}
