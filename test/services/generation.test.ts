/**
 * The generation service on a real library with a fake model thread: which checkpoint a request
 * resolves to, cancelling by requestId, the companion's continuations, and "learn my style".
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStore, type Store } from '../../src/store/store.ts';
import { createGenerationService, trimContinuation, type SamplerHost } from '../../src/services/generation.ts';
import { tempDir, writeFakeCheckpoint } from '../store/helpers.ts';
import { DEFAULT_CONFIG } from '../../src/api/training.ts';

let store: Store;
let d: string;
afterEach(() => {
  store?.close();
  fs.rmSync(d, { recursive: true, force: true });
});

function library() {
  d = tempDir('charmer-gen-');
  store = openStore(d);
  const names = store.insertCorpus({
    name: 'names',
    mode: 'lines',
    bytes: 10,
    chars: 10,
    vocabSize: 5,
    lines: 3,
    hash: 'a'.repeat(64),
    sourcePath: null,
    charCounts: {},
  });
  const poems = store.insertCorpus({
    name: 'poems',
    mode: 'text',
    bytes: 10,
    chars: 10,
    vocabSize: 5,
    lines: 3,
    hash: 'b'.repeat(64),
    sourcePath: null,
    charCounts: {},
  });
  const checkpoint = (runId: number, kind: 'best' | 'latest', it: number) => {
    const dir = path.join(store.runDir(runId), kind);
    writeFakeCheckpoint(dir, it);
    store.upsertCheckpoint(runId, kind, it, 2, dir);
  };
  const r1 = store.createRun({ corpusId: names.id, name: 'names run', config: { ...DEFAULT_CONFIG, mode: 'lines' } });
  checkpoint(r1.id, 'best', 100);
  checkpoint(r1.id, 'latest', 150);
  const r2 = store.createRun({ corpusId: poems.id, name: 'poems run', config: { ...DEFAULT_CONFIG, mode: 'text' } });
  checkpoint(r2.id, 'latest', 40);
  // The newest run has no checkpoint yet: the default skips it.
  const r3 = store.createRun({ corpusId: names.id, name: 'fresh', config: { ...DEFAULT_CONFIG, mode: 'lines' } });
  return { names, poems, r1, r2, r3 };
}

function fakeHost() {
  const calls: Array<{ type: string; dir: string; opts: Record<string, unknown>; signal?: AbortSignal }> = [];
  const host: SamplerHost & { calls: typeof calls } = {
    calls,
    sampleLines: vi.fn(async (dir, opts, signal) => {
      calls.push({ type: 'lines', dir, opts: opts as never, signal });
      return [{ text: 'Anna', logprob: -3, novelty: 'train' as const }];
    }),
    sampleText: vi.fn(async (dir, opts, onText, signal) => {
      calls.push({ type: 'text', dir, opts: opts as never, signal });
      const text = ` and night ${String(opts.seed)} was long. Then ${String(opts.seed)}`;
      for (const ch of text) {
        if (signal?.aborted) throw new Error('cancelled');
        onText(ch);
        await new Promise((r) => setTimeout(r, 1));
      }
      return { text, logprob: -10 };
    }),
  };
  return host;
}

describe('generation service', () => {
  it('lists every checkpoint newest run first, best before latest', async () => {
    const { r1, r2 } = library();
    const g = createGenerationService({ store, host: fakeHost(), runs: { startRun: vi.fn() }, library: { importCorpus: vi.fn(), getCorpus: vi.fn() } });
    const models = await g.listModels();
    expect(models.map((m) => [m.runId, m.kind, m.mode])).toEqual([
      [r2.id, 'latest', 'text'],
      [r1.id, 'best', 'lines'],
      [r1.id, 'latest', 'lines'],
    ]);
  });

  it('resolves the default model, a run (best unless asked) and refuses a text model for lines', async () => {
    const { r1, r2, r3 } = library();
    const host = fakeHost();
    const g = createGenerationService({ store, host, runs: { startRun: vi.fn() }, library: { importCorpus: vi.fn(), getCorpus: vi.fn() } });
    // Default: newest run with a checkpoint (r2, text) — so lines refuses with a clear message.
    await expect(g.sampleLines({ count: 5 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    const a = await g.sampleLines({ runId: r1.id, count: 5, temperature: 0.7, prefix: 'A' });
    expect(a.model).toMatchObject({ runId: r1.id, kind: 'best', iteration: 100 });
    expect(host.calls[0]!.dir).toBe(path.join(store.runDir(r1.id), 'best'));
    expect(host.calls[0]!.opts).toEqual({ count: 5, temperature: 0.7, prefix: 'A' });
    const b = await g.sampleLines({ runId: r1.id, kind: 'latest', count: 5 });
    expect(b.model.iteration).toBe(150);
    await expect(g.sampleLines({ runId: r3.id, count: 5 })).rejects.toMatchObject({ code: 'CHECKPOINT_MISSING' });
    await expect(g.sampleLines({ runId: 999, count: 5 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const t = await g.sampleText({ length: 10, prime: 'The' }, () => {});
    expect(t.model.runId).toBe(r2.id);
  });

  it('streams text, and a second request with the same id stops the first', async () => {
    library();
    const host = fakeHost();
    const g = createGenerationService({ store, host, runs: { startRun: vi.fn() }, library: { importCorpus: vi.fn(), getCorpus: vi.fn() } });
    const chunks: string[] = [];
    const first = g.sampleText({ requestId: 'r', length: 40, seed: 1 }, (c) => chunks.push(c));
    await new Promise((r) => setTimeout(r, 10));
    const second = await g.sampleText({ requestId: 'r', length: 40, seed: 2 }, () => {});
    const a = await first;
    expect(a.stopped).toBe(true);
    expect(a.text.length).toBeLessThan(40);
    expect(chunks.join('')).toBe(a.text);
    expect(second.stopped).toBe(false);
    expect(second.text).toMatch(/Then 2$/);
    // cancel() stops one by id.
    const third = g.sampleText({ requestId: 'x', length: 40 }, () => {});
    await new Promise((r) => setTimeout(r, 5));
    g.cancel('x');
    expect((await third).stopped).toBe(true);
  });

  it('proposes distinct short continuations at different temperatures', async () => {
    library();
    const host = fakeHost();
    const g = createGenerationService({ store, host, runs: { startRun: vi.fn() }, library: { importCorpus: vi.fn(), getCorpus: vi.fn() } });
    const r = await g.continuations({ context: 'It was', count: 3, seed: 5 });
    expect(r.items).toHaveLength(3);
    expect(new Set(r.items.map((i) => i.temperature)).size).toBe(3);
    expect(r.items[0]!.text).toBe(' and night 5 was long.');
    expect(host.calls.every((c) => c.opts.skipUnknown === true && c.opts.prime === 'It was')).toBe(true);
  });

  it('trims continuations to a sentence or a word', () => {
    expect(trimContinuation(' and so it was. More')).toBe(' and so it was.');
    expect(trimContinuation(' and so it went on and on')).toBe(' and so it went on and');
    expect(trimContinuation(' first\n\nsecond paragraph')).toBe(' first');
  });

  it('learn my style: imports draft + corpora and fine-tunes from the model, batches fitted to a small draft', async () => {
    const { r2, names } = library();
    const corpusFile = path.join(d, 'extra.txt');
    fs.writeFileSync(corpusFile, 'Some other text.\n');
    const importCorpus = vi.fn(async (source: { text: string; name: string }, opts?: { mode?: string }) => ({
      corpus: { id: 9, name: source.name, mode: opts!.mode, chars: source.text.length } as never,
      existed: false,
    }));
    const startRun = vi.fn(async (o: unknown) => ({ id: 42, ...(o as object) }) as never);
    const g = createGenerationService({
      store,
      host: fakeHost(),
      runs: { startRun },
      library: { importCorpus: importCorpus as never, getCorpus: vi.fn(async () => ({ path: corpusFile }) as never) },
    });
    const draft = 'My own words, written my own way. '.repeat(20);
    await g.learnStyle({ runId: r2.id, draftText: draft, corpusIds: [names.id], name: 'mine' });
    const [src, opts] = importCorpus.mock.calls[0]!;
    expect(src.text).toBe(`${draft.trim()}\n\nSome other text.\n`);
    expect(src.name).toBe('mine');
    expect(opts).toEqual({ mode: 'text' });
    const started = startRun.mock.calls[0]![0] as { corpusId: number; initFrom: unknown; config: { batchSize: number; seqLength: number; mode: string } };
    expect(started.corpusId).toBe(9);
    expect(started.initFrom).toEqual({ runId: r2.id, kind: 'latest' });
    expect(started.config.mode).toBe('text');
    expect(started.config.batchSize * started.config.seqLength).toBeLessThan(src.text.length * 0.9);
    await expect(g.learnStyle({ runId: r2.id, draftText: '  ' })).rejects.toMatchObject({ code: 'EMPTY_CORPUS' });
  });
});
