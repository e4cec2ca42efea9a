/**
 * Count n-gram baseline: add-k smoothed character n-grams of orders 0..6, with the order and k chosen
 * on the validation split. Every loss the network reports should be read against this figure (Yoav
 * Goldberg's reply to "The Unreasonable Effectiveness of RNNs" showed how far plain counting goes).
 *
 * How it stays fast and bounded on a million characters:
 * - A context of order n is never hashed as a string or as a base-V number (V^7 overflows 2^53 for
 *   large vocabularies). Instead contexts are interned order by order: the id of a position's order-n
 *   context is the dense id of the pair (its order-(n-1) context id, the character n back). Ids are
 *   below the number of train positions, so pairs are exact 32-bit integers: no collisions, whatever
 *   the vocabulary size.
 * - One open-addressing table of Int32Arrays per order (not a Map of boxed doubles), freed before the
 *   next order: memory is a few bytes per position per live table.
 * - Each order is counted once, then one pass over the validation split evaluates every k.
 */
import { CharmerError } from './errors.ts';

export type NgramInput = { vocabSize: number } & (
  { mode: 'text'; train: Uint16Array; val: Uint16Array } | { mode: 'lines'; boundary: number; train: Uint16Array[]; val: Uint16Array[] }
);

export interface NgramOptions {
  /** Context lengths to try (0 = unigram, 1 = bigram, ...). Default 0..6. */
  orders?: number[];
  /** Add-k smoothing constants to try. */
  ks?: number[];
  signal?: AbortSignal;
}

export interface NgramResult {
  /** The order and k with the lowest validation loss. */
  order: number;
  k: number;
  /** Nats per predicted character on the validation split. */
  valLoss: number;
  /** Order 0 at its best k: what knowing only character frequencies buys. */
  unigramLoss: number;
  /** Every (order, k) tried, orders ascending then ks in the given order. */
  table: Array<{ order: number; k: number; valLoss: number }>;
}

export const DEFAULT_NGRAM_ORDERS: readonly number[] = [0, 1, 2, 3, 4, 5, 6];
export const DEFAULT_NGRAM_KS: readonly number[] = [1, 0.5, 0.1, 0.03, 0.01, 0.003, 0.001];

/**
 * Predicted positions of one split, as indices into a shared stream plus the first stream index a
 * context may read (earlier reads give the pad symbol). Text mode: one stream, val after train, so
 * val contexts run over from the train tail. Lines mode: every item becomes marker + chars + marker
 * and its context stops at its own leading marker, padded with the marker beyond.
 */
interface Positions {
  pos: Int32Array;
  start: Int32Array;
  length: number;
}

interface Prepared {
  seq: Uint16Array;
  pad: number;
  train: Positions;
  val: Positions;
}

