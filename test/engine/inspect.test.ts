import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharmerError,
  chooseBackend,
  collectInspection,
  corpusFromString,
  evaluate,
  findInterestingCells,
  inspectText,
  interestingCellsByFeature,
  loadCheckpoint,
  Rng,
  sampleText,
  sampleTextAll,
  textFeatures,
  train,
  type CharModel,
  type Corpus,
  type TrainConfig,
} from '../../src/engine/index.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'charmer-inspect-'));

async function trainModel(corpus: Corpus, config: Partial<TrainConfig>): Promise<CharModel> {
  const out = tmp();
  for await (const ev of train({ corpus, out, config: { backend: 'wasm', sampleEvery: 0, evalEvery: 100_000, ...config }, baseline: false })) void ev;
  return (await loadCheckpoint(join(out, 'latest'))).model;
}

/**
 * Lowercase words, with "QUOTED SPANS" in uppercase inserted at random: after an opening quote (and
 * after a space inside quotes) only the quote state tells which alphabet comes next.
 */
function quotedCorpus(length: number, seed: number): string {
  const rng = new Rng(seed);
  const word = (upper: boolean) => {
    let w = '';
    const n = 2 + rng.int(5);
    for (let i = 0; i < n; i++) w += String.fromCharCode((upper ? 65 : 97) + rng.int(8));
    return w;
  };
  let s = '';
  let col = 0;
  while (s.length < length) {
    let piece: string;
    if (rng.next() < 0.3) {
      const words = Array.from({ length: 1 + rng.int(3) }, () => word(true));
      piece = `"${words.join(' ')}"`;
    } else piece = word(false);
    col += piece.length + 1;
    s += piece + (col > 60 ? '\n' : ' ');
    if (col > 60) col = 0;
  }
  return s;
}

/** Softmax (temperature 1) and log-softmax of model.forward over "\n" + text, row i = after text[i-1]. */
function forwardDistributions(model: CharModel, text: string): { p: number[][]; logp: number[][] } {
  const ids = model.vocab.encode(`\n${text}`);
  return tf.tidy(() => {
    const r = model.forward(tf.tensor2d(Int32Array.from(ids), [1, ids.length], 'int32'), model.zeroState(1));
    return { p: tf.softmax(r.logits).arraySync() as number[][], logp: tf.logSoftmax(r.logits).arraySync() as number[][] };
  });
}

let lstm: CharModel;
let corpusText: string;

