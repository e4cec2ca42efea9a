/**
 * Errors across the process boundary. Every call answers with an envelope: { error: null, result }
 * or { error: { code, message, details }, result: null }. The calling side turns an error envelope
 * back into an ApiError with the same code and message (the engine's CharmerError codes, plus the
 * few the shells add), so the UI can match on `code` and show `message` as it is.
 */
import { CHARMER_ERROR_CODES } from '../common/errors.ts';

/** The engine's and services' CharmerError codes, plus the few the shells add. */
export const API_ERROR_CODES = [
  ...CHARMER_ERROR_CODES,
  'INVALID_INPUT',
  'UNKNOWN_OPERATION',
  'CONFLICT',
  'UNAVAILABLE',
  /** Browser mode: a path outside the folder named with `charmer serve --allow-dir` (or any path without it). */
  'PATH_NOT_ALLOWED',
  'DISCONNECTED',
  'INTERNAL',
] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export interface ApiErrorData {
  code: ApiErrorCode | (string & {});
  message: string;
  details?: Record<string, unknown>;
}

export type Envelope<T> = { error: null; result: T } | { error: ApiErrorData; result: null };

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ApiErrorCode | (string & {});
  readonly details: Record<string, unknown>;
  constructor(code: ApiErrorCode | (string & {}), message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
  toJSON(): ApiErrorData {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError || (e instanceof Error && e.name === 'ApiError' && 'code' in e);
}

/** Turn anything thrown by a handler into the error half of an envelope. */
export function toErrorData(e: unknown): ApiErrorData {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string' && e instanceof Error) {
    const name = e.name;
    // CharmerError and ApiError carry messages meant for people; other errors with a code
    // (ENOENT and friends) are summarised without leaking stacks.
    if (name === 'CharmerError' || name === 'ApiError') {
      const details = (e as { details?: unknown }).details;
      return {
        code: (e as unknown as { code: string }).code,
        message: e.message,
        ...(details && typeof details === 'object' ? { details: sanitize(details as Record<string, unknown>) } : {}),
      };
    }
    const sys = (e as unknown as { code: string }).code;
    if (sys === 'ENOENT') return { code: 'FILE_NOT_FOUND', message: e.message };
    return { code: 'IO_ERROR', message: e.message };
  }
  if (e && typeof e === 'object' && 'issues' in e && Array.isArray((e as { issues: unknown }).issues)) {
    return { code: 'INVALID_INPUT', message: formatIssues((e as { issues: ZodIssueLike[] }).issues) };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'INTERNAL', message: `Internal error: ${message}` };
}

interface ZodIssueLike {
  path: PropertyKey[];
  message: string;
}

export function formatIssues(issues: ZodIssueLike[]): string {
  return (
    'Invalid input: ' +
    issues
      .slice(0, 5)
      .map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
      .join('; ')
  );
}

function sanitize(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function ok<T>(result: T): Envelope<T> {
  return { error: null, result };
}

export function fail(e: unknown): Envelope<never> {
  return { error: toErrorData(e), result: null };
}

/** The calling side: a result, or throw the typed error rebuilt from the envelope. */
export function unwrap<T>(envelope: Envelope<T>): T {
  if (!envelope || typeof envelope !== 'object') throw new ApiError('INTERNAL', 'Malformed reply from the Charmer backend.');
  if (envelope.error) throw new ApiError(envelope.error.code, envelope.error.message, envelope.error.details ?? {});
  return envelope.result as T;
}