export function ngramBaseline(input: NgramInput, opts: NgramOptions = {}): NgramResult {
  const V = input.vocabSize;
  if (!Number.isInteger(V) || V < 1 || V > 65536) {
    throw new CharmerError('BAD_OPTION', `The vocabulary size must be an integer from 1 to 65536 (got ${V}).`);
  }
  const orders = [...(opts.orders ?? DEFAULT_NGRAM_ORDERS)];
  const ks = [...(opts.ks ?? DEFAULT_NGRAM_KS)];
  if (orders.length === 0 || orders.some((n) => !Number.isInteger(n) || n < 0 || n > 64)) {
    throw new CharmerError('BAD_OPTION', `n-gram orders must be whole numbers from 0 to 64 (got ${orders.join(', ')}).`);
  }
  if (ks.length === 0 || ks.some((k) => !(k > 0) || !Number.isFinite(k))) {
    throw new CharmerError('BAD_OPTION', `Add-k smoothing values must be positive numbers (got ${ks.join(', ')}).`);
  }
  const signal = opts.signal;
  signal?.throwIfAborted();

  const data = prepare(input);
  if (data.val.length === 0) {
    throw new CharmerError(
      'CORPUS_TOO_SMALL',
      'The validation split has no characters to predict, so the n-gram baseline cannot be measured. Use a larger corpus or a larger validation fraction.',
    );
  }
  const { seq, pad, train, val } = data;

  // Targets never change with the order; read them once.
  const trainTarget = gather(seq, train.pos, train.length);
  const valTarget = gather(seq, val.pos, val.length);

  const wanted = new Set(orders);
  const maxOrder = Math.max(...orders);
  const losses = new Map<number, Float64Array>(); // order -> mean loss per k

  // Order 0: one context, id 0, for every position (train and val alike).
  const trainCtx = new Int32Array(train.length);
  const valCtx = new Int32Array(val.length);
  const unigram = evaluateOrder(trainCtx, trainTarget, valCtx, valTarget, 1, V, ks);
  if (wanted.has(0)) losses.set(0, unigram);

  for (let n = 1; n <= maxOrder; n++) {
    signal?.throwIfAborted();
    // Extend every position's context by the character n back: intern on train, look up on val
    // (a val context never seen in train stays -1 and gets the uniform add-k estimate).
    const ctxIndex = new PairIndex(Math.min(train.length, 1 << 16));
    for (let i = 0; i < train.length; i++) {
      const p = train.pos[i]! - n;
      const c = p >= train.start[i]! ? seq[p]! : pad;
      trainCtx[i] = ctxIndex.intern(trainCtx[i]!, c);
    }
    for (let i = 0; i < val.length; i++) {
      const prev = valCtx[i]!;
      if (prev < 0) continue;
      const p = val.pos[i]! - n;
      const c = p >= val.start[i]! ? seq[p]! : pad;
      valCtx[i] = ctxIndex.get(prev, c);
    }
    if (wanted.has(n)) {
      signal?.throwIfAborted();
      losses.set(n, evaluateOrder(trainCtx, trainTarget, valCtx, valTarget, ctxIndex.size, V, ks));
    }
  }

  const table: NgramResult['table'] = [];
  let best = { order: -1, k: NaN, valLoss: Infinity };
  for (const n of [...wanted].sort((a, b) => a - b)) {
    const perK = losses.get(n)!;
    ks.forEach((k, j) => {
      const row = { order: n, k, valLoss: perK[j]! };
      table.push(row);
      if (row.valLoss < best.valLoss) best = row;
    });
  }
  return { order: best.order, k: best.k, valLoss: best.valLoss, unigramLoss: Math.min(...unigram), table };
}

function prepare(input: NgramInput): Prepared {
  const V = input.vocabSize;
  if (input.mode === 'text') {
    const { train, val } = input;
    const seq = new Uint16Array(train.length + val.length);
    seq.set(train, 0);
    seq.set(val, train.length);
    checkRange(seq, V);
    // The first few train positions have less than n characters before them; an extra pad symbol
    // (outside the vocabulary, so it cannot be confused with a real character) fills the gap.
    return {
      seq,
      pad: V,
      train: range(0, train.length),
      val: range(train.length, val.length),
    };
  }
  const { boundary, train, val } = input;
  if (!Number.isInteger(boundary) || boundary < 0 || boundary >= V) {
    throw new RangeError(`boundary ${boundary} is not a vocabulary index below ${V}`);
  }
  const total = [...train, ...val].reduce((s, it) => s + it.length + 1, 1);
  const seq = new Uint16Array(total);
  // Items share markers in the stream (…, c, B, c', …): an item's trailing marker is the next
  // item's leading one. Contexts never read before their item's own leading marker.
  seq[0] = boundary;
  let at = 1;
  const place = (items: Uint16Array[]): Positions => {
    const n = items.reduce((s, it) => s + it.length + 1, 0);
    const out: Positions = { pos: new Int32Array(n), start: new Int32Array(n), length: n };
    let j = 0;
    for (const it of items) {
      const lead = at - 1;
      seq.set(it, at);
      at += it.length;
      seq[at] = boundary;
      at += 1;
      for (let p = lead + 1; p < at; p++) {
        out.pos[j] = p;
        out.start[j] = lead;
        j++;
      }
    }
    return out;
  };
  const trainPos = place(train);
  const valPos = place(val);
  checkRange(seq, V);
  return { seq, pad: boundary, train: trainPos, val: valPos };
}

