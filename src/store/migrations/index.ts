/** Every migration, in order. Add a file NNNN-name.ts and list it here; never edit a released one. */
import type { Migration } from './types.ts';
import m0001 from './0001-initial.ts';
import m0002 from './0002-drafts.ts';
import m0003 from './0003-names.ts';
import m0004 from './0004-sample-guidance.ts';

export type { Migration };

export const migrations: readonly Migration[] = [m0001, m0002, m0003, m0004];

export const LATEST_VERSION = migrations[migrations.length - 1]!.version;
