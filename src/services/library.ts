/** The library of corpora: import (content-addressed copies), list, details, rename, delete. */
import fs from 'node:fs';
import path from 'node:path';
import { CharmerError } from '../common/errors.ts';
import { builtinNamesText } from '../engine/names.ts';
import { builtinCorpusInfo, builtinLabel, builtinTable, weighBuiltinItems } from '../engine/builtin-corpora.ts';
import { itemsToTsv, loadTableCorpus, parseTable, tableItems, type TableItems } from '../engine/categories.ts';
import type { Corpus } from '../engine/corpus.ts';
import { loadCorpus } from '../engine/corpus.ts';
import { filterBabyNames } from '../engine/namedata.ts';
import type { Store } from '../store/store.ts';
import { libraryError } from '../store/errors.ts';
import { guessMode } from '../engine/corpus.ts';
import { copyAndMeasure, openRegularFile, sourceError, writeAndMeasureText, readPreview, type CorpusStats } from './corpus-import.ts';
import type {
  BuiltinCorpusRequest,
  CorpusDetail,
  CorpusOrigin,
  CorpusSummary,
  ImportOptions,
  ImportResult,
  ImportSource,
  LibraryService,
  TablePreview,
} from './types.ts';
import type { CorpusMode } from '../common/enums.ts';

export const PREVIEW_CHARS = 3000;

export function notFound(what: string, id: number): CharmerError {
  return new CharmerError('NOT_FOUND', `There is no ${what} with id ${id} in the library.`, { id });
}

export interface LibraryDeps {
  store: Store;
  /** Throws RUN_ACTIVE while the run trains (here or in another process); deletes nothing. */
  assertRunDeletable(id: number): void;
}

/** A CSV/TSV (by path or text) read as a table, for choosing columns or importing with categories. */
async function readTable(source: ImportSource): Promise<ReturnType<typeof parseTable>> {
  if ('path' in source) {
    const p = path.resolve(source.path);
    // The same gate as a plain import: only a regular file is opened (a named pipe would hang).
    const { fh } = await openRegularFile(p);
    let text: string;
    try {
      text = await fh.readFile('utf8');
    } catch (e) {
      throw sourceError(e, p);
    } finally {
      await fh.close();
    }
    return parseTable(text, path.basename(p));
  }
  return parseTable(source.text, source.name);
}

/**
 * A list with categories enters the library as a normalised TSV (name column, then the chosen
 * category columns) with the columns recorded on its row. Everything is checked before anything is
 * written, so a missing column or an empty category leaves the library as it was.
 */
async function importTable(
  store: Store,
  items: TableItems,
  meta: { name: string; sourcePath: string | null; builtin?: boolean; builtinId?: string | null },
): Promise<ImportResult> {
  const text = items.columns.length ? itemsToTsv(items) : items.names.join('\n') + '\n';
  const r = await importCorpus(store, { text, name: meta.name }, { mode: 'lines' }, meta.builtin ?? false, {
    categories: items.columns.length ? items.columns : null,
    builtinId: meta.builtinId ?? null,
    sourcePath: meta.sourcePath,
  });
  return r;
}

/** The origin (source, licence) of a built-in corpus row. */
export function originOf(c: CorpusSummary): CorpusOrigin | null {
  const id = c.builtinId ?? (c.builtin && c.name === 'names' ? 'names' : null);
  const info = id ? builtinCorpusInfo(id) : undefined;
  return info ? { id: info.id, source: info.source, licence: info.licence, url: info.url, description: info.description } : null;
}

function withOrigin<T extends CorpusSummary>(c: T): T {
  return { ...c, origin: originOf(c) };
}

/** A built-in corpus (with category columns and a subset filter) in the library. */
export async function ensureBuiltinCorpus(store: Store, req: BuiltinCorpusRequest): Promise<ImportResult> {
  if (req.id === 'names' && !req.categories?.length && !req.filter) return { corpus: await ensureBuiltinNames(store), existed: true };
  const table = builtinTable(req.id, { categories: req.categories ?? [], ...(req.filter ? { filter: req.filter } : {}) });
  return importTable(store, table, {
    name: builtinLabel(req.id, { categories: req.categories ?? [], ...(req.filter ? { filter: req.filter } : {}) }),
    sourcePath: null,
    builtin: true,
    builtinId: req.id,
  });
}

