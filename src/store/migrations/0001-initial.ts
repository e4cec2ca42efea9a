/**
 * The first library schema: corpora, runs, metrics, checkpoints, samples.
 * Times are INTEGER milliseconds since the epoch; configs and character counts are JSON text;
 * checkpoint paths are relative to the data directory (so a moved or restored library still works).
 */
import type { Migration } from './types.ts';

const migration: Migration = {
  version: 1,
  name: 'initial',
  up(db) {
    db.exec(`
      CREATE TABLE corpora (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL,
        mode        TEXT    NOT NULL CHECK (mode IN ('text', 'lines')),
        bytes       INTEGER NOT NULL,
        chars       INTEGER NOT NULL,
        vocab_size  INTEGER NOT NULL,
        lines       INTEGER NOT NULL,
        hash        TEXT    NOT NULL UNIQUE,
        source_path TEXT,
        builtin     INTEGER NOT NULL DEFAULT 0,
        char_counts TEXT    NOT NULL DEFAULT '{}',
        created     INTEGER NOT NULL
      );

      CREATE TABLE runs (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        corpus_id         INTEGER NOT NULL REFERENCES corpora(id) ON DELETE RESTRICT,
        name              TEXT    NOT NULL,
        config            TEXT    NOT NULL,
        backend           TEXT,
        device            TEXT,
        params            INTEGER,
        status            TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'paused', 'completed', 'stopped', 'failed', 'interrupted')),
        iterations        INTEGER NOT NULL DEFAULT 0,
        total_iters       INTEGER,
        best_val_loss     REAL,
        baseline_val_loss REAL,
        error             TEXT,
        parent_run_id     INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        pid               INTEGER,
        created           INTEGER NOT NULL,
        started           INTEGER,
        ended             INTEGER
      );
      CREATE INDEX runs_by_corpus ON runs (corpus_id);
      CREATE INDEX runs_by_status ON runs (status);
      CREATE INDEX runs_by_created ON runs (created DESC);

      CREATE TABLE metrics (
        run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        iteration   INTEGER NOT NULL,
        epoch       REAL    NOT NULL,
        train_loss  REAL,
        val_loss    REAL,
        lr          REAL,
        chars_per_s REAL,
        elapsed_s   REAL,
        PRIMARY KEY (run_id, iteration)
      ) WITHOUT ROWID;

      CREATE TABLE checkpoints (
        id        INTEGER PRIMARY KEY,
        run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        kind      TEXT    NOT NULL CHECK (kind IN ('best', 'latest')),
        iteration INTEGER NOT NULL,
        val_loss  REAL,
        path      TEXT    NOT NULL,
        created   INTEGER NOT NULL,
        UNIQUE (run_id, kind)
      );

      CREATE TABLE samples (
        id            INTEGER PRIMARY KEY,
        run_id        INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        checkpoint_id INTEGER REFERENCES checkpoints(id) ON DELETE SET NULL,
        source        TEXT    NOT NULL DEFAULT 'generated' CHECK (source IN ('training', 'generated')),
        iteration     INTEGER,
        temperature   REAL,
        top_k         INTEGER,
        prime         TEXT,
        mode          TEXT    NOT NULL CHECK (mode IN ('text', 'lines')),
        text          TEXT    NOT NULL,
        logprob       REAL,
        novelty       TEXT    CHECK (novelty IS NULL OR novelty IN ('train', 'val', 'new')),
        favorite      INTEGER NOT NULL DEFAULT 0,
        note          TEXT    NOT NULL DEFAULT '',
        created       INTEGER NOT NULL,
        deleted       INTEGER
      );
      CREATE INDEX samples_by_run ON samples (run_id, source, created);
      CREATE INDEX samples_by_created ON samples (created DESC) WHERE deleted IS NULL;
      CREATE INDEX samples_favorites ON samples (created DESC) WHERE favorite = 1 AND deleted IS NULL;
    `);
  },
};

export default migration;
