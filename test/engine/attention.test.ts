/**
 * Looking inside attention (src/engine/attention.ts): the patterns' targets on texts written for
 * them, the ranking of hand-built heads that each follow one pattern exactly, and the windowed scan
 * of a text longer than the block against the one-window ranking; then a real tiny Transformer,
 * trained on a text where only the previous character predicts the next, ranked by it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CharModel, attentionSourceOf, chooseBackend, corpusFromString, encodeKnown, loadCheckpoint, train } from '../../src/engine/index.ts';
import { previousCharText } from './synthetic-text.ts';
import {
  HeadScorer,
  attentionAt,
  attentionWindows,
  rankHeads,
  segmentStarts,
  scanAttention,
  textLinks,
  attentionWindowStart,
  type AttentionSource,
  type HeadPattern,
} from '../../src/engine/attention.ts';

/** A head as a rule: the keys it attends to (equally) from query i seeing from..i; none: itself. */
type Rule = (i: number, from: number) => number[];

/** [T x T] attention of one window starting at `from`, built from a rule. */
function matrix(rule: Rule, from: number, T: number): Float32Array {
  const m = new Float32Array(T * T);
  for (let r = 0; r < T; r++) {
    const i = from + r;
    const keys = rule(i, from).filter((j) => j >= from && j <= i);
    const ks = keys.length ? keys : [i];
    for (const j of ks) m[r * T + (j - from)]! += 1 / ks.length;
  }
  return m;
}

function rulesFor(chars: string[]): Record<HeadPattern | 'uniform' | 'self', Rule> {
  const scorer = new HeadScorer(chars, 1, 1);
  return {
    previous: (i, from) => scorer.targets(i, from).previous,
    sameChar: (i, from) => scorer.targets(i, from).sameChar,
    wordStart: (i, from) => scorer.targets(i, from).wordStart,
    matching: (i, from) => scorer.targets(i, from).matching,
    uniform: (i, from) => Array.from({ length: i - from + 1 }, (_, k) => from + k),
    self: (i) => [i],
  };
}

const TEXT = 'He said "go (now [quickly]) and don\'t stop", then the cat sat; "a (b) c" said the other cat.\n';

describe('textLinks', () => {
  it('links a closing bracket or quote to its opener and the inside to the innermost open one', () => {
    const chars = [...'a (b [c] d) "e" f'];
    const { matching } = textLinks(chars);
    const at = (s: string, nth = 0) => {
      let k = -1;
      for (let n = 0; n <= nth; n++) k = chars.indexOf(s, k + 1);
      return k;
    };
    expect(matching[at('(')]).toBe(-1); // an opener does not look at itself
    expect(matching[at('b')]).toBe(at('('));
    expect(matching[at('c')]).toBe(at('['));
    expect(matching[at(']')]).toBe(at('['));
    expect(matching[at('d')]).toBe(at('('));
    expect(matching[at(')')]).toBe(at('('));
    expect(matching[at('e')]).toBe(at('"'));
    expect(matching[at('"', 1)]).toBe(at('"'));
    expect(matching[at('f')]).toBe(-1);
    expect(matching[0]).toBe(-1);
  });

  it('closes the opener a closer matches, dropping any left open inside it', () => {
    const chars = [...'("a" [b) c "d'];
    const { matching } = textLinks(chars);
    expect(matching[2]).toBe(1); // a: inside the quote
    expect(matching[3]).toBe(1); // the closing quote: its opener
    expect(matching[6]).toBe(5); // b: inside [
    expect(matching[7]).toBe(0); // ): its (, and the [ left open is gone
    expect(matching[9]).toBe(-1); // c: nothing open
    expect(matching[12]).toBe(11); // d: after a quote that opens again
  });

  it('ignores a stray closer and keeps apostrophes inside words', () => {
    const chars = [...") don't x"];
    const { matching, wordStart } = textLinks(chars);
    expect([...matching].every((m) => m === -1)).toBe(true);
    const d = chars.indexOf('d');
    expect(wordStart[d]).toBe(-1);
    for (let i = d + 1; i < chars.indexOf('t') + 1; i++) expect(wordStart[i]).toBe(d);
    expect(wordStart[chars.indexOf('x')]).toBe(-1);
  });

  it('chains earlier occurrences of the same character, leaving i-1 to "previous"', () => {
    const chars = [...'abcaab'];
    const s = new HeadScorer(chars, 1, 1);
    expect(s.targets(4, 0).sameChar).toEqual([0]); // the a at 3 is i-1
    expect(s.targets(5, 0).sameChar).toEqual([1]);
    expect(s.targets(5, 2).sameChar).toEqual([]); // outside the window
    expect(s.targets(0, 0).previous).toEqual([]);
  });
});

