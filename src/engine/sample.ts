/**
 * Sampling: a stateful single step per character (the recurrent state is carried, never re-run
 * over a window), batched across items in lines mode. Temperature 0 is argmax; top-k keeps the k
 * likeliest characters. Each sample carries its log-probability under the model at temperature 1,
 * so results can be ranked whatever temperature produced them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CharmerError } from './errors.ts';
import { StreamSampler } from './fused/stream.ts';
import { GptStream } from './transformer/stream.ts';
import type { CharModel } from './model.ts';
import type { LayerState } from './recurrent.ts';
import { Rng } from './rng.ts';
import { resolveCategoryRequest } from './categories.ts';
import type { Novelty } from '../common/enums.ts';
import type { LineSample, SampleLinesOptions, SampleResult, SampleTextOptions } from '../common/samples.ts';

export type { LineSample, SampleLinesOptions, SampleResult, SampleTextOptions };

export type { Novelty };

/**
 * Pick one index from logits[off .. off+V). Returns the index and its log-probability at temperature 1.
 * `banned` (optional) is an index that may not be chosen (the end marker before min length).
 */
export function pick(
  logits: Float32Array,
  off: number,
  V: number,
  temperature: number,
  topK: number,
  rng: Rng,
  banned = -1,
  forbidden?: Uint8Array,
): { index: number; logprob: number } {
  if (forbidden) return pickMasked(logits, off, V, temperature, topK, rng, banned, forbidden);
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (j !== banned && logits[off + j]! > max) max = logits[off + j]!;
  // log-softmax at temperature 1, over all characters (the model's own probability).
  let z = 0;
  for (let j = 0; j < V; j++) z += Math.exp(logits[off + j]! - max);
  const logZ = max + Math.log(z);
  let index = -1;
  if (temperature <= 0) {
    for (let j = 0; j < V; j++) if (j !== banned && (index < 0 || logits[off + j]! > logits[off + index]!)) index = j;
  } else {
    let threshold = -Infinity;
    if (topK > 0 && topK < V) {
      const sorted = Array.from(logits.subarray(off, off + V)).sort((a, b) => b - a);
      threshold = sorted[topK - 1]!;
    }
    const p = new Float64Array(V);
    let sum = 0;
    for (let j = 0; j < V; j++) {
      const l = logits[off + j]!;
      if (j === banned || l < threshold) continue;
      p[j] = Math.exp((l - max) / temperature);
      sum += p[j]!;
    }
    let r = rng.next() * sum;
    for (let j = 0; j < V; j++) {
      if (p[j] === 0) continue;
      index = j;
      r -= p[j]!;
      if (r <= 0) break;
    }
  }
  return { index, logprob: logits[off + index]! - logZ };
}

/** pick() with a set of forbidden indices (category tokens inside a name, or outside the allowed values). */
function pickMasked(
  logits: Float32Array,
  off: number,
  V: number,
  temperature: number,
  topK: number,
  rng: Rng,
  banned: number,
  forbidden: Uint8Array,
): { index: number; logprob: number } {
  const masked = new Float32Array(V);
  let allowed = 0;
  for (let j = 0; j < V; j++) {
    const no = forbidden[j] === 1 || j === banned;
    masked[j] = no ? -Infinity : logits[off + j]!;
    if (!no) allowed++;
  }
  const r = pick(masked, 0, V, temperature, Math.min(topK, allowed), rng);
  // The log-probability stays the model's own over every character.
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (logits[off + j]! > max) max = logits[off + j]!;
  let z = 0;
  for (let j = 0; j < V; j++) z += Math.exp(logits[off + j]! - max);
  return { index: r.index, logprob: logits[off + r.index]! - max - Math.log(z) };
}

export function disposeState(s: LayerState[]): void {
  for (const l of s) for (const t of l) t.dispose();
}

