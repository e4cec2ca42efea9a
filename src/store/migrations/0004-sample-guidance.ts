/**
 * A kept sample keeps the guidance it was generated with (issue 17's classifier-free guidance
 * towards a category), beside its temperature and top-k, so the Gallery says how it was made.
 * NULL: generated without guidance (no category asked, or kept before this column existed).
 */
import type { Migration } from './types.ts';

const migration: Migration = {
  version: 4,
  name: 'sample-guidance',
  up(db) {
    db.exec(`ALTER TABLE samples ADD COLUMN guidance REAL;`);
  },
};

export default migration;
