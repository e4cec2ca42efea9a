/**
 * One error type for everything a person can get wrong. `code` is stable (the UI and tests match on
 * it); `message` says what was wrong and what to do. Shells print the message, never a stack.
 */
/** Every code, at run time too (the API's fuzz test checks each reply against this list). */
export const CHARMER_ERROR_CODES = [
  'FILE_NOT_FOUND',
  'IS_DIRECTORY',
  'NOT_A_FILE',
  'EMPTY_CORPUS',
  'BINARY_FILE',
  'INVALID_UTF8',
  'CORPUS_TOO_SMALL',
  'VOCAB_TOO_LARGE',
  'ITEM_TOO_LONG',
  'UNKNOWN_CHARACTERS',
  'BAD_CHECKPOINT',
  'CHECKPOINT_MISMATCH',
  'BAD_OPTION',
  'BACKEND_UNAVAILABLE',
  'TRAINING_DIVERGED',
  'NOT_LINES_MODEL',
  'IO_ERROR',
  // names: tables with categories, categories, baby-name subsets
  'BAD_TABLE',
  'MISSING_COLUMN',
  'EMPTY_NAME',
  'EMPTY_CATEGORY',
  'TOO_MANY_CATEGORY_VALUES',
  'NO_CATEGORIES',
  'UNKNOWN_CATEGORY',
  'EMPTY_SUBSET',
  // the library (src/store, src/services)
  'DATA_DIR_READ_ONLY',
  'DATA_DIR_INVALID',
  'DISK_FULL',
  'DATABASE_CORRUPT',
  'DATABASE_TOO_NEW',
  'DATABASE_BUSY',
  'NATIVE_MODULE',
  'NOT_FOUND',
  'CORPUS_IN_USE',
  'RUN_ACTIVE',
  'RUN_NOT_ACTIVE',
  'CHECKPOINT_MISSING',
  'STARTER_READ_ONLY',
] as const;

export type CharmerErrorCode = (typeof CHARMER_ERROR_CODES)[number];

export class CharmerError extends Error {
  override readonly name = 'CharmerError';
  constructor(
    readonly code: CharmerErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function isCharmerError(e: unknown): e is CharmerError {
  return e instanceof CharmerError || (e instanceof Error && e.name === 'CharmerError' && 'code' in e);
}