/** Run `ids` (one row, tiled to `batch`) through the model from the start: the state to step on from and the last logits. */
export async function primeState(model: CharModel, ids: Uint16Array, batch: number): Promise<{ state: LayerState[]; logits: Float32Array }> {
  const out = tf.tidy(() => {
    const x = tf.tensor2d(Int32Array.from(ids), [1, ids.length], 'int32');
    const r = model.prefill(tf.tile(x, [batch, 1]) as tf.Tensor2D);
    return { state: r.state, last: r.logits };
  });
  const logits = (await out.last.data()) as Float32Array;
  out.last.dispose();
  return { state: out.state as LayerState[], logits };
}

export async function stepBatch(model: CharModel, ids: Int32Array, state: LayerState[]): Promise<{ state: LayerState[]; logits: Float32Array }> {
  const out = tf.tidy(() => {
    const r = model.step(tf.tensor1d(ids, 'int32'), state);
    return { state: r.state, logits: r.logits };
  });
  disposeState(state);
  const logits = (await out.logits.data()) as Float32Array;
  out.logits.dispose();
  return { state: out.state as LayerState[], logits };
}

/** The character to start from when there is no prime: the newline, as at the start of a line. */
function startIds(model: CharModel): Uint16Array {
  const nl = model.vocab.indexOf('\n');
  return Uint16Array.of(nl >= 0 ? nl : 0);
}

/** Stream a continuation one character at a time; the generator's return value is the whole sample. */
export async function* sampleText(model: CharModel, opts: SampleTextOptions): AsyncGenerator<string, SampleResult> {
  const rng = new Rng(opts.seed ?? (Math.random() * 2 ** 31) >>> 0);
  const V = model.vocab.size;
  let ids = opts.prime ? model.vocab.encode(opts.prime, opts.skipUnknown) : new Uint16Array(0);
  if (ids.length === 0) ids = startIds(model);
  // The prime runs as one sequence (fast however long it is); then one character at a time,
  // through the StreamSampler where it runs (every core, no tensors; opening it costs ~2-50 ms,
  // so not for a handful of characters), else through model.step.
  // A Transformer's stream keeps its key/value cache in its own memory (./transformer/stream.ts).
  const gpt = model.gpt ? await GptStream.open(model, { steps: opts.length }) : null;
  let { state, logits } = gpt ? { state: [] as LayerState[], logits: gpt.prime(ids) } : await primeState(model, ids, 1);
  const stream = gpt ?? (opts.length >= 32 ? await StreamSampler.open(model, { steps: opts.length }) : null);
  if (stream && !gpt) {
    (stream as StreamSampler).load(await Promise.all(state.map((l) => Promise.all(l.map(async (t) => (await t.data()) as Float32Array)))));
    disposeState(state);
    state = [];
  }
  let text = '';
  let logprob = 0;
  try {
    for (let i = 0; i < opts.length; i++) {
      if (opts.signal?.aborted) break;
      const p = pick(logits, 0, V, opts.temperature ?? 1, opts.topK ?? 0, rng);
      const ch = model.vocab.chars[p.index]!;
      text += ch;
      logprob += p.logprob;
      yield ch;
      if (i + 1 >= opts.length) break;
      if (stream) logits = stream.step(p.index);
      else ({ state, logits } = await stepBatch(model, Int32Array.of(p.index), state));
    }
  } finally {
    disposeState(state);
    stream?.dispose();
  }
  return { text, logprob };
}

/** Collect a whole text sample. */
export async function sampleTextAll(model: CharModel, opts: SampleTextOptions): Promise<SampleResult> {
  const gen = sampleText(model, opts);
  for (;;) {
    const r = await gen.next();
    if (r.done) return r.value;
  }
}

/** The longest item sampleLines writes when no maxLength is given. */
export const DEFAULT_MAX_ITEM_LENGTH = 60;

/**
 * Refuses constraints no item can meet (a shortest length above the longest, a prefix longer than
 * the longest item...), before any sampling: otherwise the answer is "found 0" after all the work.
 */
