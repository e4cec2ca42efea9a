/**
 * What every table module of the store builds on: the connection, the data directory's paths,
 * transactions, the error guard, and a cache of prepared statements so that each query can be written
 * out in the method that runs it (src/store/corpora.ts, runs.ts, ...) and still be prepared once.
 */
import path from 'node:path';
import type Database from 'better-sqlite3';
import { layout } from './datadir.ts';
import { guard } from './errors.ts';
import type { DB } from './sqlite.ts';

export type Row = Record<string, unknown>;
/** Parameters positional or named (@name), as each query is written. */
export type Statement = Database.Statement<unknown[]>;

export const now = (): number => Date.now();

export function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** Statements are prepared on first use; dynamic ones (IN lists, sort orders) can outnumber the rest, so the cache is bounded. */
const STATEMENT_CACHE_LIMIT = 200;

export class StoreCore {
  readonly dataDir: string;
  readonly dbPath: string;
  readonly db: DB;
  readonly schemaVersion: number;
  /** True when this open created the library (the database had no schema before). */
  readonly fresh: boolean;
  /** Something a shell should tell the person once (a new database beside an old library's folders). */
  readonly notice: string | null;
  private closed = false;
  private readonly statements = new Map<string, Statement>();

  constructor(dataDir: string, db: DB, fresh = false, notice: string | null = null) {
    this.fresh = fresh;
    this.notice = notice;
    this.dataDir = dataDir;
    this.dbPath = layout.database(dataDir);
    this.db = db;
    this.schemaVersion = db.pragma('user_version', { simple: true }) as number;
  }

  guard<T>(where: string, fn: () => T): T {
    return guard(this.dataDir, where, fn);
  }

  /** Runs fn in one transaction (IMMEDIATE: takes the write lock at once). */
  transaction<T>(fn: () => T): T {
    return this.guard('the library database', () => this.db.transaction(fn).immediate());
  }

  /** The prepared statement for this SQL (prepared on first use). For the table modules. */
  sql(text: string): Statement {
    let s = this.statements.get(text);
    if (!s) {
      s = this.db.prepare<unknown[]>(text);
      if (this.statements.size > STATEMENT_CACHE_LIMIT) this.statements.clear();
      this.statements.set(text, s);
    }
    return s;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.close();
    } catch {
      /* already closed */
    }
  }

  get isOpen(): boolean {
    return !this.closed && this.db.open;
  }

  /** Stored paths are relative to the data directory when inside it. */
  relPath(p: string): string {
    const rel = path.relative(this.dataDir, path.resolve(p));
    return rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(p) : rel.split(path.sep).join('/');
  }

  absPath(p: string): string {
    return path.isAbsolute(p) ? p : path.join(this.dataDir, ...p.split('/'));
  }

  corpusFile(hash: string): string {
    return layout.corpusFile(this.dataDir, hash);
  }

  runDir(runId: number): string {
    return layout.runDir(this.dataDir, runId);
  }
}

/**
 * The constructor type a table module extends: each module is a mixin (`WithCorpora(Base)`) adding
 * its methods, so `Store` keeps one flat set of methods while each query lives in its table's file.
 */
// A mixin's base must accept any constructor arguments (TypeScript's rule for mixin classes).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StoreBase = new (...args: any[]) => StoreCore;
