/**
 * Inspect: run a model over a text once and report, per character, its loss, the model's top-k
 * guesses for the next character, and every layer's activations (LSTM: h and tanh(c); GRU/RNN: h),
 * as in the visualisations of "The Unreasonable Effectiveness of Recurrent Neural Networks".
 * Results stream in chunks (state carried across them) so a long text neither blocks the event loop
 * nor holds more than one chunk of tensors at a time. `findInterestingCells` then ranks every cell
 * by how well it tracks simple features of the text (quotes, brackets, line position, ...).
 *
 * The recurrence is a single-step loop of `cellStep` (the stock TF.js weight layout) because the
 * sequence implementation does not expose the LSTM cell state at every step. Each chunk runs in one
 * tf.tidy and its results are read after it (dataSync/data inside tidy is slow on wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import { CharmerError } from './errors.ts';
import type { CharModel } from './model.ts';
import type { LayerState } from './recurrent.ts';
import { cellStep, projectInputs } from './recurrent.ts';
import { unknownCharactersError } from './vocabulary.ts';
import type { ActivationKind, CellMatch, Guess, InspectChunk, InspectResult, LayerActivations, TextFeature } from '../common/inspect.ts';

export type { ActivationKind, CellMatch, Guess, InspectChunk, InspectResult, LayerActivations, TextFeature };

export interface InspectOptions {
  /** Guesses kept per character (default 5, at most the vocabulary size). */
  topK?: number;
  /** Characters per yielded chunk (default 2000). */
  chunkSize?: number;
  /** Stop after the current chunk. */
  signal?: AbortSignal;
  /** Drop characters the model does not know instead of throwing UNKNOWN_CHARACTERS. */
  skipUnknown?: boolean;
}

/** Steps per tf.tidy (see inspectText). */
const BLOCK = 64;

function disposeState(s: LayerState[]): void {
  for (const l of s) for (const t of l) t.dispose();
}

function activationLabel(layer: number, kind: ActivationKind): string {
  return `layer ${layer + 1} ${kind === 'h' ? 'h' : 'tanh(c)'}`;
}

/** The character the sampler starts from without a prime: '\n' if known, else index 0 (as in ./sample). */
function startId(model: CharModel): number {
  const nl = model.vocab.indexOf('\n');
  return nl >= 0 ? nl : 0;
}

/**
 * Run `ids` through the model from `state`, one step at a time. Returns per-layer h and tanh(c)
 * ([T, H]), log-probabilities after every step ([T, V]) and the final state. Call inside tf.tidy.
 */
function runChunk(model: CharModel, ids: tf.Tensor1D, state: LayerState[]): { acts: tf.Tensor2D[]; logp: tf.Tensor2D; state: LayerState[] } {
  const T = ids.shape[0];
  const { cell } = model;
  const H = model.spec.hidden;
  let x = tf.gather(model.embedding, ids) as tf.Tensor2D;
  const acts: tf.Tensor2D[] = [];
  const next: LayerState[] = [];
  model.layers.forEach((w, l) => {
    // One input projection for the chunk, then one split (cheap SplitV rather than T slices).
    const xp = tf.reshape(projectInputs(w, tf.expandDims(x, 0) as tf.Tensor3D), [T, -1]);
    const steps = tf.split(xp, T, 0) as tf.Tensor2D[];
    const hs: tf.Tensor2D[] = [];
    const cs: tf.Tensor2D[] = [];
    let s = state[l]!;
    for (let t = 0; t < T; t++) {
      const prev = s;
      // Inner tidy: only the new state survives the step (bounded memory within a chunk).
      s = tf.tidy(() => cellStep(cell, w, steps[t]!, prev));
      hs.push(s[0]!);
      if (cell === 'lstm') cs.push(s[1]!);
    }
    const h = tf.concat(hs, 0) as tf.Tensor2D;
    acts.push(h);
    if (cell === 'lstm') acts.push(tf.tanh(tf.concat(cs, 0)) as tf.Tensor2D);
    next.push(s);
    x = h;
  });
  const logits = tf.add(tf.matMul(tf.reshape(x, [T, H]), model.outKernel), model.outBias) as tf.Tensor2D;
  return { acts, logp: tf.logSoftmax(logits) as tf.Tensor2D, state: next };
}

