/**
 * Browser mode's gate: every request must name this server in its Host header (no DNS rebinding)
 * and carry the access token (query `token`, the cookie set on the first visit, or an
 * `Authorization: token …` header). WebSocket upgrades and uploads must also come from this origin.
 */
import { timingSafeEqual, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function newToken(): string {
  return randomBytes(24).toString('hex');
}

export const cookieName = (port: number): string => `charmer_token_${port}`;

export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
}

export type Verdict = { ok: true; viaQuery: boolean } | { ok: false; status: 400 | 401 | 403; reason: string };

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const raw = part.slice(eq + 1).trim();
    // Cookies are shared by every port of 127.0.0.1: another app's `x=50%` must not end this server.
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      /* not percent-encoded by us: kept as it came */
    }
    out.set(part.slice(0, eq).trim(), value);
  }
  return out;
}

/**
 * The request target as a URL, or null when it is not an origin-form path. `new URL('//', base)`
 * reads `//` as a host and throws; prefixing our own origin keeps every path a path.
 */
export function requestTarget(raw: string | undefined): URL | null {
  const target = raw ?? '/';
  if (!target.startsWith('/')) return null;
  try {
    return new URL(`http://127.0.0.1${target}`);
  } catch {
    return null;
  }
}

/** Whether an Origin header (absent for non-browser clients) names this server. */
export function sameOrigin(origin: string | undefined, port: number): boolean {
  return origin === undefined || [...allowedHosts(port)].some((h) => origin.toLowerCase() === `http://${h}`);
}

export function checkRequest(req: IncomingMessage, port: number, token: string, opts: { websocket?: boolean; write?: boolean } = {}): Verdict {
  const host = req.headers.host ?? '';
  if (!allowedHosts(port).has(host.toLowerCase())) return { ok: false, status: 403, reason: 'Forbidden: unexpected Host header.' };
  // A WebSocket or a write (the upload) from another page would carry the cookie: SameSite=Strict
  // counts every port of 127.0.0.1 as the same site, so only the Origin tells them apart.
  if ((opts.websocket || opts.write) && !sameOrigin(req.headers.origin, port)) {
    return { ok: false, status: 403, reason: opts.websocket ? 'Forbidden: cross-origin WebSocket.' : 'Forbidden: cross-origin request.' };
  }
  const url = requestTarget(req.url);
  if (!url) return { ok: false, status: 400, reason: 'Bad request: the request target is not a path.' };
  const fromQuery = url.searchParams.get('token');
  const auth = req.headers.authorization;
  const fromHeader = auth?.startsWith('token ') ? auth.slice(6).trim() : auth?.startsWith('Bearer ') ? auth.slice(7).trim() : null;
  const fromCookie = parseCookies(req.headers.cookie).get(cookieName(port)) ?? null;
  const given = fromQuery ?? fromHeader ?? fromCookie;
  if (given === null || given === '') return { ok: false, status: 401, reason: 'Unauthorized: open the URL with its ?token=… that `charmer serve` printed.' };
  if (!safeEqual(given, token)) return { ok: false, status: 403, reason: 'Forbidden: wrong access token.' };
  return { ok: true, viaQuery: fromQuery !== null };
}

export { CSP } from '../api/csp.ts';
