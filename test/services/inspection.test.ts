/**
 * The inspection service with a fake model thread: checkpoint choice, default texts (validation
 * items for lines models, the corpus's last 10% for text), chunks joined, cells ranked, one cell
 * at a time, cancellation, and the sample evolution with the loss at each iteration.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { InspectChunk } from '../../src/engine/inspect.ts';
import { attentionAt, scanAttention, type AttentionSource } from '../../src/engine/attention.ts';
import { createInspectionService, tailSlice, type InspectHost } from '../../src/services/inspection.ts';
import type { RunDetail } from '../../src/services/types.ts';
import { tempDir } from '../store/helpers.ts';

const d = tempDir();
afterAll(() => fs.rmSync(d, { recursive: true, force: true }));

function runDetail(mode: 'lines' | 'text', extra: Partial<RunDetail> = {}): RunDetail {
  const ck = (kind: 'best' | 'latest', iteration: number) => {
    const p = path.join(d, `ck-${mode}-${kind}`);
    fs.mkdirSync(p, { recursive: true });
    return { id: kind === 'best' ? 1 : 2, runId: 1, kind, iteration, valLoss: 1.5, path: p, created: 0 };
  };
  return {
    id: 1,
    corpusId: 1,
    corpusName: 'quotes',
    name: 'quotes lstm 1x4',
    status: 'completed',
    config: { mode } as RunDetail['config'],
    backend: 'cpu',
    device: null,
    params: 10,
    iterations: 300,
    totalIters: 300,
    bestValLoss: 1.5,
    baselineValLoss: null,
    error: null,
    parentRunId: null,
    created: 0,
    started: 0,
    ended: 1,
    resumable: true,
    metrics: [
      { iteration: 100, epoch: 1, trainLoss: 2.5, valLoss: 2.6, lr: 0.002, charsPerS: 1, elapsedS: 1 },
      { iteration: 200, epoch: 2, trainLoss: 2.0, valLoss: null, lr: 0.002, charsPerS: 1, elapsedS: 2 },
      { iteration: 300, epoch: 3, trainLoss: 1.6, valLoss: 1.5, lr: 0.002, charsPerS: 1, elapsedS: 3 },
    ],
    checkpoints: [ck('latest', 300), ck('best', 300)],
    trainingSamples: [300, 100, 200].map((iteration, i) => ({
      id: i + 1,
      runId: 1,
      runName: 'x',
      checkpointId: null,
      source: 'training' as const,
      iteration,
      temperature: 1,
      topK: null,
      guidance: null,
      prime: null,
      mode,
      text: `sample at ${iteration}`,
      logprob: null,
      novelty: null,
      category: null,
      card: null,
      favorite: false,
      note: '',
      created: 0,
    })),
    ...extra,
  };
}

/**
 * Attention of a made-up 2-layer, 2-head Transformer with a block of 8 that knows only lowercase
 * letters, spaces and quotes: layer 2 head 1 looks at the previous character, the others spread evenly.
 */
