import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ngramBaseline, type NgramInput } from '../../src/engine/ngram.ts';
import { isCharmerError } from '../../src/engine/errors.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shakespearePath = path.resolve(repoRoot, '../shared/data/tinyshakespeare.txt');
const haveShakespeare = existsSync(shakespearePath);
if (!haveShakespeare) {
  // Said once so that a skipped quality check is never mistaken for a passing one.
  console.warn(`ngram.test: ${shakespearePath} is absent; the tiny-shakespeare reference checks are skipped.`);
}

/** Deterministic PRNG (mulberry32), so every synthetic corpus is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function repeat(pattern: number[], length: number): Uint16Array {
  return Uint16Array.from({ length }, (_, i) => pattern[i % pattern.length]!);
}

/** Best loss of one order over the ks tried. */
function bestAt(table: { order: number; valLoss: number }[], order: number): number {
  return Math.min(...table.filter((r) => r.order === order).map((r) => r.valLoss));
}

/**
 * The obvious implementation, with string keys and explicit padding, written independently of the
 * module so that an indexing slip in either shows up as a mismatch.
 */
function naiveBaseline(input: NgramInput, orders: number[], ks: number[]): Map<string, number> {
  const V = input.vocabSize;
  type Ex = { ctx: (n: number) => string; target: number };
  const examples = (split: 'train' | 'val'): Ex[] => {
    const out: Ex[] = [];
    if (input.mode === 'text') {
      const stream = [...input.train, ...input.val];
      const from = split === 'train' ? 0 : input.train.length;
      const to = split === 'train' ? input.train.length : stream.length;
      for (let i = from; i < to; i++) {
        out.push({
          target: stream[i]!,
          ctx: (n) => Array.from({ length: n }, (_, d) => (i - n + d >= 0 ? stream[i - n + d] : 'pad')).join(','),
        });
      }
    } else {
      for (const item of input[split]) {
        const s = [input.boundary, ...item, input.boundary];
        for (let j = 1; j < s.length; j++) {
          out.push({
            target: s[j]!,
            ctx: (n) => Array.from({ length: n }, (_, d) => (j - n + d >= 0 ? s[j - n + d] : input.boundary)).join(','),
          });
        }
      }
    }
    return out;
  };
  const train = examples('train');
  const val = examples('val');
  const result = new Map<string, number>();
  for (const n of orders) {
    const ctxCount = new Map<string, number>();
    const pairCount = new Map<string, number>();
    for (const ex of train) {
      const c = ex.ctx(n);
      ctxCount.set(c, (ctxCount.get(c) ?? 0) + 1);
      const p = `${c}|${ex.target}`;
      pairCount.set(p, (pairCount.get(p) ?? 0) + 1);
    }
    for (const k of ks) {
      let sum = 0;
      for (const ex of val) {
        const c = ex.ctx(n);
        const a = pairCount.get(`${c}|${ex.target}`) ?? 0;
        const b = ctxCount.get(c) ?? 0;
        sum -= Math.log((a + k) / (b + k * V));
      }
      result.set(`${n}/${k}`, sum / val.length);
    }
  }
  return result;
}

function expectMatchesNaive(input: NgramInput, orders: number[], ks: number[]): void {
  const got = ngramBaseline(input, { orders, ks });
  const want = naiveBaseline(input, orders, ks);
  expect(got.table).toHaveLength(orders.length * ks.length);
  for (const row of got.table) {
    expect(row.valLoss, `order ${row.order}, k ${row.k}`).toBeCloseTo(want.get(`${row.order}/${row.k}`)!, 10);
  }
  const best = got.table.reduce((a, r) => (r.valLoss < a.valLoss ? r : a));
  expect(got).toMatchObject({ order: best.order, k: best.k, valLoss: best.valLoss });
}

describe('ngramBaseline: agreement with a naive string-key count', () => {
  it('text mode, val contexts running over from the train tail', () => {
    const r = rng(1);
    // A skewed 2nd-order source so that contexts matter and some val contexts are unseen in train.
    const gen = (n: number) => {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = i >= 2 && r() < 0.6 ? (out[i - 1]! + out[i - 2]!) % 7 : Math.floor(r() * 7);
      return out;
    };
    const all = gen(3000);
    expectMatchesNaive({ mode: 'text', vocabSize: 7, train: all.subarray(0, 2700), val: all.subarray(2700) }, [0, 1, 2, 3, 5], [1, 0.1, 0.01]);
  });

  it('text mode with a train split shorter than the order (padding)', () => {
    expectMatchesNaive({ mode: 'text', vocabSize: 3, train: Uint16Array.of(0, 1), val: Uint16Array.of(2, 0, 1, 2, 0) }, [0, 1, 2, 4], [1, 0.5]);
  });

  it('lines mode: start/end markers, no context across items, padding with the marker', () => {
    const r = rng(2);
    const boundary = 0;
    const item = () => Uint16Array.from({ length: 1 + Math.floor(r() * 6) }, () => 1 + Math.floor(r() * 5));
    const train = Array.from({ length: 200 }, item);
    const val = [...Array.from({ length: 30 }, item), new Uint16Array(0)]; // an empty item predicts only its end
    expectMatchesNaive({ mode: 'lines', vocabSize: 6, boundary, train, val }, [0, 1, 2, 3, 6], [1, 0.1, 0.003]);
  });

  it('a vocabulary so large that base-V context keys would overflow 2^53', () => {
    const r = rng(3);
    const symbols = [0, 1, 17, 40_000, 65_534, 65_535];
    const all = Uint16Array.from({ length: 4000 }, (_, i) => symbols[(i * 7 + Math.floor(r() * 2)) % symbols.length]!);
    expectMatchesNaive({ mode: 'text', vocabSize: 65_536, train: all.subarray(0, 3500), val: all.subarray(3500) }, [0, 2, 6], [1, 0.01]);
  });
});