beforeAll(async () => {
  await chooseBackend('wasm');
  corpusText = quotedCorpus(12_000, 1);
  const t0 = performance.now();
  lstm = await trainModel(corpusFromString(corpusText), {
    model: 'lstm',
    rnnSize: 32,
    numLayers: 1,
    batchSize: 16,
    seqLength: 32,
    learningRate: 0.01,
    maxIters: 300,
  });
  console.info(`inspect test: trained the quote model in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
});

describe('inspectText', () => {
  it('top-k guesses are the softmax of forward(), sorted, summing to at most 1; top-1 is the temperature-0 sample', async () => {
    const text = quotedCorpus(300, 2).slice(0, 120);
    const r = await collectInspection(inspectText(lstm, text, { topK: 5 }));
    const { p } = forwardDistributions(lstm, text);
    expect(r.chars.join('')).toBe(text);
    for (let i = 0; i < text.length; i++) {
      const g = r.guesses[i]!;
      expect(g).toHaveLength(5);
      const sum = g.reduce((s, x) => s + x.p, 0);
      expect(sum).toBeLessThanOrEqual(1 + 1e-6);
      const expected = p[i + 1]!.map((q, j) => ({ char: lstm.vocab.chars[j]!, p: q }))
        .sort((a, b) => b.p - a.p)
        .slice(0, 5);
      for (let j = 0; j < 5; j++) {
        expect(g[j]!.p).toBeCloseTo(expected[j]!.p, 5);
        if (j > 0) expect(g[j]!.p).toBeLessThanOrEqual(g[j - 1]!.p);
      }
      expect(g[0]!.char).toBe(expected[0]!.char);
    }
    // The sampler: its temperature-0 draw after a prefix is the top guess after that prefix (the
    // sampler starts a prime from zero state, inspect after the start marker: prime with it).
    for (const i of [0, 7, 33, 64, 65, 119]) {
      const s = await sampleTextAll(lstm, { prime: `\n${text.slice(0, i + 1)}`, length: 1, temperature: 0 });
      expect(s.text).toBe(r.guesses[i]![0]!.char);
    }
  });

  it('the sampler at temperature 1 draws from the inspected distribution', async () => {
    const prime = 'abc "AB';
    const r = await collectInspection(inspectText(lstm, prime));
    const guesses = r.guesses.at(-1)!;
    const draws = 300;
    const counts = new Map<string, number>();
    for (let seed = 0; seed < draws; seed++) {
      const gen = sampleText(lstm, { prime: `\n${prime}`, length: 1, temperature: 1, seed });
      const ch = (await gen.next()).value as string;
      await gen.return({ text: '', logprob: 0 });
      counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    for (const g of guesses.slice(0, 3)) {
      const sd = Math.sqrt((g.p * (1 - g.p)) / draws);
      expect(Math.abs((counts.get(g.char) ?? 0) / draws - g.p)).toBeLessThan(4 * sd + 0.01);
    }
  });

  it('losses are finite, equal −log softmax of forward(), and their mean is evaluate()’s mean loss within 1e-4', async () => {
    const text = quotedCorpus(2_000, 3);
    const r = await collectInspection(inspectText(lstm, text, { chunkSize: 333 }));
    const { logp } = forwardDistributions(lstm, text.slice(0, 200));
    for (let i = 0; i < 200; i++) expect(r.loss[i]!).toBeCloseTo(-logp[i]![lstm.vocab.indexOf(text[i]!)]!, 4);
    expect(r.loss.every(Number.isFinite)).toBe(true);
    const ids = lstm.vocab.encode(`\n${text}`);
    const reference = await evaluate(lstm, { mode: 'text', data: ids }, 1, 100);
    expect(Math.abs(r.meanLoss - reference)).toBeLessThan(1e-4);
    // The model learned the corpus: well below uniform over its vocabulary.
    expect(r.meanLoss).toBeLessThan(Math.log(lstm.vocab.size) * 0.75);
  });

  it('carries the state across chunks, yields chunks in order, and stops on abort', async () => {
    const text = quotedCorpus(500, 4).slice(0, 150);
    const chunks = [];
    for await (const c of inspectText(lstm, text, { chunkSize: 7 })) chunks.push(c);
    expect(chunks.map((c) => c.start)).toEqual(Array.from({ length: 22 }, (_, i) => i * 7));
    expect(chunks.at(-1)!.chars).toHaveLength(3);
    const whole = await collectInspection(inspectText(lstm, text, { chunkSize: 10_000 }));
    const joined = await collectInspection(chunks);
    for (let i = 0; i < text.length; i++) expect(joined.loss[i]!).toBeCloseTo(whole.loss[i]!, 5);
    expect(joined.activations[1]!.values[149 * 32 + 5]).toBeCloseTo(whole.activations[1]!.values[149 * 32 + 5]!, 5);
    const ac = new AbortController();
    let n = 0;
    for await (const c of inspectText(lstm, text, { chunkSize: 10, signal: ac.signal })) {
      void c;
      if (++n === 2) ac.abort();
    }
    expect(n).toBe(2);
    expect(tf.memory().numTensors).toBeLessThan(100);
  });

  it('activations: LSTM h and tanh(c) per layer, GRU and RNN h only, [chars x hidden] in [-1, 1]', async () => {
    const text = 'bad cafe\nhe "FED"\n';
    const r = await collectInspection(inspectText(lstm, text));
    expect(r.activations.map((a) => [a.layer, a.kind, a.label])).toEqual([
      [0, 'h', 'layer 1 h'],
      [0, 'c', 'layer 1 tanh(c)'],
    ]);
    for (const a of r.activations) {
      expect(a.values).toHaveLength(text.length * 32);
      expect(a.values.every((v) => v >= -1 && v <= 1)).toBe(true);
    }
    const corpus = corpusFromString(text.repeat(40));
    for (const model of ['gru', 'rnn'] as const) {
      const m = await trainModel(corpus, { model, rnnSize: 12, numLayers: 2, batchSize: 4, seqLength: 8, maxIters: 2 });
      const chunks = [];
      for await (const c of inspectText(m, text, { topK: 3, chunkSize: 8 })) chunks.push(c);
      const first = chunks[0]!;
      expect(first.activations.map((a) => [a.layer, a.kind])).toEqual([
        [0, 'h'],
        [1, 'h'],
      ]);
      expect(first.activations[1]!.values).toHaveLength(8 * 12);
      expect(first.guesses[0]).toHaveLength(3);
      expect(chunks.map((c) => c.chars.length)).toEqual([8, 8, 2]);
      // One step of the stock-layout recurrence agrees with the whole-sequence forward().
      const all = await collectInspection(chunks);
      const { logp } = forwardDistributions(m, text);
      for (let i = 0; i < text.length; i++) expect(all.loss[i]!).toBeCloseTo(-logp[i]![m.vocab.indexOf(text[i]!)]!, 4);
      m.dispose();
    }
  });

  it('unknown characters: UNKNOWN_CHARACTERS naming them, or skipped', async () => {
    const e = await collectInspection(inspectText(lstm, 'abc % def #')).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(CharmerError);
    expect((e as CharmerError).code).toBe('UNKNOWN_CHARACTERS');
    expect((e as CharmerError).details.chars).toEqual(['%', '#']);
    expect((e as CharmerError).message).toContain('"%"');
    const r = await collectInspection(inspectText(lstm, 'abc % def #', { skipUnknown: true }));
    expect(r.chars.join('')).toBe('abc  def ');
  });
});

describe('findInterestingCells', () => {
  it('features: quotes open and close, brackets nest, line position, newline, letters', () => {
    const f = textFeatures([...'a "b" (c[d])\nx']);
    expect([...f.inQuotes]).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...f.inBrackets]).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0]);
    expect([...f.linePosition]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 1]);
    expect([...f.afterNewline]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect([...f.inWord]).toEqual([1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1]);
  });

  it('is the Pearson correlation, sign kept, strongest first', () => {
    const chars = [...'ab"cd"ef"g"h\nij'];
    const q = textFeatures(chars).inQuotes;
    const n = chars.length;
    const values = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      values[i * 3] = 0.1 * Math.sin(i); // noise
      values[i * 3 + 1] = -0.5 * q[i]! + 0.2; // perfect anti-correlation with quotes
      values[i * 3 + 2] = q[i]! * 0.3 + 0.05 * Math.cos(3 * i); // strong, imperfect
    }
    const source = {
      chars,
      loss: new Float32Array(n),
      guesses: [],
      cell: 'gru' as const,
      hidden: 3,
      meanLoss: 0,
      activations: [{ layer: 0, kind: 'h' as const, label: 'layer 1 h', values }],
    };
    const best = findInterestingCells(source, undefined, { feature: 'inQuotes', top: 3 });
    expect(best[0]).toMatchObject({ layer: 0, kind: 'h', cell: 1, feature: 'inQuotes' });
    expect(best[0]!.correlation).toBeCloseTo(-1, 5);
    expect(best[1]!.cell).toBe(2);
    expect(best[1]!.correlation).toBeGreaterThan(0.8);
    expect(Math.abs(best[2]!.correlation)).toBeLessThan(0.8);
    expect(() => findInterestingCells(source, 'too short')).toThrow(/activations cover/);
  });

  it('finds the cell that tracks "inside quotes" in the model trained on quoted spans (|r| > 0.8)', async () => {
    const text = quotedCorpus(4_000, 5);
    const r = await collectInspection(inspectText(lstm, text, { chunkSize: 1000 }));
    const best = findInterestingCells(r, text, { top: 5 });
    const quotes = findInterestingCells(r, text, { feature: 'inQuotes', top: 3 });
    const byFeature = interestingCellsByFeature(r, text, 1);
    console.info(`inspect test: best inQuotes cell ${JSON.stringify(quotes[0])}`);
    expect(Math.abs(quotes[0]!.correlation)).toBeGreaterThan(0.8);
    expect(best[0]!.feature).toBe('inQuotes');
    expect(byFeature.inQuotes[0]).toEqual(quotes[0]);
    expect(Object.keys(byFeature).sort()).toEqual(['afterNewline', 'inBrackets', 'inQuotes', 'inWord', 'linePosition']);
    // No brackets in this text: a constant feature is skipped, not reported as a correlation.
    expect(byFeature.inBrackets).toEqual([]);
  });
});