const fakeAttention: AttentionSource = {
  layers: 2,
  heads: 2,
  blockSize: 8,
  attend(ids) {
    const T = ids.length;
    return [0, 1, 2, 3].map((h) => {
      const m = new Float32Array(T * T);
      for (let i = 0; i < T; i++) {
        if (h === 2) m[i * T + Math.max(0, i - 1)] = 1;
        else for (let j = 0; j <= i; j++) m[i * T + j] = 1 / (i + 1);
      }
      return m;
    });
  },
};
const known = (text: string) => [...text].filter((c) => /[a-z "]/.test(c));

/** A host whose cell 1 of layer 0 h is +1 inside quotes and -1 outside; cell 0 is noise-free zero-ish. */
function fakeHost(seen: Array<{ dir: string; text: string }>): InspectHost {
  return {
    async attention(dir, text, onProgress, signal) {
      seen.push({ dir, text });
      const chars = known(text);
      const ranking = await scanAttention(
        fakeAttention,
        Int32Array.from(chars, (c) => c.charCodeAt(0)),
        chars,
        { onProgress, ...(signal ? { signal } : {}) },
      );
      return { chars, skipped: [...text].length - chars.length, blockSize: 8, ranking };
    },
    async attentionAt(dir, text, position) {
      seen.push({ dir, text });
      return attentionAt(
        fakeAttention,
        Int32Array.from(known(text), (c) => c.charCodeAt(0)),
        position,
      );
    },
    async inspect(dir, text, opts, onChunk, signal) {
      seen.push({ dir, text });
      const chars = [...text];
      const H = 3;
      const size = opts.chunkSize ?? 1000;
      let quoted = false;
      for (let start = 0; start < chars.length; start += size) {
        if (signal?.aborted) return;
        const part = chars.slice(start, start + size);
        const h = new Float32Array(part.length * H);
        const c = new Float32Array(part.length * H);
        part.forEach((ch, i) => {
          if (ch === '"') quoted = !quoted;
          h[i * H] = ((start + i) % 7) / 10 - 0.3;
          h[i * H + 1] = quoted ? 0.9 : -0.8;
          h[i * H + 2] = ch === '\n' ? 1 : 0;
          c[i * H] = 0.5;
        });
        const chunk: InspectChunk = {
          start,
          chars: part,
          loss: Float32Array.from(part, (_, i) => 1 + (i % 3)),
          guesses: part.map(() => [
            { char: 'a', p: 0.51234567 },
            { char: '"', p: 0.2 },
            { char: 'b', p: 0.1 },
            { char: 'c', p: 0.05 },
            { char: '\n', p: 0.01 },
          ]),
          cell: 'lstm',
          hidden: H,
          activations: [
            { layer: 0, kind: 'h', label: 'layer 1 h', values: h },
            { layer: 0, kind: 'c', label: 'layer 1 tanh(c)', values: c },
          ],
        };
        onChunk(chunk);
      }
    },
  };
}

describe('inspection service', () => {
  it('lines models: validation items as the default text; best checkpoint; joined chunks, ranking, cells', async () => {
    const run = runDetail('lines');
    fs.writeFileSync(path.join(run.checkpoints[1]!.path, 'items.json'), JSON.stringify({ train: ['Zed'], val: ['Anna', 'Bob', '"Cy"'] }));
    const seen: Array<{ dir: string; text: string }> = [];
    const s = createInspectionService({ runs: { getRun: async () => run }, corpusFile: () => '/nowhere', host: fakeHost(seen) });
    const def = await s.defaultText(1);
    expect(def).toEqual({ text: 'Anna\nBob\n"Cy"\n', source: 'validation items' });

    const progress: Array<{ done: number; total: number }> = [];
    const text = 'He said "hello there" and "bye" then left.\n'.repeat(60);
    const r = await s.inspect({ runId: 1, text, onProgress: (p) => progress.push(p) });
    expect(seen.at(-1)!.dir).toBe(run.checkpoints[1]!.path);
    expect(r.checkpoint).toEqual({ kind: 'best', iteration: 300, valLoss: 1.5 });
    expect(r.chars.join('')).toBe(text);
    expect(r.loss).toHaveLength(text.length);
    expect(r.guesses[0]![0]).toEqual({ char: 'a', p: 0.5123 });
    expect(r.layers.map((l) => l.label)).toEqual(['layer 1 h', 'layer 1 tanh(c)']);
    expect(progress.at(-1)).toEqual({ done: text.length, total: text.length });
    expect(progress.length).toBeGreaterThan(2);
    const quotes = r.interesting.find((m) => m.feature === 'inQuotes')!;
    expect(quotes).toMatchObject({ layer: 0, kind: 'h', cell: 1 });
    expect(quotes.correlation).toBeGreaterThan(0.95);
    expect(r.byFeature.inQuotes[0]).toMatchObject({ layer: 0, kind: 'h', cell: 1 });
    expect(r.byFeature.afterNewline[0]).toMatchObject({ cell: 2 });
    expect(r.features.inQuotes).toMatch(/quotes/);

    const cell = s.getCell(r.id, 0, 'h', 1);
    expect(cell).toHaveLength(text.length);
    expect(cell[8]).toBe(0.9);
    expect(cell[0]).toBe(-0.8);
    expect(() => s.getCell(r.id, 0, 'h', 3)).toThrow(/out of range/);
    expect(() => s.getCell('nope', 0, 'h', 0)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));

    // Only the last few inspections are kept.
    for (let k = 0; k < 4; k++) await s.inspect({ runId: 1, text: 'a"b"c\n' });
    expect(() => s.getCell(r.id, 0, 'h', 1)).toThrow(/no longer kept/);

    // Without a text: the default one.
    const r2 = await s.inspect({ runId: 1, checkpoint: 'latest' });
    expect(r2.chars.join('')).toBe(def.text);
    expect(r2.checkpoint.kind).toBe('latest');
  });

  it('text models: the default text comes from the last 10% of the corpus, at a line start', async () => {
    const file = path.join(d, 'corpus.txt');
    const lines = Array.from({ length: 30000 }, (_, i) => `line ${i} of the corpus`);
    fs.writeFileSync(file, lines.join('\n'));
    const s = createInspectionService({ runs: { getRun: async () => runDetail('text') }, corpusFile: () => file, host: fakeHost([]) });
    const def = await s.defaultText(1);
    expect(def.source).toBe('the last 10% of quotes');
    expect(def.text.startsWith('line ')).toBe(true);
    const first = Number(/^line (\d+)/.exec(def.text)![1]);
    expect(first).toBeGreaterThanOrEqual(26900);
    expect(def.text.length).toBeLessThanOrEqual(2000);
    expect(def.text.length).toBeGreaterThan(1400);
    // A small file: the slice is the whole file.
    const small = path.join(d, 'small.txt');
    fs.writeFileSync(small, 'abc\ndef\n');
    expect(tailSlice(small)).toBe('abc\ndef\n');
  });

  it('refuses missing checkpoints, too long texts; cancels', async () => {
    const run = runDetail('text', { checkpoints: [] });
    const s = createInspectionService({ runs: { getRun: async () => run }, corpusFile: () => '/x', host: fakeHost([]) });
    await expect(s.inspect({ runId: 1, text: 'abc' })).rejects.toMatchObject({ code: 'CHECKPOINT_MISSING' });
    const ok = createInspectionService({ runs: { getRun: async () => runDetail('text') }, corpusFile: () => '/x', host: fakeHost([]) });
    await expect(ok.inspect({ runId: 1, text: 'x'.repeat(20_001) })).rejects.toThrow(/at most 20,000/);
    const ac = new AbortController();
    ac.abort();
    await expect(ok.inspect({ runId: 1, text: 'abc', signal: ac.signal })).rejects.toThrow(/cancelled/);
  });

  it('attention: heads ranked over the text, unknown characters left out, one position at a time from the kept text', async () => {
    const seen: Array<{ dir: string; text: string }> = [];
    const run = runDetail('text');
    const s = createInspectionService({ runs: { getRun: async () => run }, corpusFile: () => '/x', host: fakeHost(seen) });
    const progress: number[] = [];
    const text = 'the cat said "hello there" and THE dog sat down on the mat';
    const a = await s.attention({ runId: 1, text, checkpoint: 'latest', onProgress: (p) => progress.push(p.done) });
    expect(seen[0]!.dir).toBe(run.checkpoints.find((c) => c.kind === 'latest')!.path);
    expect(a.chars.join('')).toBe(known(text).join(''));
    expect(a.skipped).toBe(3);
    expect([a.layers, a.heads, a.blockSize]).toEqual([2, 2, 8]);
    expect(progress.at(-1)).toBe(a.chars.length);
    expect(a.ranked[0]).toMatchObject({ layer: 1, head: 0, pattern: 'previous' });
    expect(a.ranked[0]!.score).toBeCloseTo(1, 4);
    expect(a.patterns.previous).toBe('previous character');
    expect(a.positions.previous).toBe(a.chars.length - 1);

    // One position: every head's weights over the window it is read in; the service asks for it in the known text.
    const p = await s.attentionAt(a.id, 20);
    expect(seen.at(-1)!.text).toBe(a.chars.join(''));
    expect(p.weights).toHaveLength(2);
    expect(p.weights[1]).toHaveLength(2);
    expect(p.from).toBeGreaterThan(0);
    for (const row of p.weights.flat()) expect(row).toHaveLength(20 - p.from + 1);
    expect(p.weights[1]![0]!.at(-2)).toBe(1);
    await expect(s.attentionAt(a.id, a.chars.length)).rejects.toThrow(/outside the text/);
    await expect(s.attentionAt('a999', 0)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(s.attention({ runId: 1, text: '' })).rejects.toThrow(/empty/);
    await expect(s.attention({ runId: 1, text: 'ABC' })).rejects.toMatchObject({ code: 'UNKNOWN_CHARACTERS' });
  });

  it('sample evolution: by iteration, with the training and validation loss at each', async () => {
    const s = createInspectionService({ runs: { getRun: async () => runDetail('lines') }, corpusFile: () => '/x', host: fakeHost([]) });
    expect(await s.evolution(1)).toEqual([
      { iteration: 100, trainLoss: 2.5, valLoss: 2.6, text: 'sample at 100' },
      { iteration: 200, trainLoss: 2.0, valLoss: 2.6, text: 'sample at 200' },
      { iteration: 300, trainLoss: 1.6, valLoss: 1.5, text: 'sample at 300' },
    ]);
  });
});
