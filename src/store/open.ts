/**
 * Opening a library: the data directory made and probed, the database file checked before SQLite
 * touches it, the schema migrated by user_version (migrations/NNNN-name.ts), and a new database
 * beside an old library's run folders noticed. Each refusal is a CharmerError saying what to do.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CharmerError } from '../common/errors.ts';
import { layout } from './datadir.ts';
import { corruptError, fsCode, libraryError } from './errors.ts';
import { LATEST_VERSION, migrations } from './migrations/index.ts';
import { openDatabase, type DB } from './sqlite.ts';

export interface OpenStoreOptions {
  /** Run crash recovery (default true). */
  recover?: boolean;
  /** busy_timeout in ms (default 10000). */
  busyTimeoutMs?: number;
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

function ensureDataDir(dataDir: string): void {
  try {
    fs.mkdirSync(dataDir, { recursive: true });
  } catch (e) {
    const code = fsCode(e);
    if (code === 'ENOTDIR' || code === 'EEXIST') {
      throw new CharmerError(
        'DATA_DIR_INVALID',
        `Cannot use ${dataDir} as the Charmer library: it, or a folder above it, is a file. Choose another with --data-dir or CHARMER_DATA_DIR.`,
        { dataDir },
      );
    }
    throw libraryError(e, 'the library folder', dataDir);
  }
  if (!fs.statSync(dataDir).isDirectory()) {
    throw new CharmerError(
      'DATA_DIR_INVALID',
      `Cannot use ${dataDir} as the Charmer library: it is a file, not a folder. Choose another with --data-dir or CHARMER_DATA_DIR.`,
      { dataDir },
    );
  }
  // Probe: write and remove a small file, so a read-only or full disk is reported before anything else.
  const probe = path.join(dataDir, `.charmer-write-test-${process.pid}`);
  try {
    fs.writeFileSync(probe, 'charmer');
    fs.rmSync(probe, { force: true });
    fs.mkdirSync(layout.corpora(dataDir), { recursive: true });
    fs.mkdirSync(layout.runs(dataDir), { recursive: true });
  } catch (e) {
    try {
      fs.rmSync(probe, { force: true });
    } catch {
      /* nothing to clean */
    }
    throw libraryError(e, 'the library folder', dataDir);
  }
}

/** Refuses a file that is not an SQLite database before SQLite touches it. */
function checkHeader(dbPath: string, dataDir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dbPath, 'r');
  } catch (e) {
    if (fsCode(e) === 'ENOENT') return;
    throw libraryError(e, 'the library database', dataDir);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return;
    const head = Buffer.alloc(16);
    const n = fs.readSync(fd, head, 0, 16, 0);
    if (n < 16 || !head.equals(SQLITE_HEADER)) throw corruptError(dataDir, `${path.basename(dbPath)} is not an SQLite database`);
  } finally {
    fs.closeSync(fd);
  }
}

/** The database of a library, opened, checked and migrated: what the Store is built on. */
export interface OpenedLibrary {
  dataDir: string;
  db: DB;
  /** True when this open created the library (the database had no schema before). */
  fresh: boolean;
  notice: string | null;
}

/**
 * Opens the library's database: refuses (without writing anything) a folder it cannot use, a file
 * that is not SQLite or is damaged, and a database from a newer Charmer; then WAL, foreign keys,
 * migrations, an integrity check.
 */
export function openLibraryDatabase(dataDir: string, opts: OpenStoreOptions = {}): OpenedLibrary {
  dataDir = path.resolve(dataDir);
  ensureDataDir(dataDir);
  const dbPath = layout.database(dataDir);
  checkHeader(dbPath, dataDir);
  let db: DB;
  try {
    db = openDatabase(dbPath, { timeout: opts.busyTimeoutMs ?? 10_000 });
  } catch (e) {
    throw libraryError(e, 'the library database', dataDir);
  }
  try {
    // Read the version first: nothing is written to a database from a newer Charmer or a damaged one.
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > LATEST_VERSION) {
      throw new CharmerError(
        'DATABASE_TOO_NEW',
        `The Charmer library in ${dataDir} was written by a newer version of Charmer (schema ${version}; this version knows up to ${LATEST_VERSION}). Update Charmer, or choose another --data-dir. Nothing was changed.`,
        { dataDir, version, latest: LATEST_VERSION },
      );
    }
    if (version === 0) {
      const n = (db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number }).n;
      if (n > 0) throw corruptError(dataDir, 'charmer.db is an SQLite database but not a Charmer library');
    }
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`could not switch to WAL (journal_mode ${mode})`);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    const fresh = version === 0;
    migrate(db);
    const quick = db.pragma('quick_check(1)', { simple: true });
    if (quick !== 'ok') throw corruptError(dataDir, `integrity check: ${quick}`);
    const notice = fresh ? adoptOrphanRunFolders(db, dataDir) : null;
    return { dataDir, db, fresh, notice };
  } catch (e) {
    closeQuietly(db);
    throw libraryError(e, 'the library database', dataDir);
  }
}

export function closeQuietly(db: DB): void {
  try {
    db.close();
  } catch {
    /* ignore */
  }
}

/**
 * A new database in a folder that already holds runs/N folders: charmer.db was deleted or moved.
 * New runs are numbered above the old folders, so no new run ever writes into (or deletes) an old
 * run's checkpoints; the returned sentence says what happened and what to do.
 */
function adoptOrphanRunFolders(db: DB, dataDir: string): string | null {
  let ids: number[];
  try {
    ids = fs
      .readdirSync(layout.runs(dataDir))
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    return null;
  }
  if (ids.length === 0) return null;
  const max = Math.max(...ids);
  db.prepare(`INSERT INTO sqlite_sequence (name, seq) VALUES ('runs', ?)`).run(max);
  return (
    `${layout.database(dataDir)} was missing, so Charmer started a new, empty library there. ` +
    `The ${ids.length} run folder${ids.length === 1 ? '' : 's'} already in ${layout.runs(dataDir)} ${ids.length === 1 ? 'is' : 'are'} kept untouched but not listed; ` +
    `to list them again, quit Charmer and put the old charmer.db back from a backup.`
  );
}

/** Applies every migration above the file's user_version, each in its own transaction. */
export function migrate(db: DB, upTo: number = LATEST_VERSION): number {
  let version = db.pragma('user_version', { simple: true }) as number;
  for (const m of migrations) {
    if (m.version <= version || m.version > upTo) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
    version = m.version;
  }
  return version;
}
