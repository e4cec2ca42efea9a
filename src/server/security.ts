/**
 * Browser mode's gate: every request must name this server in its Host header (no DNS rebinding)
 * and carry the access token (query `token`, the cookie set on the first visit, or an
 * `Authorization: token …` header). WebSocket upgrades must also come from this origin.
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

export type Verdict = { ok: true; viaQuery: boolean } | { ok: false; status: 401 | 403; reason: string };

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
    out.set(part.slice(0, eq).trim(), decodeURIComponent(part.slice(eq + 1).trim()));
  }
  return out;
}

export function checkRequest(req: IncomingMessage, port: number, token: string, opts: { websocket?: boolean } = {}): Verdict {
  const host = req.headers.host ?? '';
  if (!allowedHosts(port).has(host.toLowerCase())) return { ok: false, status: 403, reason: 'Forbidden: unexpected Host header.' };
  if (opts.websocket) {
    const origin = req.headers.origin;
    if (origin !== undefined && ![...allowedHosts(port)].some((h) => origin.toLowerCase() === `http://${h}`)) {
      return { ok: false, status: 403, reason: 'Forbidden: cross-origin WebSocket.' };
    }
  }
  const url = new URL(req.url ?? '/', 'http://x');
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
