/**
 * Looking inside attention, as `findInterestingCells` does for recurrent cells: for a text, where
 * every head of every layer of a Transformer looks from each position, and which heads track a
 * simple pattern of the text.
 *
 * A pattern names, for a query position i, a set of earlier positions (its target); a head's score
 * for a pattern is the attention mass it puts on that set, averaged over the positions where the
 * set is not empty and visible. Its chance level is what uniform attention over the visible
 * positions would score, so a pattern with large targets (a common letter's earlier occurrences)
 * does not win by spreading attention thinly. The patterns, for query i (0-based, code points):
 *
 * - previous: { i-1 }.
 * - sameChar: every j < i-1 with chars[j] === chars[i] (i-1 is left to `previous`, so a head that
 *   only looks one back does not score on doubled letters).
 * - wordStart: { w } where w < i is the first character of the word holding i (a word is a run of
 *   letters, digits and marks, with apostrophes inside it).
 * - matching: at a closing bracket or quote, its opener; elsewhere the innermost bracket or quote
 *   still open after reading chars[i], opened before i. Brackets are () [] {}, quotes " (toggling)
 *   and “ ” « »; ' is left out because it is mostly an apostrophe.
 *
 * A Transformer sees at most `blockSize` characters. A text longer than that is read in windows of
 * blockSize starting every blockSize/2 characters; each position takes its attention from the window
 * that gives it the most context (at least blockSize/2 + 1 characters once past the first window),
 * which is also the window `attentionAt` runs for one position. A lines model (names) learnt each
 * item on its own after a start marker, so its windows start at every marker and never cross one.
 */
import { CharmerError } from './errors.ts';
import { HEAD_PATTERNS, type HeadPattern, type HeadRanking, type HeadScore, type PositionAttention } from '../common/inspect.ts';

export { HEAD_PATTERNS };
export type { HeadPattern, HeadRanking, HeadScore, PositionAttention };

const PATTERNS = Object.keys(HEAD_PATTERNS) as HeadPattern[];

/** Fewest positions a pattern must apply at before any head is scored on it (fewer is noise). */
export const MIN_PATTERN_POSITIONS = 4;

/** What the scan needs of a model: its shape and the attention probabilities for one window. */
export interface AttentionSource {
  layers: number;
  heads: number;
  /** Longest context the model reads. */
  blockSize: number;
  /** Lines models: the id that starts every item; windows start at each one and never cross it. */
  marker?: number;
  /**
   * Attention probabilities for `ids` (at most blockSize long, read from position 0): one
   * Float32Array per layer*heads + head, [T x T] row-major, row i over keys 0..i (zero above).
   */
  attend(ids: Int32Array): Promise<Float32Array[]> | Float32Array[];
}

/** First position of the window a query at `i` is read in (see the module comment). */
export function attentionWindowStart(i: number, blockSize: number, starts: readonly number[] = [0]): number {
  let s = 0;
  for (const b of starts) if (b <= i) s = b;
  const k = i - s;
  if (k < blockSize) return s;
  const stride = Math.max(1, Math.floor(blockSize / 2));
  return s + (Math.floor((k - blockSize) / stride) + 1) * stride;
}

/** Where windows must start: 0 and, with a marker (lines models), every position holding it. */
export function segmentStarts(ids: ArrayLike<number>, marker?: number): number[] {
  const out = [0];
  if (marker !== undefined) for (let i = 1; i < ids.length; i++) if (ids[i] === marker) out.push(i);
  return out;
}

const WORD = /[\p{L}\p{N}\p{M}]/u;
const OPENERS: Readonly<Record<string, string>> = { '(': ')', '[': ']', '{': '}', '\u201c': '\u201d', '\u00ab': '\u00bb' };
const CLOSERS: Readonly<Record<string, string>> = { ')': '(', ']': '[', '}': '{', '\u201d': '\u201c', '\u00bb': '\u00ab' };

/** Per position, the single-target patterns' target (-1: none) and the previous occurrence of the same character. */
export interface TextLinks {
  /** Most recent j < i with chars[j] === chars[i], or -1 (the sameChar set is this chain). */
  lastSame: Int32Array;
  wordStart: Int32Array;
  matching: Int32Array;
}

