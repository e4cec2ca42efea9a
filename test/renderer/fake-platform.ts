/** An in-memory Platform for component tests: a typed Api over fake data, and events on demand. */
import { vi } from 'vitest';
import type { Api, CorpusDetail, CorpusSummary, RunDetail, RunEvent, RunSummary } from '../../src/api/index.ts';
import { ApiError } from '../../src/api/errors.ts';
import { DEFAULT_CONFIG } from '../../src/api/training.ts';
import type { Platform } from '../../src/renderer/lib/client.ts';
import { readText } from '../../src/renderer/lib/library.svelte.ts';

export function corpus(id: number, name: string, extra: Partial<CorpusSummary> = {}): CorpusSummary {
  return {
    id,
    name,
    mode: 'lines',
    bytes: 57_800,
    chars: 59_167,
    vocabSize: 54,
    lines: 8422,
    hash: `h${id}`,
    sourcePath: null,
    builtin: id === 1,
    builtinId: null,
    categories: null,
    runCount: 0,
    created: 0,
    ...extra,
  };
}

export function run(id: number, extra: Partial<RunSummary> = {}): RunSummary {
  return {
    id,
    corpusId: 1,
    corpusName: 'names',
    name: `names lstm 2x128 #${id}`,
    status: 'completed',
    config: { ...DEFAULT_CONFIG, mode: 'lines' },
    backend: 'wasm',
    device: 'CPU (WebAssembly)',
    params: 277_000,
    iterations: 300,
    totalIters: 3000,
    bestValLoss: 2.1,
    baselineValLoss: 2.15,
    error: null,
    parentRunId: null,
    created: 0,
    started: 0,
    ended: 1,
    resumable: true,
    ...extra,
  };
}

export function fakePlatform(opts: { corpora?: CorpusSummary[]; runs?: RunSummary[] } = {}) {
  const corpora = opts.corpora ?? [corpus(1, 'names')];
  const runs = opts.runs ?? [];
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const emit = (name: string, payload: unknown) => listeners.get(name)?.forEach((l) => l(payload));
  const detail = (c: CorpusSummary): CorpusDetail => ({
    ...c,
    charFrequency: [
      { char: '\n', count: 8422 },
      { char: 'a', count: 5000 },
      { char: 'e', count: 4000 },
    ],
    preview: 'Aaron\nAbbey\nAbbie\n',
    path: '/data/corpora/x.txt',
  });
  const runDetail = (r: RunSummary): RunDetail => ({
    ...r,
    metrics: [
      { iteration: 50, epoch: 0.5, trainLoss: 2.9, valLoss: 2.8, lr: 0.002, charsPerS: 3000, elapsedS: 5 },
      { iteration: 100, epoch: 1, trainLoss: 2.5, valLoss: null, lr: 0.002, charsPerS: 3000, elapsedS: 10 },
    ],
    checkpoints: [{ id: 1, runId: r.id, kind: 'latest', iteration: 100, valLoss: 2.8, path: '/x', created: 0 }],
    trainingSamples: [
      {
        id: 1,
        runId: r.id,
        runName: r.name,
        checkpointId: null,
        source: 'training',
        iteration: 50,
        temperature: 1,
        topK: null,
        guidance: null,
        prime: null,
        mode: 'lines',
        text: 'Marlen\nJosha',
        logprob: null,
        novelty: null,
        favorite: false,
        note: '',
        category: null,
        card: null,
        created: 0,
      },
    ],
  });
  const api = {
    app: { info: vi.fn(async () => ({ version: '0', shell: 'browser', dataDir: '/data', platform: 'linux', cores: 2, nativeDialogs: false })) },
    library: {
      list: vi.fn(async () => [...corpora]),
      get: vi.fn(async ({ id }: { id: number }) => {
        const c = corpora.find((x) => x.id === id);
        if (!c) throw new ApiError('NOT_FOUND', `No corpus ${id}.`);
        return detail(c);
      }),
      inspectFile: vi.fn(async ({ path }: { path: string }) => ({ path, name: 'file', bytes: 10, guessedMode: 'text', head: 'hello' })),
      guessMode: vi.fn(async ({ text }: { text: string }) => (text.split('\n').length > 3 ? 'lines' : 'text')),
      builtins: vi.fn(async () => []),
      countBabyNames: vi.fn(async () => ({ items: 0, names: 0 })),
      importFile: vi.fn(),
      importText: vi.fn(async ({ text, name, mode, importId }: { text: string; name: string; mode?: 'text' | 'lines'; importId?: string }) => {
        if (text.includes('\u0000')) throw new ApiError('BINARY_FILE', 'This looks like a binary file, not text: choose a plain text file.');
        emit('importProgress', { importId, bytesRead: 5, totalBytes: 10 });
        const c = corpus(corpora.length + 1, name, { mode: mode ?? 'text', chars: text.length, builtin: false });
        corpora.push(c);
        return { corpus: c, existed: false };
      }),
      rename: vi.fn(),
      remove: vi.fn(async ({ id }: { id: number }) => {
        corpora.splice(
          corpora.findIndex((c) => c.id === id),
          1,
        );
      }),
    },
    runs: {
      list: vi.fn(async () => runs.map((r) => ({ ...r }))),
      get: vi.fn(async ({ id }: { id: number }) => runDetail(runs.find((r) => r.id === id)!)),
      metrics: vi.fn(async () => []),
      estimate: vi.fn(async () => ({ params: 277_000, trainChars: 53_000, totalChars: 1_590_000, seconds: 95, charsPerS: 1400, basis: 'reference' })),
      start: vi.fn(async ({ corpusId, config, name }: { corpusId: number; config: Record<string, unknown>; name?: string }) => {
        const r = run(runs.length + 1, {
          corpusId,
          status: 'running',
          name: name ?? 'new run',
          config: { ...DEFAULT_CONFIG, ...config },
          iterations: 0,
          bestValLoss: null,
        });
        runs.push(r);
        return r;
      }),
      resume: vi.fn(async () => run(1)),
      pause: vi.fn(async ({ id }: { id: number }) => {
        runs.find((r) => r.id === id)!.status = 'paused';
      }),
      continue: vi.fn(async ({ id }: { id: number }) => {
        runs.find((r) => r.id === id)!.status = 'running';
      }),
      stop: vi.fn(async ({ id }: { id: number }) => {
        runs.find((r) => r.id === id)!.status = 'stopped';
      }),
      rename: vi.fn(),
      remove: vi.fn(),
    },
    gallery: {},
    drafts: {},
    shell: { openCorpusDialog: vi.fn(async () => null), openExternal: vi.fn() },
    on: Object.fromEntries(
      ['runEvent', 'importProgress', 'libraryChanged'].map((name) => [
        name,
        (cb: (p: unknown) => void) => {
          let set = listeners.get(name);
          if (!set) listeners.set(name, (set = new Set()));
          set.add(cb);
          return () => set!.delete(cb);
        },
      ]),
    ),
  };
  const platform: Platform = {
    api: api as unknown as Api,
    shell: 'browser',
    pathForFile: () => '',
    uploadFile: vi.fn(async (file: File, o: { name?: string; mode?: 'text' | 'lines' }) => {
      const text = await readText(file);
      return (api.library.importText as unknown as (i: unknown) => Promise<never>)({ text, name: o.name ?? file.name, mode: o.mode });
    }) as never,
    connected: () => true,
    onConnection: () => () => {},
  };
  return { platform, api, corpora, runs, emitRun: (e: RunEvent) => emit('runEvent', e), emit };
}