describe('ngramBaseline: synthetic corpora with known answers', () => {
  it('a deterministic repeating pattern is learned exactly once the order covers its ambiguity', () => {
    // After "0 1" the next symbol is 2, 3 or 4, decided by the symbol before the "0": order 3 needed.
    const pattern = [0, 1, 2, 0, 1, 3, 0, 1, 4];
    const all = repeat(pattern, 20_000);
    const res = ngramBaseline({ mode: 'text', vocabSize: 5, train: all.subarray(0, 18_000), val: all.subarray(18_000) });
    expect(res.valLoss).toBeLessThan(0.01);
    expect(res.order).toBeGreaterThanOrEqual(3);
    expect(bestAt(res.table, 2)).toBeGreaterThan(0.3);
    expect(res.unigramLoss).toBeCloseTo(-(2 / 3) * Math.log(1 / 3) - (1 / 3) * Math.log(1 / 9), 2);
  });

  it('lines mode where every item is identical reaches near-zero loss', () => {
    const item = Uint16Array.of(3, 1, 4, 1, 5);
    const res = ngramBaseline({
      mode: 'lines',
      vocabSize: 6,
      boundary: 0,
      train: Array.from({ length: 500 }, () => item),
      val: Array.from({ length: 50 }, () => item),
    });
    expect(res.valLoss).toBeLessThan(0.01);
    // "1" is followed by 4 or by 5, so a bigram is not enough; order 2 ("3 1" vs "4 1") is.
    expect(res.order).toBeGreaterThanOrEqual(2);
    expect(bestAt(res.table, 1)).toBeGreaterThan(0.1);
  });

  it('a uniform random sequence costs ln V at every order', () => {
    const r = rng(4);
    const V = 10;
    const all = Uint16Array.from({ length: 220_000 }, () => Math.floor(r() * V));
    const res = ngramBaseline({ mode: 'text', vocabSize: V, train: all.subarray(0, 200_000), val: all.subarray(200_000) });
    expect(res.valLoss).toBeGreaterThan(Math.log(V) - 0.02);
    expect(res.valLoss).toBeLessThan(Math.log(V) + 0.01);
    expect(res.unigramLoss).toBeCloseTo(Math.log(V), 2);
    // High orders see mostly unseen contexts; the search must not report them as better.
    expect(bestAt(res.table, 6)).toBeGreaterThanOrEqual(res.valLoss);
  });

  it('reports the table for the requested orders and ks only, in order', () => {
    const all = repeat([0, 1, 2], 300);
    const res = ngramBaseline({ mode: 'text', vocabSize: 3, train: all.subarray(0, 270), val: all.subarray(270) }, { orders: [2, 0], ks: [0.5, 1] });
    expect(res.table.map((r) => [r.order, r.k])).toEqual([
      [0, 0.5],
      [0, 1],
      [2, 0.5],
      [2, 1],
    ]);
  });
});

describe('ngramBaseline: bad input and cancellation', () => {
  const ok: NgramInput = { mode: 'text', vocabSize: 2, train: Uint16Array.of(0, 1, 0), val: Uint16Array.of(1) };

  it('rejects bad options with BAD_OPTION', () => {
    for (const opts of [{ orders: [] }, { orders: [-1] }, { orders: [1.5] }, { ks: [0] }, { ks: [-1] }, { ks: [Number.NaN] }]) {
      let err: unknown;
      try {
        ngramBaseline(ok, opts);
      } catch (e) {
        err = e;
      }
      expect(isCharmerError(err) && err.code, JSON.stringify(opts)).toBe('BAD_OPTION');
    }
  });

  it('says the corpus is too small when validation has nothing to predict', () => {
    expect(() => ngramBaseline({ ...ok, val: new Uint16Array(0) })).toThrow(expect.objectContaining({ code: 'CORPUS_TOO_SMALL' }));
    expect(() => ngramBaseline({ mode: 'lines', vocabSize: 2, boundary: 0, train: [Uint16Array.of(1)], val: [] })).toThrow(
      expect.objectContaining({ code: 'CORPUS_TOO_SMALL' }),
    );
  });

  it('rejects indices outside the vocabulary', () => {
    expect(() => ngramBaseline({ ...ok, val: Uint16Array.of(2) })).toThrow(RangeError);
  });

  it('stops on an aborted signal', () => {
    const ac = new AbortController();
    ac.abort();
    expect(() => ngramBaseline(ok, { signal: ac.signal })).toThrow(expect.objectContaining({ name: 'AbortError' }));
  });
});

