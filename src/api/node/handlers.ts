/**
 * Node side only (Electron main, browser-mode server): the contract's operations bound to the
 * services. Almost every handler is one service call, plus the few facts a shell knows (dialogs,
 * links, app info) passed in as `shell`; `runs.estimate` is the exception, working out a run's size
 * and time from the library, this machine's finished runs and ./training.ts's arithmetic.
 */
import { basename, resolve } from 'node:path';
import os from 'node:os';
import type { NewSample, Services } from '../../services/types.ts';
import { contract, type AppInfo, type Estimate, type Events, type FileInfo } from '../contract.ts';
import type { EmitOf, HandlersOf } from '../define.ts';
import { ApiError } from '../errors.ts';
import { guessMode as engineGuessMode } from '../../engine/corpus.ts';
import { openRegularFile } from '../../services/corpus-import.ts';
import { BUILTIN_CORPORA } from '../../engine/builtin-corpora.ts';
import { DEFAULT_CONFIG, countParams, estimateWork, referenceCharsPerS, scaleCharsPerS } from '../training.ts';
import { isActiveStatus, type CorpusMode } from '../../common/enums.ts';

export interface ShellHooks {
  shell: AppInfo['shell'];
  version: string;
  openCorpusDialog?: () => Promise<string | null>;
  openExternal?: (url: string) => Promise<void>;
  /** Guess text/lines from a sample (default: the engine's guessMode). */
  guessMode?: (sample: string) => CorpusMode;
  /**
   * Which file a path from the client names, or a refusal: library.inspectFile and importFile open
   * files on the machine that runs the services. Electron's renderer only holds paths its own dialogs
   * and drops returned (the default: the path as given). Browser mode is reachable by any page that
   * holds the token, so it passes a policy (src/server/paths.ts) that refuses, or keeps to one folder.
   */
  resolvePath?: (path: string) => Promise<string>;
}

const HEAD_BYTES = 64 * 1024;

