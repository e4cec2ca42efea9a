export { openStore, migrate, Store } from './store.ts';
export type { OpenStoreOptions, NewCorpus, NewRun } from './store.ts';
export { resolveDataDir, defaultDataDir, layout } from './datadir.ts';
export { recover, readCheckpointMeta, pidAlive, repairRunDir } from './recovery.ts';
export type { RecoveryReport, CheckpointMeta } from './recovery.ts';
export { LATEST_VERSION, migrations } from './migrations/index.ts';