describe('rankHeads over hand-built attention', () => {
  const chars = [...TEXT];
  const rules = rulesFor(chars);
  const n = chars.length;
  // Two layers: [previous, sameChar, uniform], [wordStart, matching, self].
  const layout: Array<Array<keyof typeof rules>> = [
    ['previous', 'sameChar', 'uniform'],
    ['wordStart', 'matching', 'self'],
  ];
  const ranking = rankHeads(
    chars,
    layout.map((l) => l.map((r) => matrix(rules[r], 0, n))),
  );

  it('labels each pattern head with its pattern and a score of 1', () => {
    for (const [layer, heads] of layout.entries()) {
      heads.forEach((rule, head) => {
        if (rule === 'uniform' || rule === 'self') return;
        const found = ranking.ranked.find((s) => s.layer === layer && s.head === head)!;
        expect(found.pattern).toBe(rule);
        expect(found.score).toBeCloseTo(1, 6);
        expect(found.chance).toBeLessThan(0.5);
      });
    }
    // The four pattern heads come before the uniform and self heads.
    const order = ranking.ranked.map((s) => layout[s.layer]![s.head]);
    expect(order.slice(0, 4).sort()).toEqual(['matching', 'previous', 'sameChar', 'wordStart']);
  });

  it('scores uniform attention at chance and attention to itself at zero', () => {
    for (const s of ranking.all.filter((x) => layout[x.layer]![x.head] === 'uniform')) expect(s.score).toBeCloseTo(s.chance, 6);
    for (const s of ranking.all.filter((x) => layout[x.layer]![x.head] === 'self')) expect(s.score).toBe(0);
  });

  it('averages over the positions where a pattern applies', () => {
    expect(ranking.positions.previous).toBe(n - 1);
    const s = new HeadScorer(chars, 1, 1);
    let inside = 0;
    for (let i = 0; i < n; i++) if (s.targets(i, 0).matching.length) inside++;
    expect(ranking.positions.matching).toBe(inside);
    // Half previous, half self: 0.5 on previous at every position past the first.
    const half = new Float32Array(n * n);
    const prev = matrix(rules.previous, 0, n);
    const self = matrix(rules.self, 0, n);
    for (let k = 0; k < n * n; k++) half[k] = (prev[k]! + self[k]!) / 2;
    const r = rankHeads(chars, [[half]]);
    expect(r.ranked[0]!.pattern).toBe('previous');
    // Row 0 attends to itself alone, and the prev rule's row 0 is itself too: (n-1) rows of 0.5.
    expect(r.ranked[0]!.score).toBeCloseTo(0.5, 6);
  });

  it('leaves out a pattern that applies at too few positions, and refuses matrices of the wrong size', () => {
    const plain = [...'no brackets here at all'];
    const r = rankHeads(plain, [[matrix(rulesFor(plain).previous, 0, plain.length)]]);
    expect(r.positions.matching).toBe(0);
    expect(r.all.some((s) => s.pattern === 'matching')).toBe(false);
    expect(() => rankHeads(plain, [[new Float32Array(4)]])).toThrow(/needs/);
  });
});