function range(from: number, length: number): Positions {
  const pos = new Int32Array(length);
  for (let i = 0; i < length; i++) pos[i] = from + i;
  return { pos, start: new Int32Array(length), length };
}

function gather(seq: Uint16Array, pos: Int32Array, n: number): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = seq[pos[i]!]!;
  return out;
}

function checkRange(seq: Uint16Array, V: number): void {
  for (let i = 0; i < seq.length; i++) {
    if (seq[i]! >= V) throw new RangeError(`index ${seq[i]} at ${i} is outside the vocabulary of ${V}`);
  }
}

/** Counts one order on train, then returns the mean validation loss for every k. */
function evaluateOrder(
  trainCtx: Int32Array,
  trainTarget: Uint16Array,
  valCtx: Int32Array,
  valTarget: Uint16Array,
  numCtx: number,
  V: number,
  ks: number[],
): Float64Array {
  const ctxCount = new Int32Array(numCtx);
  const pairIndex = new PairIndex(Math.min(trainCtx.length, 1 << 16));
  let pairCount = new Int32Array(1 << 12);
  for (let i = 0; i < trainCtx.length; i++) {
    const ctx = trainCtx[i]!;
    ctxCount[ctx]!++;
    const id = pairIndex.intern(ctx, trainTarget[i]!);
    if (id >= pairCount.length) {
      const grown = new Int32Array(pairCount.length * 2);
      grown.set(pairCount);
      pairCount = grown;
    }
    pairCount[id]!++;
  }
  const sums = new Float64Array(ks.length);
  for (let i = 0; i < valCtx.length; i++) {
    const ctx = valCtx[i]!;
    let a = 0;
    let b = 0;
    if (ctx >= 0) {
      b = ctxCount[ctx]!;
      const id = pairIndex.get(ctx, valTarget[i]!);
      if (id >= 0) a = pairCount[id]!;
    }
    for (let j = 0; j < ks.length; j++) {
      const k = ks[j]!;
      sums[j]! -= Math.log((a + k) / (b + k * V));
    }
  }
  for (let j = 0; j < ks.length; j++) sums[j]! /= valCtx.length;
  return sums;
}

/**
 * Interns pairs of non-negative 32-bit integers as dense ids 0, 1, 2, ... (linear probing, grows at
 * half load). A JS Map keyed by a*M+b would box every key as a double and cost several times the
 * memory; this costs 12 bytes per slot.
 */
class PairIndex {
  size = 0;
  private mask: number;
  private keyA: Int32Array;
  private keyB: Int32Array;
  private ids: Int32Array;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.mask = cap - 1;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.ids = new Int32Array(cap);
  }

  private static hash(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 16;
    h = Math.imul(h, 0x7feb352d);
    return h ^ (h >>> 15);
  }

  get(a: number, b: number): number {
    const { keyA, keyB, mask } = this;
    let s = PairIndex.hash(a, b) & mask;
    for (;;) {
      const ka = keyA[s]!;
      if (ka === -1) return -1;
      if (ka === a && keyB[s] === b) return this.ids[s]!;
      s = (s + 1) & mask;
    }
  }

  intern(a: number, b: number): number {
    const { keyA, keyB, mask } = this;
    let s = PairIndex.hash(a, b) & mask;
    for (;;) {
      const ka = keyA[s]!;
      if (ka === -1) break;
      if (ka === a && keyB[s] === b) return this.ids[s]!;
      s = (s + 1) & mask;
    }
    const id = this.size++;
    keyA[s] = a;
    keyB[s] = b;
    this.ids[s] = id;
    if (this.size * 2 > mask + 1) this.grow();
    return id;
  }

  private grow(): void {
    const { keyA, keyB, ids } = this;
    const cap = keyA.length * 2;
    this.mask = cap - 1;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.ids = new Int32Array(cap);
    for (let s = 0; s < keyA.length; s++) {
      const a = keyA[s]!;
      if (a === -1) continue;
      let t = PairIndex.hash(a, keyB[s]!) & this.mask;
      while (this.keyA[t] !== -1) t = (t + 1) & this.mask;
      this.keyA[t] = a;
      this.keyB[t] = keyB[s]!;
      this.ids[t] = ids[s]!;
    }
  }
}
