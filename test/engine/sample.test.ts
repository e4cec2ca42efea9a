/**
 * Sampling against what it promises (issue 20's test gaps): temperature T draws with the
 * frequencies of softmax(logits / T), top-k never draws outside the k likeliest characters, and an
 * item that is in the validation list is tagged `val`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/engine/train.ts';
import { chooseBackend } from '../../src/engine/backend.ts';
import { DEFAULT_CONFIG } from '../../src/engine/config.ts';
import { CharModel, type CharmerMetadata } from '../../src/engine/model.ts';
import { Rng } from '../../src/engine/rng.ts';
import { pick, sampleText } from '../../src/engine/sample.ts';
import { sampleLines } from '../../src/engine/sample-lines.ts';
import { Vocabulary } from '../../src/engine/vocabulary.ts';

function softmax(logits: number[], T: number): number[] {
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp((l - max) / T));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

/** Draw n times with pick() and return each index's frequency. */
function frequencies(logits: number[], T: number, n: number, seed: number, topK = 0): number[] {
  const l = Float32Array.from(logits);
  const rng = new Rng(seed);
  const counts = new Array(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[pick(l, 0, l.length, T, topK, rng).index]++;
  return counts.map((c) => c / n);
}

describe('temperature', () => {
  // Logits spread wide enough that T matters: at T = 0.5 the first character takes ~83%, at 2 ~64%.
  const logits = [4, 2, 1, 0, -2];
  const N = 40_000;
  for (const T of [0.5, 1, 2]) {
    it(`T = ${T}: frequencies match softmax(logits / T) within 4 standard errors`, () => {
      const want = softmax(logits, T);
      const got = frequencies(logits, T, N, 1234 + T * 10);
      got.forEach((f, j) => {
        const se = Math.sqrt((want[j]! * (1 - want[j]!)) / N);
        // 4 standard errors: about 0.01 for the likeliest character. Dividing by (T + 0.1) instead
        // of T moves it by 0.03-0.05 at T = 0.5 and 0.016 at T = 2, so that bug cannot pass.
        expect(Math.abs(f - want[j]!), `character ${j}: got ${f.toFixed(4)}, want ${want[j]!.toFixed(4)}`).toBeLessThan(4 * se + 1e-4);
      });
    });
  }

  it('T = 0 is the likeliest character every time', () => {
    expect(frequencies(logits, 0, 100, 9)).toEqual([1, 0, 0, 0, 0]);
  });
});

describe('top-k', () => {
  it('never draws a character outside the k likeliest, over many seeds and logits', () => {
    let drawsOfLast = 0;
    const outside: string[] = [];
    for (let seed = 1; seed <= 300; seed++) {
      const rng = new Rng(seed);
      const V = 3 + (seed % 20);
      // Distinct logits close together, so the (k+1)th character would often be drawn if allowed.
      const logits = Float32Array.from({ length: V }, (_, j) => (j + rng.next() * 0.5) * 0.3);
      const order = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]!);
      for (const k of [1, 2, 3, Math.max(1, V - 1)]) {
        const allowed = new Set(order.slice(0, k));
        for (let i = 0; i < 40; i++) {
          const { index } = pick(logits, 0, V, 1.5, k, rng);
          if (!allowed.has(index)) outside.push(`seed ${seed}, V ${V}, k ${k}: drew ${index}, allowed ${[...allowed]}`);
          if (index === order[k - 1]) drawsOfLast++;
        }
      }
    }
    expect(outside.slice(0, 5)).toEqual([]);
    // The kth character itself is drawn (the test would be empty if only the first ever came up).
    expect(drawsOfLast).toBeGreaterThan(1000);
  });
});

describe('sampling a model with top-k and novelty tags', () => {
  let model: CharModel;
  const chars = ['\n', 'a', 'b'];
  beforeAll(async () => {
    await chooseBackend('cpu');
    const config = { ...DEFAULT_CONFIG, mode: 'lines' as const, rnnSize: 8, numLayers: 1 };
    const meta: CharmerMetadata = {
      format: 'charmer-1',
      vocab: chars,
      mode: 'lines',
      config,
      iteration: 0,
      epoch: 0,
      valLoss: null,
      bestValLoss: null,
      history: [],
      baselineValLoss: null,
      corpusName: 'ab',
      corpusHash: 'x',
      createdAt: new Date(0).toISOString(),
    };
    model = CharModel.create({ cell: 'lstm', vocabSize: 3, embeddingSize: 8, hidden: 8, layers: 1, dropout: 0 }, Vocabulary.fromList(chars), meta, 5);
  });
  afterAll(() => model?.dispose());

  it('a list whose items are all in validation: every sample is tagged val', async () => {
    // Items of 1 or 2 letters from {a, b}: all six possible items are in the validation list.
    const all = ['a', 'b', 'aa', 'ab', 'ba', 'bb'];
    const got = await sampleLines(model, { count: 6, maxLength: 2, seed: 3, temperature: 1.5, items: { train: [], val: all } });
    expect(got.length).toBeGreaterThan(0);
    for (const s of got) expect(s.novelty, s.text).toBe('val');
    // Split between the lists: both tags come up, each item where its list puts it.
    const mixed = await sampleLines(model, { count: 6, maxLength: 2, seed: 3, temperature: 1.5, items: { train: ['a', 'b', 'aa'], val: ['ab', 'ba', 'bb'] } });
    for (const s of mixed) expect(s.novelty).toBe(['a', 'b', 'aa'].includes(s.text) ? 'train' : 'val');
    expect(new Set(mixed.map((s) => s.novelty))).toEqual(new Set(['train', 'val']));
  });

  it('text sampling with top-k 1 is the argmax path', async () => {
    const draw = async (opts: { temperature: number; topK: number; seed: number }) => {
      const gen = sampleText(model, { length: 40, prime: 'ab', ...opts });
      for (;;) {
        const r = await gen.next();
        if (r.done) return r.value.text;
      }
    };
    const argmax = await draw({ temperature: 0, topK: 0, seed: 1 });
    for (const seed of [1, 2, 3]) expect(await draw({ temperature: 1.5, topK: 1, seed })).toBe(argmax);
  });

  it('a lines-mode evaluation leaves no tensors behind (it kept 64 per evaluation, found by the soak)', async () => {
    const enc = (w: string) => Uint16Array.from(w, (c) => chars.indexOf(c));
    const val = { mode: 'lines' as const, items: ['a', 'ab', 'ba', 'bba', 'aab', 'b', 'abab', 'ba'].map(enc) };
    await evaluate(model, val, 3, 10); // first use: kernels and caches
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) expect(Number.isFinite(await evaluate(model, val, 3, 10))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