/**
 * Inspect `text` with `model` in one pass, yielding chunks in order. The model starts from zero
 * state after the start marker (an implicit '\n', or the first vocabulary character if it has no
 * newline: the same start as the sampler without a prime).
 */
export async function* inspectText(model: CharModel, text: string, opts: InspectOptions = {}): AsyncGenerator<InspectChunk, void> {
  if (!model.recurrent) throw new CharmerError('BAD_OPTION', 'This is a Transformer model: it has no recurrent cells to show. Inspect its attention instead.');
  const V = model.vocab.size;
  const k = Math.max(1, Math.min(Math.floor(opts.topK ?? 5), V));
  const chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? 2000));
  if (!Number.isFinite(k) || !Number.isFinite(chunkSize)) throw new CharmerError('BAD_OPTION', 'topK and chunkSize must be whole numbers of at least 1.');
  const chars: string[] = [];
  const idList: number[] = [];
  for (const ch of text) {
    const i = model.vocab.indexOf(ch);
    if (i >= 0) {
      chars.push(ch);
      idList.push(i);
    } else if (!opts.skipUnknown) throw unknownCharactersError(model.vocab.unknown(text));
  }
  const ids = Int32Array.from(idList);
  const { cell } = model;
  const H = model.spec.hidden;
  const kinds: ActivationKind[] = cell === 'lstm' ? ['h', 'c'] : ['h'];

  // Read the start marker: the state after it and its prediction for the first character.
  let { state, lastLogp } = tf.tidy(() => {
    const r = runChunk(model, tf.tensor1d([startId(model)], 'int32'), model.zeroState(1));
    return { state: r.state, lastLogp: r.logp };
  });
  try {
    for (let start = 0; start < ids.length; start += chunkSize) {
      if (opts.signal?.aborted) return;
      const T = Math.min(chunkSize, ids.length - start);
      const loss = new Float32Array(T);
      const topP = new Float32Array(T * k);
      const topI = new Int32Array(T * k);
      const acts = Array.from({ length: model.spec.layers * kinds.length }, () => new Float32Array(T * H));
      // Compute in short blocks, each its own tidy: TF.js's cost per op grows with the number of
      // tensors alive in the scope (measured on wasm, 2x128 LSTM: 4,700 chars/s with 64-step
      // blocks, 1,200 with 256, 230 with 2,000), so a chunk is never one tidy.
      for (let b = 0; b < T; b += BLOCK) {
        if (b > 0 && opts.signal?.aborted) return;
        const blockIds = ids.subarray(start + b, start + Math.min(T, b + BLOCK));
        const n = blockIds.length;
        const prevState = state;
        const prevLogp = lastLogp;
        const out = tf.tidy(() => {
          const idt = tf.tensor1d(blockIds, 'int32');
          const r = runChunk(model, idt, prevState);
          // The prediction for character i comes from after character i-1 (the carried one for i = 0).
          const before = n > 1 ? tf.concat([prevLogp, tf.slice(r.logp, [0, 0], [n - 1, V])], 0) : prevLogp;
          const flat = tf.tensor1d(
            blockIds.map((id, i) => i * V + id),
            'int32',
          );
          const top = tf.topk(r.logp, k);
          return {
            read: [tf.neg(tf.gather(tf.reshape(before, [-1]), flat)), tf.exp(top.values), top.indices, ...r.acts],
            state: r.state,
            last: tf.slice(r.logp, [n - 1, 0], [1, V]),
          };
        });
        disposeState(prevState);
        prevLogp.dispose();
        state = out.state as LayerState[];
        lastLogp = out.last as tf.Tensor2D;
        let data: tf.TypedArray[];
        try {
          // Read outside tidy (dataSync inside tidy is slow on wasm).
          data = (await Promise.all(out.read.map((t) => t.data()))) as tf.TypedArray[];
        } finally {
          for (const t of out.read) t.dispose();
        }
        loss.set(data[0]!, b);
        topP.set(data[1]!, b * k);
        topI.set(data[2]!, b * k);
        for (let a = 0; a < acts.length; a++) acts[a]!.set(data[3 + a]!, b * H);
        // data() resolves at once on CPU backends: give the event loop a turn (a stop, IPC).
        await new Promise((r) => setImmediate(r));
      }
      const guesses: Guess[][] = new Array(T);
      for (let i = 0; i < T; i++) {
        const row: Guess[] = new Array(k);
        for (let j = 0; j < k; j++) row[j] = { char: model.vocab.chars[topI[i * k + j]!]!, p: topP[i * k + j]! };
        guesses[i] = row;
      }
      const activations = acts.map((values, a) => {
        const layer = Math.floor(a / kinds.length);
        const kind = kinds[a % kinds.length]!;
        return { layer, kind, label: activationLabel(layer, kind), values };
      });
      yield { start, chars: chars.slice(start, start + T), loss, guesses, cell, hidden: H, activations };
    }
  } finally {
    disposeState(state);
    lastLogp.dispose();
  }
}