export function createHandlers(services: Services, hooks: ShellHooks, emit: EmitOf<Events>): HandlersOf<typeof contract> {
  const guess = hooks.guessMode ?? engineGuessMode;
  const resolvePath = hooks.resolvePath ?? (async (p: string) => resolve(p));
  const progress = (importId: string | undefined) =>
    importId
      ? (p: { bytesRead: number; totalBytes: number }) => emit('importProgress', { importId, bytesRead: p.bytesRead, totalBytes: p.totalBytes })
      : undefined;
  const changed = (reason: string) => emit('libraryChanged', { reason });
  /** Inspections in flight by their client-chosen inspectId, so a newer one (or inspect.cancel) stops an older one. */
  const inspections = new Map<string, AbortController>();
  /** Runs an inspection under its inspectId: a signal that inspect.cancel (or a newer one) aborts, and progress events. */
  async function cancellable<T>(
    inspectId: string | undefined,
    start: (extra: { signal: AbortSignal; onProgress?: (p: { done: number; total: number }) => void }) => Promise<T>,
  ): Promise<T> {
    if (inspectId) inspections.get(inspectId)?.abort();
    const ac = new AbortController();
    if (inspectId) inspections.set(inspectId, ac);
    try {
      return await start({
        signal: ac.signal,
        ...(inspectId ? { onProgress: (p: { done: number; total: number }) => emit('inspectProgress', { inspectId, ...p }) } : {}),
      });
    } finally {
      if (inspectId && inspections.get(inspectId) === ac) inspections.delete(inspectId);
    }
  }

  return {
    app: {
      info: () => ({
        version: hooks.version,
        shell: hooks.shell,
        dataDir: services.info.dataDir,
        platform: process.platform,
        cores: os.availableParallelism?.() ?? os.cpus().length,
        nativeDialogs: Boolean(hooks.openCorpusDialog),
      }),
    },
    library: {
      list: () => services.library.listCorpora(),
      get: ({ id }) => services.library.getCorpus(id),
      inspectFile: async ({ path: given }): Promise<FileInfo> => {
        const path = await resolvePath(given);
        const { fh, size } = await openRegularFile(path);
        try {
          const buf = Buffer.alloc(Math.min(HEAD_BYTES, size));
          const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
          const head = new TextDecoder('utf-8', { fatal: false }).decode(buf.subarray(0, bytesRead));
          return {
            path: given,
            name: basename(path).replace(/\.[^.]*$/, '') || basename(path),
            bytes: size,
            guessedMode: guess(head),
            head: head.slice(0, 4000),
          };
        } finally {
          await fh.close();
        }
      },
      guessMode: ({ text }) => guess(text),
      importFile: async ({ path: given, name, mode, importId, categories, nameColumn }) => {
        const path = await resolvePath(given);
        const r = await services.library.importCorpus(
          { path, name: name ?? (basename(given).replace(/\.(csv|tsv|txt)$/i, '') || basename(given)) },
          {
            ...(mode ? { mode } : {}),
            ...(importId ? { onProgress: progress(importId) } : {}),
            ...(categories ? { categories } : {}),
            ...(nameColumn ? { nameColumn } : {}),
          },
        );
        changed('import');
        return r;
      },
      importText: async ({ text, name, mode, importId, categories, nameColumn }) => {
        const r = await services.library.importCorpus(
          { text, name },
          {
            ...(mode ? { mode } : {}),
            ...(importId ? { onProgress: progress(importId) } : {}),
            ...(categories ? { categories } : {}),
            ...(nameColumn ? { nameColumn } : {}),
          },
        );
        changed('import');
        return r;
      },
      // A path goes through the same policy as importFile (browser mode: refused or kept to --allow-dir).
      previewTable: async (source) => services.library.previewTable('path' in source ? { ...source, path: await resolvePath(source.path) } : source),
      builtins: () => [...BUILTIN_CORPORA],
      builtin: async ({ id, categories, filter }) => {
        const r = await services.library.builtinCorpus({ id, ...(categories ? { categories } : {}), ...(filter ? { filter } : {}) });
        if (!r.existed) changed('import');
        return r;
      },
      countBabyNames: ({ filter }) => services.library.countBabyNames(filter),
      rename: async ({ id, name }) => {
        const r = await services.library.renameCorpus(id, name);
        changed('rename');
        return r;
      },
      remove: async ({ id, force }) => {
        await services.library.deleteCorpus(id, force ? { force } : {});
        changed('delete');
      },
    },
    runs: {
      list: (filter) => services.runs.listRuns(filter),
      get: ({ id }) => services.runs.getRun(id),
      metrics: ({ id, afterIteration }) => services.runs.getMetrics(id, afterIteration),
      estimate: async ({ corpusId, config }): Promise<Estimate> => {
        const corpus = await services.library.getCorpus(corpusId);
        const full = { ...DEFAULT_CONFIG, ...config };
        const params = countParams(full, corpus.vocabSize);
        // Measured: the finished runs of this machine, the closest in size first.
        const runs = await services.runs.listRuns();
        let charsPerS = referenceCharsPerS(params);
        let basis: Estimate['basis'] = 'reference';
        // Finished runs only: a run in progress is still warming up.
        const measured = runs.filter((r) => r.params && r.iterations > 0 && !isActiveStatus(r.status));
        measured.sort((a, b) => Math.abs(Math.log(a.params! / params)) - Math.abs(Math.log(b.params! / params)));
        for (const r of measured.slice(0, 3)) {
          const rows = await services.runs.getMetrics(r.id, Math.max(-1, r.iterations - 50));
          const speeds = rows.map((m) => m.charsPerS).filter((v): v is number => typeof v === 'number' && v > 0);
          if (speeds.length) {
            speeds.sort((a, b) => a - b);
            charsPerS = scaleCharsPerS(speeds[speeds.length >> 1]!, r.params!, params);
            basis = 'measured';
            break;
          }
        }
        const work = estimateWork(full, corpus.chars, charsPerS);
        return { params, charsPerS, basis, ...work };
      },
      start: (opts) => services.runs.startRun(opts),
      resume: ({ id }) => services.runs.resumeRun(id),
      pause: ({ id }) => services.runs.pauseRun(id),
      continue: ({ id }) => services.runs.continueRun(id),
      stop: ({ id }) => services.runs.stopRun(id),
      rename: ({ id, name }) => services.runs.renameRun(id, name),
      remove: ({ id }) => services.runs.deleteRun(id),
      copy: ({ id, name }) => services.runs.copyRun(id, name),
    },
    gallery: {
      list: (q) => services.gallery.listSamples(q),
      // The card's inner shape is the services' own NameCard; the schema checks its outline and size.
      save: (s) => services.gallery.saveSample(s as NewSample),
      saveMany: ({ samples }) => services.gallery.saveSamples(samples as NewSample[]),
      setFavorite: ({ id, favorite }) => services.gallery.setFavorite(id, favorite),
      setNote: ({ id, note }) => services.gallery.setNote(id, note),
      remove: ({ ids }) => services.gallery.deleteSamples(ids),
      restore: ({ ids }) => services.gallery.restoreSamples(ids),
      export: ({ ids, format }) => services.gallery.exportSamples(ids, format),
    },
    generate: {
      models: () => services.generation.listModels(),
      lines: (req) => services.generation.sampleLines(req),
      nameCard: (req) => services.generation.nameCard(req),
      text: (req) => services.generation.sampleText(req, (chunk) => req.requestId && emit('generateText', { requestId: req.requestId, chunk })),
      cancel: ({ requestId }) => services.generation.cancel(requestId),
      continuations: (req) => services.generation.continuations(req),
      learnStyle: (req) => services.generation.learnStyle(req),
    },
    drafts: {
      list: () => services.drafts.listDrafts(),
      get: ({ id }) => services.drafts.getDraft(id),
      save: (d) => services.drafts.saveDraft(d),
      remove: ({ id }) => services.drafts.deleteDraft(id),
    },
    inspect: {
      defaultText: ({ runId }) => services.inspection.defaultText(runId),
      run: ({ inspectId, ...req }) => cancellable(inspectId, (extra) => services.inspection.inspect({ ...req, ...extra })),
      cell: ({ id, layer, kind, cell }) => services.inspection.getCell(id, layer, kind, cell),
      cancel: ({ inspectId }) => inspections.get(inspectId)?.abort(),
      evolution: ({ runId }) => services.inspection.evolution(runId),
      attention: ({ inspectId, ...req }) => cancellable(inspectId, (extra) => services.inspection.attention({ ...req, ...extra })),
      attentionAt: ({ id, position }) => services.inspection.attentionAt(id, position),
    },
    shell: {
      openCorpusDialog: async () => {
        if (!hooks.openCorpusDialog)
          throw new ApiError('UNAVAILABLE', 'There is no file dialog in browser mode: choose a file with the page’s file picker, which uploads it.');
        return hooks.openCorpusDialog();
      },
      openExternal: async ({ url }) => {
        const u = new URL(url);
        if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ApiError('INVALID_INPUT', 'Only http and https links can be opened.');
        if (!hooks.openExternal) throw new ApiError('UNAVAILABLE', 'Links open in this browser: use the link itself.');
        await hooks.openExternal(u.toString());
      },
    },
  };
}