describe('scanning a text longer than the block', () => {
  const chars = [...TEXT.repeat(3)];
  const ids = Int32Array.from(chars, (c) => c.codePointAt(0)!);
  const rules = rulesFor(chars);
  const names: Array<keyof typeof rules> = ['previous', 'wordStart', 'matching', 'uniform'];
  /** A source whose heads follow the rules, for windows at any start (found from the ids' offset). */
  function source(blockSize: number, calls: number[][]): AttentionSource {
    return {
      layers: 1,
      heads: names.length,
      blockSize,
      attend(win) {
        expect(win.length).toBeLessThanOrEqual(blockSize);
        // The engine passes views of the ids: the window's start is its offset.
        expect(win.buffer).toBe(ids.buffer);
        const start = (win.byteOffset - ids.byteOffset) / 4;
        calls.push([start, win.length]);
        return names.map((r) => matrix(rules[r], start, win.length));
      },
    };
  }

  it('covers every position once, in windows of the block, each position with at least half a block of context', async () => {
    const B = 16;
    const ws = attentionWindows(chars.length, B);
    const covered = new Int32Array(chars.length);
    for (const w of ws) {
      expect(w.end - w.from).toBeLessThanOrEqual(B);
      for (let i = w.q0; i < w.end; i++) {
        covered[i]!++;
        expect(attentionWindowStart(i, B)).toBe(w.from);
        if (i >= B) expect(i - w.from + 1).toBeGreaterThan(B / 2);
      }
    }
    expect([...covered].every((c) => c === 1)).toBe(true);
  });

  it('ranks the rule heads as in one window, with progress and one attend call per window', async () => {
    const calls: number[][] = [];
    const progress: number[] = [];
    const r = await scanAttention(source(16, calls), ids, chars, { onProgress: (p) => progress.push(p.done) });
    expect(calls.length).toBe(attentionWindows(chars.length, 16).length);
    expect(progress.at(-1)).toBe(chars.length);
    for (const [head, rule] of names.entries()) {
      const s = r.ranked.find((x) => x.head === head)!;
      if (rule === 'uniform') expect(s.score - s.chance).toBeCloseTo(0, 6);
      else {
        expect(s.pattern).toBe(rule);
        expect(s.score).toBeCloseTo(1, 6);
      }
    }
    // Windows see less than the whole text: fewer matching/wordStart positions than in one window.
    const whole = rankHeads(chars, [names.map((x) => matrix(rules[x], 0, chars.length))]);
    expect(r.positions.previous).toBe(whole.positions.previous);
    expect(r.positions.matching).toBeLessThanOrEqual(whole.positions.matching);
  });

  it('a lines model: windows start at every item marker and never cross one', async () => {
    const nl = '\n'.codePointAt(0)!;
    const starts = segmentStarts(ids, nl);
    expect(starts.length).toBe(1 + chars.slice(1).filter((c) => c === '\n').length);
    const ws = attentionWindows(chars.length, 16, starts);
    const covered = new Int32Array(chars.length);
    for (const w of ws) {
      const next = starts.find((b) => b > w.from) ?? chars.length;
      expect(w.end).toBeLessThanOrEqual(next);
      for (let i = w.q0; i < w.end; i++) {
        covered[i]!++;
        expect(attentionWindowStart(i, 16, starts)).toBe(w.from);
      }
    }
    expect([...covered].every((c) => c === 1)).toBe(true);
    const calls: number[][] = [];
    const src = { ...source(16, calls), marker: nl };
    const r = await scanAttention(src, ids, chars);
    // At a marker the window starts there: no previous character is visible.
    expect(r.positions.previous).toBe(chars.length - starts.length);
    expect(r.ranked.find((x) => x.head === 0)!.score).toBeCloseTo(1, 6);
    const second = starts[1]!;
    const a = await attentionAt(src, ids, second + 3);
    expect(a.from).toBe(second);
    expect(a.weights[0]).toHaveLength(4);
  });

  it('stops when aborted', async () => {
    const calls: number[][] = [];
    const ac = new AbortController();
    const src = source(16, calls);
    const attend = src.attend.bind(src);
    src.attend = (w) => {
      ac.abort();
      return attend(w);
    };
    await scanAttention(src, ids, chars, { signal: ac.signal });
    expect(calls.length).toBe(1);
  });

  it("gives one position every head's attention over the window it was scored in", async () => {
    const calls: number[][] = [];
    const src = source(16, calls);
    for (const pos of [0, 5, 16, 40, chars.length - 1]) {
      const a = await attentionAt(src, ids, pos);
      expect(a.from).toBe(attentionWindowStart(pos, 16));
      expect(a.weights).toHaveLength(names.length);
      for (const w of a.weights) {
        expect(w).toHaveLength(pos - a.from + 1);
        expect(w.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
      }
      if (pos > 0) expect(a.weights[0]![pos - 1 - a.from]).toBeCloseTo(1, 6); // the previous-character head
    }
    await expect(attentionAt(src, ids, chars.length)).rejects.toThrow(/outside the text/);
  });
});

describe('a real tiny Transformer', () => {
  // Trained by iterations (not time), so a busy machine only makes it slower.
  const ITERS = 150;
  let trained: CharModel;
  let untrained: CharModel;
  const probe = previousCharText(700, 2);

  beforeAll(async () => {
    await chooseBackend('wasm');
    const out = mkdtempSync(join(tmpdir(), 'charmer-attention-'));
    const config = {
      backend: 'wasm',
      model: 'transformer',
      nLayer: 1,
      nHead: 2,
      nEmbd: 32,
      blockSize: 32,
      batchSize: 16,
      learningRate: 3e-3,
      sampleEvery: 0,
      threads: 1,
    } as const;
    for await (const ev of train({
      corpus: corpusFromString(previousCharText(20_000, 1)),
      out,
      config: { ...config, maxIters: ITERS, evalEvery: ITERS },
      baseline: false,
    }))
      void ev;
    trained = (await loadCheckpoint(join(out, 'latest'))).model;
    const out0 = mkdtempSync(join(tmpdir(), 'charmer-attention-'));
    for await (const ev of train({
      corpus: corpusFromString(previousCharText(20_000, 1)),
      out: out0,
      config: { ...config, maxIters: 1, evalEvery: 1, learningRate: 1e-9 },
      baseline: false,
    }))
      void ev;
    untrained = (await loadCheckpoint(join(out0, 'latest'))).model;
  }, 300_000);

  it('gives causal attention that sums to 1 in every row, for any window of the text', async () => {
    const src = attentionSourceOf(trained);
    expect([src.layers, src.heads, src.blockSize]).toEqual([1, 2, 32]);
    const { ids } = encodeKnown(trained, probe);
    for (const pos of [0, 31, 32, 100]) {
      const a = await attentionAt(src, ids, pos);
      expect(a.from).toBe(attentionWindowStart(pos, 32));
      for (const w of a.weights) {
        expect(w).toHaveLength(pos - a.from + 1);
        expect(w.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 4);
      }
    }
    // The same window through the whole-matrix path: the last row is attentionAt's.
    const m = await src.attend(ids.subarray(0, 32));
    const a31 = await attentionAt(src, ids, 31);
    for (let h = 0; h < 2; h++) for (let j = 0; j < 32; j++) expect(m[h]![31 * 32 + j]).toBeCloseTo(a31.weights[h]![j]!, 5);
    for (let i = 0; i < 32; i++) for (let j = i + 1; j < 32; j++) expect(m[0]![i * 32 + j]).toBe(0);
    // Clicking through one window runs the model once: the same window's matrices come back.
    expect(await src.attend(Int32Array.from(ids.subarray(0, 32)))).toBe(m);
    expect(await attentionSourceOf(trained).attend(ids.subarray(0, 32))).toBe(m);
    expect(await src.attend(ids.subarray(1, 33))).not.toBe(m);
  });

  it('ranks a head as "previous character" after training on a text that needs it, and not before', async () => {
    const { ids, chars } = encodeKnown(trained, probe);
    const after = await scanAttention(attentionSourceOf(trained), ids, chars);
    const before = await scanAttention(attentionSourceOf(untrained), ids, chars);
    const top = after.ranked[0]!;
    expect(top.pattern).toBe('previous');
    expect(top.score).toBeGreaterThan(0.6);
    expect(top.score - top.chance).toBeGreaterThan(0.5);
    const best = (r: typeof before) => Math.max(...r.all.filter((s) => s.pattern === 'previous').map((s) => s.score));
    expect(best(before)).toBeLessThan(0.35);
    expect(best(after)).toBeGreaterThan(best(before) + 0.3);
  });

  it('reads a lines model’s items after its start marker, as it learnt them', async () => {
    const out = mkdtempSync(join(tmpdir(), 'charmer-attention-'));
    const names = Array.from({ length: 300 }, (_, i) => 'abcdefgh'.slice(i % 4, 4 + (i % 5))).join('\n') + '\n';
    const config = {
      backend: 'wasm',
      mode: 'lines',
      model: 'transformer',
      nLayer: 1,
      nHead: 2,
      nEmbd: 16,
      blockSize: 16,
      batchSize: 8,
      maxIters: 2,
      evalEvery: 2,
      sampleEvery: 0,
      threads: 1,
    } as const;
    for await (const ev of train({ corpus: corpusFromString(names, { mode: 'lines' }), out, config, baseline: false })) void ev;
    const model = (await loadCheckpoint(join(out, 'latest'))).model;
    try {
      const src = attentionSourceOf(model);
      const { ids } = encodeKnown(model, 'abcd\nbcdef\ncd\n');
      expect(src.marker).toBe(model.vocab.indexOf('\n'));
      // The second item: its window starts at the newline before it (the marker), rows sum to 1.
      const a = await attentionAt(src, ids, 7);
      expect(a.from).toBe(4);
      for (const w of a.weights) expect(w.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 4);
      // The first item had no marker in the text: read after one, some attention goes to it.
      const b = await attentionAt(src, ids, 3);
      expect(b.from).toBe(0);
      const sums = b.weights.map((w) => w.reduce((x, y) => x + y, 0));
      for (const s of sums) expect(s).toBeLessThan(1);
    } finally {
      model.dispose();
    }
  });

  it('refuses a recurrent model with a sentence saying what to look at instead', () => {
    const lstm = CharModel.create({ cell: 'lstm', vocabSize: 4, embeddingSize: 4, hidden: 4, layers: 1, dropout: 0 }, trained.vocab, trained.meta, 1);
    try {
      expect(() => attentionSourceOf(lstm)).toThrow(/an LSTM: it has no attention.*cells/);
    } finally {
      lstm.dispose();
    }
  });
});
