/**
 * Names (issue 17): a list corpus may carry category columns (JSON: [{ name, values }]) and name
 * the built-in corpus it was made from (us-baby-names, startup-names, names); a kept sample keeps
 * the category it was generated for and its name card (JSON), so the shortlist shows them later.
 */
import type { Migration } from './types.ts';

const migration: Migration = {
  version: 3,
  name: 'names',
  up(db) {
    db.exec(`
      ALTER TABLE corpora ADD COLUMN categories TEXT;
      ALTER TABLE corpora ADD COLUMN builtin_id TEXT;
      ALTER TABLE samples ADD COLUMN category TEXT;
      ALTER TABLE samples ADD COLUMN card TEXT;
    `);
  },
};

export default migration;