/**
 * Load a library corpus for training: a table (categories) through the engine's table reader, a
 * plain file as before; the corpus keeps its library name and built-in id (for name cards).
 */
export async function loadLibraryCorpus(
  store: Store,
  c: CorpusSummary,
  opts: { mode?: CorpusMode; signal?: AbortSignal; onProgress?: (p: { bytesRead: number; totalBytes: number }) => void } = {},
): Promise<Corpus> {
  const file = corpusPath(store, c);
  const corpus = c.categories?.length
    ? await loadTableCorpus(file, { categories: c.categories.map((col) => col.name) })
    : await loadCorpus(file, {
        mode: opts.mode ?? c.mode,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
  corpus.name = c.name;
  const id = c.builtinId ?? (c.builtin && c.name === 'names' ? 'names' : null);
  if (id) corpus.builtin = id;
  weighBuiltinItems(corpus);
  return corpus;
}

/** Imports synchronously-callable pieces so the CLI can use them without the whole service. */
export async function importCorpus(
  store: Store,
  source: ImportSource,
  opts: ImportOptions = {},
  builtin = false,
  extra: { categories?: Array<{ name: string; values: string[] }> | null; builtinId?: string | null; sourcePath?: string | null } = {},
): Promise<ImportResult> {
  if (opts.categories !== undefined || opts.nameColumn !== undefined) {
    // Parsed and checked in full before anything is copied.
    const table = await readTable(source);
    const items = tableItems(table, { categories: opts.categories ?? [], ...(opts.nameColumn ? { nameColumn: opts.nameColumn } : {}) });
    const name = source.name ?? ('path' in source ? path.basename(source.path).replace(/\.(csv|tsv|txt)$/i, '') : 'list');
    return importTable(store, items, { name, sourcePath: 'path' in source ? path.resolve(source.path) : null });
  }
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
      // A table's header row is not an item.
      lines: stats.lines - (extra.categories?.length ? 1 : 0),
      hash: stats.hash,
      sourcePath: extra.sourcePath !== undefined ? extra.sourcePath : sourcePath,
      builtin,
      charCounts: stats.charCounts,
      categories: extra.categories ?? null,
      builtinId: extra.builtinId ?? null,
    });
    return { corpus, existed: false };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw libraryError(e, 'the corpus copy', store.dataDir);
  }
}

/** The built-in `names` corpus, imported on the library's first start. */
export async function ensureBuiltinNames(store: Store): Promise<CorpusSummary> {
  const existing = store.listCorpora().find((c) => c.builtin && (c.builtinId === 'names' || (c.builtinId === null && c.name === 'names')));
  if (existing) return existing;
  const { corpus } = await importCorpus(store, { text: builtinNamesText(), name: 'names' }, { mode: 'lines' }, true, { builtinId: 'names' });
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
      return store.listCorpora().map(withOrigin);
    },
    async getCorpus(id): Promise<CorpusDetail> {
      const c = store.getCorpus(id);
      if (!c) throw notFound('corpus', id);
      const counts = store.getCharCounts(id);
      const file = store.corpusFile(c.hash);
      return {
        ...withOrigin(c),
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
    async previewTable(source): Promise<TablePreview> {
      const t = await readTable(source);
      const distinct = t.header.map((_, i) => new Set(t.rows.map((r) => r[i] ?? '')).size);
      return { header: t.header, rows: t.rows.slice(0, 8), total: t.rows.length, distinct };
    },
    async builtinCorpus(req) {
      return ensureBuiltinCorpus(store, req);
    },
    async countBabyNames(filter) {
      const rows = filterBabyNames(filter);
      return { items: rows.length, names: new Set(rows.map((r) => r.name)).size };
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
