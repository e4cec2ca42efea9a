/**
 * createServices: the one object every shell (Electron main, browser mode, CLI) uses.
 * See ./types.ts for the contract and docs/STORE.md for the library on disk.
 */
import { openStore } from '../store/store.ts';
import { resolveDataDir } from '../store/datadir.ts';
import { createDraftsService } from './drafts.ts';
import { createGalleryService } from './gallery.ts';
import { createGenerationService } from './generation.ts';
import { ModelHost } from './model-host.ts';
import { createInspectionService } from './inspection.ts';
import { corpusFileOfRun } from './training.ts';
import { createLibraryService, ensureBuiltinNames } from './library.ts';
import { createRunsService } from './runs.ts';
import { ensureStarterRuns } from './starters.ts';
import type { CreateServicesOptions, Services } from './types.ts';
import { openFiles } from '../engine/stats.ts';

export * from './types.ts';
export { RunRecorder } from './recorder.ts';
export { beginForegroundRun, resumeForegroundRun } from './training.ts';
export { formatSamples } from './gallery.ts';

/** Soft-deleted samples are kept this long for undo. */
const UNDO_WINDOW_MS = 24 * 3600 * 1000;

export async function createServices(opts: CreateServicesOptions = {}): Promise<Services> {
  const dataDir = opts.dataDir ?? resolveDataDir();
  const store = openStore(dataDir);
  try {
    if (store.fresh) await ensureBuiltinNames(store);
    store.purgeDeletedSamples(UNDO_WINDOW_MS);
    await ensureStarterRuns(store);
  } catch (e) {
    store.close();
    throw e;
  }
  const runs = createRunsService(store, opts.launcher);
  const library = createLibraryService({ store, assertRunDeletable: (id) => runs.assertDeletable(id) });
  // One model thread for sampling and inspection; started on first use.
  const modelHost = new ModelHost();
  const generation = createGenerationService({ store, runs, library, host: modelHost });
  const inspection = createInspectionService({ runs, corpusFile: (run) => corpusFileOfRun(store, run), host: modelHost });
  let closed = false;
  return {
    info: { dataDir: store.dataDir, databasePath: store.dbPath, schemaVersion: store.schemaVersion },
    library,
    runs,
    gallery: createGalleryService(store),
    drafts: createDraftsService(store),
    generation,
    inspection,
    async diagnostics() {
      return {
        main: { rss: process.memoryUsage().rss, openFiles: openFiles() },
        modelThread: await modelHost.stats(),
        trainers: await runs.stats(),
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await generation.close();
      await modelHost.close();
      await runs.shutdown();
      store.close();
    },
  };
}
