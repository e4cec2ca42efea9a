/** Turning file-system and SQLite failures into CharmerErrors a person can act on. */
import { CharmerError } from '../common/errors.ts';

export function fsCode(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? '';
}

/** Maps an error met while writing under the data directory; returns the original when unknown. */
export function libraryError(e: unknown, where: string, dataDir: string): unknown {
  if (e instanceof CharmerError) return e;
  const code = fsCode(e);
  const msg = (e as Error)?.message ?? String(e);
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || /database or disk is full/i.test(msg)) {
    return new CharmerError(
      'DISK_FULL',
      `The disk holding the Charmer library (${dataDir}) is full: could not write ${where}. Free some space (or choose another --data-dir) and try again; nothing already saved was lost.`,
      { dataDir },
    );
  }
  if (
    code === 'EROFS' ||
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 'SQLITE_READONLY' ||
    code.startsWith('SQLITE_READONLY_') ||
    code === 'SQLITE_CANTOPEN'
  ) {
    return new CharmerError(
      'DATA_DIR_READ_ONLY',
      `The Charmer library at ${dataDir} is read-only: could not write ${where}. Make the folder writable, or choose another with --data-dir or CHARMER_DATA_DIR.`,
      { dataDir },
    );
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT_')) {
    return corruptError(dataDir, msg);
  }
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') {
    return new CharmerError(
      'DATABASE_BUSY',
      `The Charmer library at ${dataDir} is locked by another program for too long (${msg}). Close other Charmer windows and try again.`,
      { dataDir },
    );
  }
  return e;
}

export function corruptError(dataDir: string, detail: string): CharmerError {
  return new CharmerError(
    'DATABASE_CORRUPT',
    `The Charmer library database in ${dataDir} is damaged (${detail}). Charmer will not change it. Restore charmer.db from a backup, or move it aside to start a new library (corpora/ and runs/ can stay).`,
    { dataDir },
  );
}

/** Wraps a function so that its failures become CharmerErrors. */
export function guard<T>(dataDir: string, where: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw libraryError(e, where, dataDir);
  }
}
