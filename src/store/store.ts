/**
 * The library database: one better-sqlite3 connection in WAL mode (readers never block the training
 * process that writes), foreign keys on, a busy timeout, numbered migrations, prepared statements.
 * Large things live as files beside it (layout in ./datadir.ts). `openStore` refuses, with a clear
 * CharmerError and without touching anything, a data directory it cannot write, a database file
 * that is not SQLite or is damaged, and a database from a newer Charmer.
 *
 * Where things are: opening and migrating in ./open.ts; each table's queries beside the methods that
 * run them in ./corpora.ts, ./runs.ts, ./metrics.ts, ./checkpoints.ts, ./samples.ts, ./drafts.ts;
 * crash recovery in ./recovery.ts.
 */
import { WithCheckpoints } from './checkpoints.ts';
import { WithCorpora } from './corpora.ts';
import { StoreCore } from './core.ts';
import { WithDrafts } from './drafts.ts';
import { libraryError } from './errors.ts';
import { WithMetrics } from './metrics.ts';
import { closeQuietly, openLibraryDatabase, type OpenStoreOptions } from './open.ts';
import { recover, type RecoveryReport } from './recovery.ts';
import { WithRuns } from './runs.ts';
import { WithSamples } from './samples.ts';
import type { DB } from './sqlite.ts';

export { migrate, type OpenStoreOptions } from './open.ts';
export type { NewCorpus } from './corpora.ts';
export type { NewRun, RunUpdate } from './runs.ts';
export type { MetricPoint } from './metrics.ts';

export class Store extends WithDrafts(WithSamples(WithCheckpoints(WithMetrics(WithRuns(WithCorpora(StoreCore)))))) {
  readonly recovery: RecoveryReport;

  constructor(dataDir: string, db: DB, recoverOnOpen: boolean, fresh = false, notice: string | null = null) {
    super(dataDir, db, fresh, notice);
    this.recovery = recoverOnOpen ? this.guard('the library (recovery)', () => recover(this)) : emptyReport();
  }
}

function emptyReport(): RecoveryReport {
  return { interrupted: [], checkpointsRemoved: 0, checkpointsAdded: 0, metricsTrimmed: 0 };
}

export function openStore(dataDir: string, opts: OpenStoreOptions = {}): Store {
  const lib = openLibraryDatabase(dataDir, opts);
  try {
    return new Store(lib.dataDir, lib.db, opts.recover !== false, lib.fresh, lib.notice);
  } catch (e) {
    closeQuietly(lib.db);
    throw libraryError(e, 'the library database', lib.dataDir);
  }
}