describe('ngramBaseline: tiny-shakespeare reference figures (90/10 split)', () => {
  it.skipIf(!haveShakespeare)(`unigram 3.35, bigram 2.48, best order 4 about 1.76 nats/char (needs ${shakespearePath})`, () => {
    const chars = [...readFileSync(shakespearePath, 'utf8')].slice(0, 1_115_394);
    const vocab = [...new Set(chars)].sort();
    expect(vocab).toHaveLength(65);
    const index = new Map(vocab.map((c, i) => [c, i]));
    const all = Uint16Array.from(chars, (c) => index.get(c)!);
    const split = Math.floor(all.length * 0.9);
    const res = ngramBaseline({ mode: 'text', vocabSize: vocab.length, train: all.subarray(0, split), val: all.subarray(split) });
    expect(res.unigramLoss).toBeGreaterThan(3.35 - 0.03);
    expect(res.unigramLoss).toBeLessThan(3.35 + 0.03);
    expect(bestAt(res.table, 1)).toBeGreaterThan(2.48 - 0.03);
    expect(bestAt(res.table, 1)).toBeLessThan(2.48 + 0.03);
    expect(res.valLoss).toBeGreaterThan(1.76 - 0.05);
    expect(res.valLoss).toBeLessThan(1.76 + 0.05);
    expect(res.order).toBe(4);
  });
});

/**
 * Losses worked out by hand on corpora small enough to count on paper: an oracle that shares no
 * code or formula-as-code with the module (the naive comparison above repeats the add-k formula,
 * so a mistake in the formula itself would pass it).
 */
describe('ngramBaseline: exact losses counted by hand', () => {
  // Text mode, a = 0, b = 1. Train "aaab", validation "ab".
  const text: NgramInput = { mode: 'text', vocabSize: 2, train: Uint16Array.of(0, 0, 0, 1), val: Uint16Array.of(0, 1) };

  it('order 0, k = 1: a has 3 of 4 train characters, b 1 of 4', () => {
    // p(a) = (3 + 1) / (4 + 2) = 2/3, p(b) = (1 + 1) / (4 + 2) = 1/3; validation predicts a, then b.
    const r = ngramBaseline(text, { orders: [0], ks: [1] });
    expect(r.valLoss).toBeCloseTo(-(Math.log(2 / 3) + Math.log(1 / 3)) / 2, 12);
  });

  it('order 1, k = 0.5: contexts run on from the train tail', () => {
    // Train contexts: (start) -> a, a -> a, a -> a, a -> b: after "a", a twice and b once.
    // Validation: its "a" follows the train's last "b", a context never seen: p = 0.5 / (0 + 2 * 0.5) = 1/2.
    // Its "b" follows "a": p = (1 + 0.5) / (3 + 2 * 0.5) = 3/8.
    const r = ngramBaseline(text, { orders: [1], ks: [0.5] });
    expect(r.valLoss).toBeCloseTo(-(Math.log(1 / 2) + Math.log(3 / 8)) / 2, 12);
  });

  it('lines mode, order 0, k = 1: every item ends with the marker, which counts as a character', () => {
    // Marker 2. Train items "a" and "ab" predict a, end | a, b, end: a 2, b 1, end 2 of 5.
    // Validation item "b" predicts b, end: (1 + 1) / (5 + 3) and (2 + 1) / (5 + 3).
    const r = ngramBaseline(
      { mode: 'lines', vocabSize: 3, boundary: 2, train: [Uint16Array.of(0), Uint16Array.of(0, 1)], val: [Uint16Array.of(1)] },
      { orders: [0], ks: [1] },
    );
    expect(r.valLoss).toBeCloseTo(-(Math.log(2 / 8) + Math.log(3 / 8)) / 2, 12);
  });

  it("lines mode, order 1, k = 1: an item's first character follows the marker", () => {
    // Train contexts: end -> a (twice), a -> end, a -> b, b -> end. Validation "b": end -> b never
    // seen after end among 2: (0 + 1) / (2 + 3); then b -> end: (1 + 1) / (1 + 3).
    const r = ngramBaseline(
      { mode: 'lines', vocabSize: 3, boundary: 2, train: [Uint16Array.of(0), Uint16Array.of(0, 1)], val: [Uint16Array.of(1)] },
      { orders: [1], ks: [1] },
    );
    expect(r.valLoss).toBeCloseTo(-(Math.log(1 / 5) + Math.log(2 / 4)) / 2, 12);
  });
});
