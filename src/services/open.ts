/**
 * The library for a shell that needs only part of the services (the CLI's `runs`, `gallery`,
 * `models`, `train`): where it lives, and the store opened there, without the model thread and
 * start-up work of createServices.
 */
import { resolveDataDir } from '../store/datadir.ts';
import { openStore, type Store } from '../store/store.ts';

export { resolveDataDir };
export type { Store };

/** Opens the library at --data-dir, else CHARMER_DATA_DIR, else the platform's folder. */
export function openLibraryStore(dataDirFlag?: string | null): Store {
  return openStore(resolveDataDir(dataDirFlag));
}
