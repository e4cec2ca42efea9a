/** The library of corpora: import (content-addressed copies), list, details, rename, delete. */
import fs from 'node:fs';
import path from 'node:path';
import { CharmerError } from '../engine/errors.ts';
import { builtinNamesText } from '../engine/names.ts';
import type { Store } from '../store/store.ts';
import { libraryError } from '../store/errors.ts';
import { guessMode } from '../engine/corpus.ts';
import { copyAndMeasure, writeAndMeasureText, readPreview, type CorpusStats } from './corpus-import.ts';
import type { CorpusDetail, CorpusSummary, ImportOptions, ImportResult, ImportSource, LibraryService } from './types.ts';

export const PREVIEW_CHARS = 3000;

export function notFound(what: string, id: number): CharmerError {
  return new CharmerError('NOT_FOUND', `There is no ${what} with id ${id} in the library.`, { id });
}

export interface LibraryDeps {
  store: Store;
  /** Throws RUN_ACTIVE while the run trains (here or in another process); deletes nothing. */
  assertRunDeletable(id: number): void;
}

/** Imports synchronously-callable pieces so the CLI can use them without the whole service. */
export async function importCorpus(store: Store, source: ImportSource, opts: ImportOptions = {}, builtin = false): Promise<ImportResult> {
  const dir = path.dirname(store.corpusFile('x'));
  const tmp = path.join(dir, `.import-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`);
  let stats: CorpusStats;
  let name: string;
  let sourcePath: string | null = null;
  try {
    if ('path' in source) {
      sourcePath = path.resolve(source.path);
      name = source.name ?? path.basename(sourcePath).replace(/\.txt$/i, '');
      stats = await copyAndMeasure(sourcePath, tmp, opts.onProgress);
    } else {
      name = source.name;
      stats = await writeAndMeasureText(source.text, tmp, opts.onProgress);
    }
    const existing = store.getCorpusByHash(stats.hash);
    if (existing) {
      fs.rmSync(tmp, { force: true });
      return { corpus: existing, existed: true };
    }
    const dest = store.corpusFile(stats.hash);
    fs.renameSync(tmp, dest);
    const corpus = store.insertCorpus({
      name,
      mode: opts.mode ?? guessMode(stats.head),
      bytes: stats.bytes,
      chars: stats.chars,
      vocabSize: Object.keys(stats.charCounts).length,
      lines: stats.lines,
      hash: stats.hash,
      sourcePath,
      builtin,
      charCounts: stats.charCounts,
    });
    return { corpus, existed: false };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw libraryError(e, 'the corpus copy', store.dataDir);
  }
}

/** The built-in `names` corpus, imported on the library's first start. */
export async function ensureBuiltinNames(store: Store): Promise<CorpusSummary> {
  const existing = store.listCorpora().find((c) => c.builtin);
  if (existing) return existing;
  const { corpus } = await importCorpus(store, { text: builtinNamesText(), name: 'names' }, { mode: 'lines' }, true);
  return corpus;
}

/** The library file of a corpus; throws a clear error when it was deleted by hand. */
export function corpusPath(store: Store, c: CorpusSummary): string {
  const p = store.corpusFile(c.hash);
  if (!fs.existsSync(p)) {
    throw new CharmerError(
      'FILE_NOT_FOUND',
      `The library's copy of corpus "${c.name}" (${p}) is missing: it was deleted by hand. Import the original again${c.sourcePath ? ` (${c.sourcePath})` : ''}.`,
      { path: p },
    );
  }
  return p;
}

export function createLibraryService(deps: LibraryDeps): LibraryService {
  const { store } = deps;
  return {
    async listCorpora() {
      return store.listCorpora();
    },
    async getCorpus(id): Promise<CorpusDetail> {
      const c = store.getCorpus(id);
      if (!c) throw notFound('corpus', id);
      const counts = store.getCharCounts(id);
      const file = store.corpusFile(c.hash);
      return {
        ...c,
        charFrequency: Object.entries(counts)
          .map(([char, count]) => ({ char, count }))
          .sort((a, b) => b.count - a.count || (a.char < b.char ? -1 : 1)),
        preview: fs.existsSync(file) ? readPreview(file, PREVIEW_CHARS) : '',
        path: file,
      };
    },
    async importCorpus(source, opts) {
      return importCorpus(store, source, opts);
    },
    async renameCorpus(id, name) {
      if (!store.getCorpus(id)) throw notFound('corpus', id);
      store.renameCorpus(id, name);
      return store.getCorpus(id)!;
    },
    async deleteCorpus(id, opts = {}) {
      const c = store.getCorpus(id);
      if (!c) throw notFound('corpus', id);
      const runs = store.listRuns({ corpusId: id });
      if (runs.length && !opts.force) {
        throw new CharmerError(
          'CORPUS_IN_USE',
          `${runs.length} run${runs.length === 1 ? '' : 's'} train${runs.length === 1 ? 's' : ''} on "${c.name}". Deleting the corpus deletes ${runs.length === 1 ? 'it' : 'them'} too, with their checkpoints; confirm to go on.`,
          { runs: runs.map((r) => r.id) },
        );
      }
      // All or nothing: every run is checked before anything goes, then every row goes in one
      // transaction; folders and the copy are removed only once the rows are gone.
      for (const r of runs) deps.assertRunDeletable(r.id);
      store.transaction(() => {
        for (const r of runs) store.deleteRunRows(r.id);
        store.deleteCorpusRow(id);
      });
      for (const r of runs) fs.rmSync(store.runDir(r.id), { recursive: true, force: true });
      fs.rmSync(store.corpusFile(c.hash), { force: true });
    },
  };
}
