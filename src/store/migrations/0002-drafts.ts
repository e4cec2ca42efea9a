/** Drafts of the writing companion: a title, the text being written, and the run that helps. */
import type { Migration } from './types.ts';

const migration: Migration = {
  version: 2,
  name: 'drafts',
  up(db) {
    db.exec(`
      CREATE TABLE drafts (
        id      INTEGER PRIMARY KEY,
        title   TEXT    NOT NULL DEFAULT '',
        text    TEXT    NOT NULL DEFAULT '',
        run_id  INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        updated INTEGER NOT NULL
      );
      CREATE INDEX drafts_by_updated ON drafts (updated DESC);
    `);
  },
};

export default migration;