/** Join chunks (or run inspectText to the end) into one record. */
export async function collectInspection(chunks: AsyncIterable<InspectChunk> | Iterable<InspectChunk>): Promise<InspectResult> {
  const list: InspectChunk[] = [];
  for await (const c of chunks) list.push(c);
  return joinChunks(list);
}

function joinChunks(list: InspectChunk[]): InspectResult {
  const n = list.reduce((s, c) => s + c.chars.length, 0);
  const first = list[0];
  const loss = new Float32Array(n);
  const chars: string[] = [];
  const guesses: Guess[][] = [];
  const hidden = first?.hidden ?? 0;
  const activations: LayerActivations[] = (first?.activations ?? []).map((a) => ({ ...a, values: new Float32Array(n * hidden) }));
  let off = 0;
  for (const c of list) {
    loss.set(c.loss, off);
    for (const ch of c.chars) chars.push(ch);
    for (const g of c.guesses) guesses.push(g);
    c.activations.forEach((a, i) => activations[i]!.values.set(a.values, off * hidden));
    off += c.chars.length;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += loss[i]!;
  return { chars, loss, guesses, cell: first?.cell ?? 'lstm', hidden, activations, meanLoss: n > 0 ? sum / n : NaN };
}

// --- Finding interesting cells -------------------------------------------------------------------

export const TEXT_FEATURES: Readonly<Record<TextFeature, string>> = Object.freeze({
  inQuotes: 'inside double quotes',
  inBrackets: 'inside brackets or parentheses',
  linePosition: 'position in the line',
  afterNewline: 'right after a newline',
  inWord: 'inside a word',
});

/**
 * The features, aligned with the activations: value i describes the text just after reading
 * character i (an opening quote is inside the quotes, a closing one outside; a newline is at line
 * position 0 and is "right after a newline").
 */
export function textFeatures(chars: readonly string[]): Record<TextFeature, Float32Array> {
  const n = chars.length;
  const f = {
    inQuotes: new Float32Array(n),
    inBrackets: new Float32Array(n),
    linePosition: new Float32Array(n),
    afterNewline: new Float32Array(n),
    inWord: new Float32Array(n),
  };
  let quoted = false;
  let depth = 0;
  let col = 0;
  for (let i = 0; i < n; i++) {
    const ch = chars[i]!;
    if (ch === '"') quoted = !quoted;
    else if (ch === '\u201c') quoted = true;
    else if (ch === '\u201d') quoted = false;
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if ((ch === ')' || ch === ']' || ch === '}') && depth > 0) depth--;
    col = ch === '\n' ? 0 : col + 1;
    f.inQuotes[i] = quoted ? 1 : 0;
    f.inBrackets[i] = depth > 0 ? 1 : 0;
    f.linePosition[i] = col;
    f.afterNewline[i] = ch === '\n' ? 1 : 0;
    f.inWord[i] = /\p{L}/u.test(ch) ? 1 : 0;
  }
  return f;
}

export interface FindCellsOptions {
  /** How many to return (default 10). */
  top?: number;
  /** Only this feature (the best cells for it). */
  feature?: TextFeature;
  /** Let one cell appear once per feature instead of once overall (default false). */
  allFeatures?: boolean;
}

/**
 * Rank every cell by |Pearson correlation| between its activation and each text feature; return the
 * best, strongest first, each cell once (with its best feature) unless `allFeatures`. `text`, when
 * given, must be the characters inspected (the source's own characters are used otherwise).
 * Features that are constant over the text are skipped.
 */
export function findInterestingCells(
  source: InspectResult | readonly InspectChunk[],
  text?: string | readonly string[],
  opts: FindCellsOptions = {},
): CellMatch[] {
  const r = Array.isArray(source) ? joinChunks(source as InspectChunk[]) : (source as InspectResult);
  const chars = text === undefined ? r.chars : typeof text === 'string' ? [...text] : text;
  const n = r.chars.length;
  if (chars.length !== n) {
    throw new CharmerError('BAD_OPTION', `The text has ${chars.length} characters but the activations cover ${n}; pass the text that was inspected.`);
  }
  const all = textFeatures(chars);
  const names = (opts.feature ? [opts.feature] : (Object.keys(all) as TextFeature[])).filter((name) => {
    const v = all[name];
    for (let i = 1; i < n; i++) if (v[i] !== v[0]) return true;
    return false;
  });
  // Centre and normalise each feature once: corr = sum(x_c * f_n) / sqrt(sum(x_c^2)).
  const feats = names.map((name) => {
    const v = all[name];
    let mean = 0;
    for (let i = 0; i < n; i++) mean += v[i]!;
    mean /= n;
    const z = new Float64Array(n);
    let ss = 0;
    for (let i = 0; i < n; i++) {
      z[i] = v[i]! - mean;
      ss += z[i]! * z[i]!;
    }
    const s = Math.sqrt(ss);
    for (let i = 0; i < n; i++) z[i]! /= s;
    return z;
  });
  const H = r.hidden;
  const found: CellMatch[] = [];
  const sx = new Float64Array(H);
  const sxx = new Float64Array(H);
  const sxf = new Float64Array(H * feats.length);
  for (const a of r.activations) {
    sx.fill(0);
    sxx.fill(0);
    sxf.fill(0);
    const v = a.values;
    for (let i = 0; i < n; i++) {
      const row = i * H;
      for (let c = 0; c < H; c++) {
        const x = v[row + c]!;
        sx[c]! += x;
        sxx[c]! += x * x;
      }
      for (let f = 0; f < feats.length; f++) {
        const zf = feats[f]![i]!;
        if (zf === 0) continue;
        const o = f * H;
        for (let c = 0; c < H; c++) sxf[o + c]! += v[row + c]! * zf;
      }
    }
    for (let c = 0; c < H; c++) {
      // sum((x - mean) * z) = sum(x * z) since z sums to 0.
      const varSum = sxx[c]! - (sx[c]! * sx[c]!) / n;
      if (!(varSum > 1e-12 * n)) continue;
      const norm = Math.sqrt(varSum);
      const matches = feats.map((_, f) => ({ layer: a.layer, kind: a.kind, cell: c, feature: names[f]!, correlation: sxf[f * H + c]! / norm }));
      if (opts.allFeatures || opts.feature) found.push(...matches);
      else if (matches.length) found.push(matches.reduce((b, m) => (Math.abs(m.correlation) > Math.abs(b.correlation) ? m : b)));
    }
  }
  found.sort((a, b) => Math.abs(b.correlation) - Math.abs(a.correlation));
  return found.slice(0, opts.top ?? 10);
}

/** The best cells for every feature: { inQuotes: [...], ... } (each list strongest first). */
export function interestingCellsByFeature(
  source: InspectResult | readonly InspectChunk[],
  text?: string | readonly string[],
  top = 3,
): Record<TextFeature, CellMatch[]> {
  const r = Array.isArray(source) ? joinChunks(source as InspectChunk[]) : (source as InspectResult);
  const out = {} as Record<TextFeature, CellMatch[]>;
  for (const f of Object.keys(TEXT_FEATURES) as TextFeature[]) out[f] = findInterestingCells(r, text, { feature: f, top });
  return out;
}