export function textLinks(chars: readonly string[]): TextLinks {
  const n = chars.length;
  const lastSame = new Int32Array(n).fill(-1);
  const wordStart = new Int32Array(n).fill(-1);
  const matching = new Int32Array(n).fill(-1);
  const seen = new Map<string, number>();
  const isWord = chars.map((c) => WORD.test(c));
  // Apostrophes inside a word (don't, o'er) belong to it.
  for (let i = 1; i < n - 1; i++) if ((chars[i] === "'" || chars[i] === '\u2019') && isWord[i - 1] && WORD.test(chars[i + 1]!)) isWord[i] = true;
  let start = -1;
  const stack: Array<{ ch: string; at: number }> = [];
  // Straight quotes on the stack: a '"' closes one if any is open, else opens one.
  let quotes = 0;
  for (let i = 0; i < n; i++) {
    const ch = chars[i]!;
    lastSame[i] = seen.get(ch) ?? -1;
    seen.set(ch, i);
    if (isWord[i]) {
      if (start < 0) start = i;
      else wordStart[i] = start;
    } else start = -1;

    const opener = ch === '"' ? (quotes > 0 ? null : '"') : OPENERS[ch] !== undefined ? ch : null;
    const closes = ch === '"' && opener === null ? '"' : CLOSERS[ch];
    let own = -1;
    if (opener !== null) {
      stack.push({ ch, at: i });
      if (ch === '"') quotes++;
    } else if (closes !== undefined) {
      // The innermost opener it closes; a stray closer (none open) is ignored.
      let k = stack.length - 1;
      while (k >= 0 && stack[k]!.ch !== closes) k--;
      if (k >= 0) {
        own = stack[k]!.at;
        for (const s of stack.splice(k)) if (s.ch === '"') quotes--;
      }
    }
    const top = stack.at(-1);
    matching[i] = own >= 0 ? own : top && top.at < i ? top.at : -1;
  }
  return { lastSame, wordStart, matching };
}

/**
 * Accumulates heads' pattern scores window by window (a whole text never has to be held as
 * matrices). `add` takes one window's attention; `ranking` reads the result.
 */
export class HeadScorer {
  readonly #chars: readonly string[];
  readonly #links: TextLinks;
  readonly #layers: number;
  readonly #heads: number;
  /** [head][pattern] sums of mass, and per pattern the sum of chance and the count. */
  readonly #mass: Float64Array;
  readonly #chance = new Float64Array(PATTERNS.length);
  readonly #count = new Int32Array(PATTERNS.length);
  readonly #done: Uint8Array;

  constructor(chars: readonly string[], layers: number, heads: number) {
    this.#chars = chars;
    this.#links = textLinks(chars);
    this.#layers = layers;
    this.#heads = heads;
    this.#mass = new Float64Array(layers * heads * PATTERNS.length);
    this.#done = new Uint8Array(chars.length);
  }

  /** Target positions of each pattern for query i seeing positions from..i (empty where it does not apply). */
  targets(i: number, from: number): Record<HeadPattern, number[]> {
    const { lastSame, wordStart, matching } = this.#links;
    const same: number[] = [];
    for (let j = lastSame[i]!; j >= from; j = lastSame[j]!) if (j !== i - 1) same.push(j);
    const one = (j: number) => (j >= from && j < i ? [j] : []);
    return { previous: one(i - 1), sameChar: same, wordStart: one(wordStart[i]!), matching: one(matching[i]!) };
  }

