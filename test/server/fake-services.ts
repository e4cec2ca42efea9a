/** A small in-memory Services for the shell tests (no database, no training). */
import { readFileSync } from 'node:fs';
import type { CorpusSummary, RunEvent, Services } from '../../src/services/types.ts';
import { CharmerError } from '../../src/engine/errors.ts';

export function corpus(id: number, name: string, extra: Partial<CorpusSummary> = {}): CorpusSummary {
  return {
    id,
    name,
    mode: 'lines',
    bytes: 100,
    chars: 100,
    vocabSize: 20,
    lines: 10,
    hash: 'h' + id,
    sourcePath: null,
    builtin: false,
    builtinId: null,
    categories: null,
    runCount: 0,
    created: 0,
    ...extra,
  };
}

export function fakeServices(dataDir: string) {
  const corpora: CorpusSummary[] = [corpus(1, 'names', { builtin: true })];
  const listeners = new Set<(e: RunEvent) => void>();
  const calls: Array<[string, unknown]> = [];
  const services: Services = {
    info: { dataDir, databasePath: `${dataDir}/charmer.db`, schemaVersion: 1 },
    library: {
      listCorpora: async () => corpora,
      getCorpus: async (id) => {
        const c = corpora.find((x) => x.id === id);
        if (!c) throw new CharmerError('NOT_FOUND', `There is no corpus ${id}.`);
        return { ...c, charFrequency: [{ char: 'a', count: 5 }], preview: 'abc', path: '/x' };
      },
      importCorpus: async (source, opts) => {
        calls.push(['importCorpus', source]);
        const text = 'path' in source ? readFileSync(source.path, 'utf8') : source.text;
        if (!text.trim()) throw new CharmerError('EMPTY_CORPUS', 'The file is empty: choose a file with some text in it.');
        opts?.onProgress?.({ bytesRead: text.length, totalBytes: text.length });
        const c = corpus(corpora.length + 1, source.name ?? 'file', { chars: text.length, mode: opts?.mode ?? 'text' });
        corpora.push(c);
        return { corpus: c, existed: false };
      },
      renameCorpus: async (id, name) => ({ ...corpora.find((c) => c.id === id)!, name }),
      deleteCorpus: async () => {},
      previewTable: async () => ({ header: ['name'], rows: [], total: 0, distinct: [0] }),
      builtinCorpus: async () => ({ corpus: corpora[0]!, existed: true }),
      countBabyNames: async () => ({ items: 0, names: 0 }),
    },
    runs: {
      listRuns: async () => [],
      getRun: async (id) => {
        throw new CharmerError('NOT_FOUND', `There is no run ${id}.`);
      },
      getMetrics: async () => [],
      startRun: async (opts) => {
        calls.push(['startRun', opts]);
        throw new CharmerError('BACKEND_UNAVAILABLE', 'no backend in tests');
      },
      resumeRun: async () => {
        throw new Error('not in tests');
      },
      pauseRun: async () => {},
      continueRun: async () => {},
      stopRun: async (id) => {
        calls.push(['stopRun', id]);
      },
      renameRun: async () => {
        throw new Error('not in tests');
      },
      deleteRun: async () => {},
      copyRun: async () => {
        throw new Error('not in tests');
      },
      onEvent: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    },
    gallery: {
      listSamples: async () => ({ items: [], total: 0 }),
      saveSample: async () => {
        throw new Error('x');
      },
      saveSamples: async () => [],
      setFavorite: async () => {},
      setNote: async () => {},
      deleteSamples: async () => 0,
      restoreSamples: async () => 0,
      exportSamples: async () => '',
    },
    drafts: {
      listDrafts: async () => [],
      getDraft: async () => {
        throw new Error('x');
      },
      saveDraft: async (d) => ({ id: 1, title: d.title, text: d.text, runId: null, updated: 0 }),
      deleteDraft: async () => {},
    },
    generation: {
      listModels: async () => [],
      nameCard: async () => {
        throw new CharmerError('CHECKPOINT_MISSING', 'There is no trained model yet.');
      },
      sampleLines: async () => {
        throw new CharmerError('CHECKPOINT_MISSING', 'There is no trained model yet.');
      },
      sampleText: async () => {
        throw new CharmerError('CHECKPOINT_MISSING', 'There is no trained model yet.');
      },
      continuations: async () => {
        throw new CharmerError('CHECKPOINT_MISSING', 'There is no trained model yet.');
      },
      cancel: () => {},
      learnStyle: async () => {
        throw new CharmerError('CHECKPOINT_MISSING', 'There is no trained model yet.');
      },
      close: async () => {},
    },
    inspection: {
      defaultText: async (id) => {
        throw new CharmerError('NOT_FOUND', `There is no run ${id}.`);
      },
      inspect: async ({ runId }) => {
        throw new CharmerError('NOT_FOUND', `There is no run ${runId}.`);
      },
      getCell: () => {
        throw new CharmerError('NOT_FOUND', 'That inspection is no longer kept: run Inspect again.');
      },
      evolution: async () => [],
      attention: async ({ runId }) => {
        throw new CharmerError('NOT_FOUND', `There is no run ${runId}.`);
      },
      attentionAt: async () => {
        throw new CharmerError('NOT_FOUND', 'That inspection is no longer kept: run Inspect again.');
      },
    },
    close: async () => {
      calls.push(['close', null]);
    },
  };
  return { services, calls, emit: (e: RunEvent) => listeners.forEach((l) => l(e)), listeners };
}