export function checkLineConstraints(
  opts: Pick<SampleLinesOptions, 'count' | 'minLength' | 'maxLength' | 'prefix' | 'contains' | 'suffix' | 'temperature' | 'topK'>,
): void {
  const bad = (m: string) => new CharmerError('BAD_OPTION', m);
  if (!Number.isInteger(opts.count) || opts.count < 1) throw bad(`The number of items must be a whole number of at least 1 (got ${opts.count}).`);
  if (opts.temperature !== undefined && !(opts.temperature >= 0)) throw bad(`The temperature must be 0 or more (got ${opts.temperature}).`);
  if (opts.topK !== undefined && !(Number.isInteger(opts.topK) && opts.topK >= 0)) throw bad(`Top-k must be a whole number, 0 or more (got ${opts.topK}).`);
  const min = opts.minLength;
  const max = opts.maxLength ?? DEFAULT_MAX_ITEM_LENGTH;
  if (min !== undefined && !(Number.isInteger(min) && min >= 0)) throw bad(`The shortest length must be a whole number, 0 or more (got ${min}).`);
  if (!(Number.isInteger(max) && max >= 1)) throw bad(`The longest length must be a whole number of at least 1 (got ${max}).`);
  if (min !== undefined && min > max)
    throw bad(`The shortest length (${min}) is above the longest (${max}), so no item can fit. Lower the shortest length or raise the longest.`);
  for (const [what, s] of [
    ['prefix', opts.prefix],
    ['contains', opts.contains],
    ['suffix', opts.suffix],
  ] as const) {
    const n = s ? [...s].length : 0;
    if (n > max)
      throw bad(
        `The ${what} "${s}" has ${n} characters but items may have at most ${max}, so no item can fit. Shorten the ${what} or raise the longest length.`,
      );
  }
}

export interface LineScore {
  /** Log-probability (nats, temperature 1) of each character of the item, then of its end. */
  perChar: number[];
  /** Mean of perChar: how likely the model finds the item per character. */
  meanLogprob: number;
}

/**
 * How likely a lines model finds `text` (written for the given category values, when it has
 * categories): the model's log-probability of each character and of the end of the item.
 * Characters the model never saw make it impossible to write: UNKNOWN_CHARACTERS.
 */
export async function scoreLine(model: CharModel, text: string, categories: string[] = []): Promise<LineScore> {
  const marker = model.vocab.indexOf('\n');
  if (model.meta.mode !== 'lines' || marker < 0)
    throw new CharmerError('NOT_LINES_MODEL', 'Only list models score items; this one was trained on running text.');
  const spec = model.meta.categories;
  const { allowed } = resolveCategoryRequest(spec, categories);
  // A column with no value given is conditioned on its first allowed value only when it has one.
  const tokens = allowed.filter((a) => a.length === 1).map((a) => model.vocab.indexOf(a[0]!));
  const body = model.vocab.encode(text);
  const ids = Int32Array.from([marker, ...tokens, ...body]);
  const targets = [...body, marker];
  if (ids.length > model.context) {
    throw new CharmerError(
      'BAD_OPTION',
      `This Transformer reads at most ${model.context} characters at once; "${text}" with its start of line takes ${ids.length}. Score a shorter item.`,
    );
  }
  const logits = tf.tidy(() => model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), model.zeroState(1)).logits);
  const data = (await logits.data()) as Float32Array;
  logits.dispose();
  const V = model.vocab.size;
  const perChar: number[] = [];
  for (let k = 0; k < targets.length; k++) {
    const off = (tokens.length + k) * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (data[off + j]! > max) max = data[off + j]!;
    let z = 0;
    for (let j = 0; j < V; j++) z += Math.exp(data[off + j]! - max);
    perChar.push(data[off + targets[k]!]! - max - Math.log(z));
  }
  return { perChar, meanLogprob: perChar.reduce((a, b) => a + b, 0) / perChar.length };
}