  /**
   * One window starting at text position `from`, of `probs[0].length = T*T` entries per head; the
   * queries q0..q1-1 (text positions, within the window) are scored. Each position counts once.
   */
  add(from: number, q0: number, q1: number, probs: readonly Float32Array[]): void {
    const nh = this.#layers * this.#heads;
    if (probs.length !== nh) throw new CharmerError('BAD_OPTION', `Expected attention for ${nh} heads, got ${probs.length}.`);
    const T = Math.round(Math.sqrt(probs[0]?.length ?? 0));
    if (q0 < from || q1 > from + T || q1 > this.#chars.length)
      throw new CharmerError('BAD_OPTION', `Queries ${q0}..${q1 - 1} are outside the window ${from}..${from + T - 1}.`);
    for (let i = q0; i < q1; i++) {
      if (this.#done[i]) continue;
      this.#done[i] = 1;
      const t = this.targets(i, from);
      const visible = i - from + 1;
      const row = (i - from) * T - from;
      PATTERNS.forEach((p, k) => {
        const js = t[p];
        if (js.length === 0) return;
        this.#count[k]!++;
        this.#chance[k]! += js.length / visible;
        for (let h = 0; h < nh; h++) {
          const a = probs[h]!;
          let m = 0;
          for (const j of js) m += a[row + j]!;
          this.#mass[h * PATTERNS.length + k]! += m;
        }
      });
    }
  }

  ranking(): HeadRanking {
    const all: HeadScore[] = [];
    const ranked: HeadScore[] = [];
    const excess = (s: HeadScore) => s.score - s.chance;
    for (let layer = 0; layer < this.#layers; layer++) {
      for (let head = 0; head < this.#heads; head++) {
        const h = layer * this.#heads + head;
        let best: HeadScore | null = null;
        PATTERNS.forEach((pattern, k) => {
          const n = this.#count[k]!;
          if (n < MIN_PATTERN_POSITIONS) return;
          const s = { layer, head, pattern, score: this.#mass[h * PATTERNS.length + k]! / n, chance: this.#chance[k]! / n, positions: n };
          all.push(s);
          if (!best || excess(s) > excess(best)) best = s;
        });
        if (best) ranked.push(best);
      }
    }
    const order = (a: HeadScore, b: HeadScore) => excess(b) - excess(a);
    return {
      layers: this.#layers,
      heads: this.#heads,
      ranked: ranked.sort(order),
      all: all.sort(order),
      positions: Object.fromEntries(PATTERNS.map((p, k) => [p, this.#count[k]!])) as Record<HeadPattern, number>,
    };
  }
}

/**
 * Rank heads from whole attention matrices of one window holding the text (hand-built ones in
 * tests, or a model's over a text no longer than its block): matrices[layer][head], [n x n] row-major.
 */
export function rankHeads(chars: readonly string[], matrices: ReadonlyArray<ReadonlyArray<Float32Array>>): HeadRanking {
  const layers = matrices.length;
  const heads = matrices[0]?.length ?? 0;
  const n = chars.length;
  for (const layer of matrices) {
    if (layer.length !== heads) throw new CharmerError('BAD_OPTION', 'Every layer must have the same number of heads.');
    for (const m of layer)
      if (m.length !== n * n) throw new CharmerError('BAD_OPTION', `An attention matrix has ${m.length} entries; a text of ${n} characters needs ${n * n}.`);
  }
  const scorer = new HeadScorer(chars, layers, heads);
  if (n > 0) scorer.add(0, 0, n, matrices.flat());
  return scorer.ranking();
}

/** The windows a text of n characters is read in: [from, end) with the queries [q0, end) each scores. */
export function attentionWindows(n: number, blockSize: number, starts: readonly number[] = [0]): Array<{ from: number; end: number; q0: number }> {
  const out: Array<{ from: number; end: number; q0: number }> = [];
  const stride = Math.max(1, Math.floor(blockSize / 2));
  starts.forEach((s, k) => {
    const stop = Math.min(n, starts[k + 1] ?? n);
    if (s >= stop) return;
    out.push({ from: s, end: Math.min(stop, s + blockSize), q0: s });
    for (let from = s + stride; from + blockSize - stride < stop; from += stride)
      out.push({ from, end: Math.min(stop, from + blockSize), q0: from + blockSize - stride });
  });
  return out;
}

export interface ScanOptions {
  signal?: AbortSignal;
  /** Characters scored so far of the total. */
  onProgress?: (p: { done: number; total: number }) => void;
}

/** Read a whole text window by window and rank the heads. `ids` and `chars` are the same text. */
export async function scanAttention(src: AttentionSource, ids: Int32Array, chars: readonly string[], opts: ScanOptions = {}): Promise<HeadRanking> {
  if (ids.length !== chars.length) throw new CharmerError('BAD_OPTION', `The text has ${chars.length} characters but ${ids.length} ids.`);
  const scorer = new HeadScorer(chars, src.layers, src.heads);
  for (const w of attentionWindows(ids.length, src.blockSize, segmentStarts(ids, src.marker))) {
    if (opts.signal?.aborted) break;
    scorer.add(w.from, w.q0, w.end, await src.attend(ids.subarray(w.from, w.end)));
    opts.onProgress?.({ done: w.end, total: ids.length });
    // The attention of a CPU backend resolves at once: give the event loop a turn (a stop, IPC).
    await new Promise((r) => setImmediate(r));
  }
  return scorer.ranking();
}

/** Every head's attention from `position` to the characters it sees (the same window as the scan). */
export async function attentionAt(src: AttentionSource, ids: Int32Array, position: number): Promise<PositionAttention> {
  if (!Number.isInteger(position) || position < 0 || position >= ids.length) {
    throw new CharmerError('BAD_OPTION', `Position ${position} is outside the text: choose one from 0 to ${ids.length - 1}.`);
  }
  const starts = segmentStarts(ids, src.marker);
  const from = attentionWindowStart(position, src.blockSize, starts);
  // The whole window, as the scan reads it (causal: row r depends on ids[from..from+r] only), so a
  // source that remembers windows answers the next click in the same window at once.
  const end = Math.min(ids.length, from + src.blockSize, starts.find((b) => b > from) ?? Infinity);
  const W = end - from;
  const r = position - from;
  const probs = await src.attend(ids.subarray(from, end));
  return { position, from, weights: probs.map((m) => m.slice(r * W, r * W + r + 1)) };
}
