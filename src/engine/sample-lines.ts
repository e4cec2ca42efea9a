/**
 * Sampling a list model (lines mode): `count` items, batched, each row starting at the end-of-item
 * marker; category tokens are forced or drawn before the name and forbidden inside it.
 *
 * Guidance (categorised models, a category asked for): beside each row runs a contrasting row, the
 * same item written for the other values of the asked columns, and each character is drawn from
 * logits_asked + w * (logits_asked - logits_other): classifier-free guidance for language models
 * (Sanchez et al. 2023, "Stay on topic with classifier-free guidance"). It pushes the name away
 * from what the other values would also write (a girl's name asked for boys), using the model
 * only. docs/NAMES.md has the measurements behind the default.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CharmerError } from './errors.ts';
import type { CharModel } from './model.ts';
import { Rng } from './rng.ts';
import { resolveCategoryRequest } from './categories.ts';
import { describeChar } from './vocabulary.ts';
import { checkLineConstraints, DEFAULT_MAX_ITEM_LENGTH, disposeState, pick, primeState, stepBatch } from './sample.ts';
import type { Novelty } from '../common/enums.ts';
import type { LineSample, SampleLinesOptions } from '../common/samples.ts';
import { DEFAULT_GUIDANCE, MAX_GUIDANCE } from '../common/samples.ts';

/** The end-of-item index of a lines-mode model, after refusing what no item could satisfy. */
function linesRequestMarker(model: CharModel, opts: SampleLinesOptions): number {
  const marker = model.vocab.indexOf('\n');
  if (model.meta.mode !== 'lines' || marker < 0) {
    throw new CharmerError('NOT_LINES_MODEL', 'This model was trained on running text, not on a list of items. Generate text instead (a length, not a count).');
  }
  checkLineConstraints(opts);
  if (opts.guidance !== undefined && !(opts.guidance >= 0 && opts.guidance <= MAX_GUIDANCE)) {
    throw new CharmerError('BAD_OPTION', `The guidance must be between 0 (none) and ${MAX_GUIDANCE} (got ${opts.guidance}).`);
  }
  for (const [what, s] of [
    ['prefix', opts.prefix],
    ['contains', opts.contains],
    ['suffix', opts.suffix],
  ] as const) {
    const unknown = s ? model.vocab.unknown(s) : [];
    if (unknown.length) {
      throw new CharmerError(
        'UNKNOWN_CHARACTERS',
        `The ${what} text uses ${unknown.length === 1 ? 'a character' : 'characters'} the model never saw: ${unknown.map(describeChar).join(', ')}. No item could match it; change the ${what} to use only characters from the corpus.`,
        { chars: unknown, what },
      );
    }
  }
  return marker;
}

interface CategoryPlan {
  /** Per column, the token indices an item may be written for. */
  allowedIds: number[][];
  /** Per column, the token indices of the contrasting row: the values not asked for; null where the column was not asked (the contrasting row copies the item's). */
  otherIds: Array<number[] | null>;
  /** Category tokens, forbidden inside the name. */
  catMask?: Uint8Array;
}

/**
 * Categories: one step per column before the name, forced (one value) or drawn among the allowed
 * values; inside the name every category token is forbidden (`catMask`), so none reaches the text.
 */
function categoryPlan(model: CharModel, asked: string[]): CategoryPlan {
  const V = model.vocab.size;
  const spec = model.meta.categories;
  const r = resolveCategoryRequest(spec, asked);
  const allowedIds = r.allowed.map((toks) => toks.map((t) => model.vocab.indexOf(t)));
  let catMask: Uint8Array | undefined;
  if (spec) {
    catMask = new Uint8Array(V);
    for (const c of spec.columns) for (const t of c.tokens) if (model.vocab.indexOf(t) >= 0) catMask[model.vocab.indexOf(t)] = 1;
  }
  const otherIds = (spec?.columns ?? []).map((c, k) => {
    if (!(c.name in r.asked)) return null;
    const others = c.tokens.map((t) => model.vocab.indexOf(t)).filter((i) => i >= 0 && !allowedIds[k]!.includes(i));
    return others.length ? others : null;
  });
  return { allowedIds, otherIds, catMask };
}

function maskAllowing(V: number, ids: number[]): Uint8Array {
  const m = new Uint8Array(V).fill(1);
  for (const i of ids) m[i] = 0;
  return m;
}

/** The model's own log-probability (temperature 1) of `index` at logits[off .. off+V). */
function logprobAt(logits: Float32Array, off: number, V: number, index: number): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (logits[off + j]! > max) max = logits[off + j]!;
  let z = 0;
  for (let j = 0; j < V; j++) z += Math.exp(logits[off + j]! - max);
  return logits[off + index]! - max - Math.log(z);
}

interface Row {
  ids: number[];
  cats: number[];
  step: number;
  logprob: number;
  done: boolean;
  dead: boolean;
}

/**
 * Generate `count` items (lines mode), batched: every row starts at the marker, a row ends when it
 * draws the marker. The marker is forbidden before minLength; rows past maxLength are dropped.
 */
export async function sampleLines(model: CharModel, opts: SampleLinesOptions): Promise<LineSample[]> {
  const marker = linesRequestMarker(model, opts);
  const rng = new Rng(opts.seed ?? (Math.random() * 2 ** 31) >>> 0);
  const prefix = opts.prefix ? model.vocab.encode(opts.prefix) : new Uint16Array(0);
  const spec = model.meta.categories;
  const plan = categoryPlan(model, opts.categories ?? []);
  const w = opts.guidance ?? DEFAULT_GUIDANCE;
  const guided = w > 0 && plan.otherIds.some((o) => o !== null);
  // A name that differs from a listed one only in case ("stripe", "STRIPE") is not new.
  const train = new Set([...(opts.items?.train ?? [])].map((s) => s.toLowerCase()));
  const val = new Set([...(opts.items?.val ?? [])].map((s) => s.toLowerCase()));
  const unique = opts.unique ?? true;
  const found = new Set<string>();
  const results: LineSample[] = [];
  const tokenValue = new Map<number, [string, string]>();
  spec?.columns.forEach((c) => c.tokens.forEach((t, i) => tokenValue.set(model.vocab.indexOf(t), [c.name, c.values[i]!])));
  // Rejection (duplicates, filters, new-only) needs more candidates than items asked for.
  for (let round = 0; round < 30 && results.length < opts.count; round++) {
    if (opts.signal?.aborted) break;
    const need = opts.count - results.length;
    const batch = Math.min(2048, Math.max(16, Math.ceil(need * (round === 0 ? 1.3 : 2 + round))));
    const rows = await sampleRound(model, { ...opts, marker, prefix, plan, guidance: guided ? w : 0 }, batch, rng);
    for (const row of rows) {
      if (!row.done || results.length >= opts.count) continue;
      const text = model.vocab.decode(row.ids);
      if (opts.contains && !text.includes(opts.contains)) continue;
      if (opts.suffix && !text.endsWith(opts.suffix)) continue;
      const lower = text.toLowerCase();
      const novelty: Novelty = train.has(lower) ? 'train' : val.has(lower) ? 'val' : 'new';
      if (opts.newOnly && novelty !== 'new') continue;
      if (unique && found.has(text)) continue;
      const item: LineSample = { text, logprob: row.logprob, novelty };
      if (spec) item.category = Object.fromEntries(row.cats.map((i) => tokenValue.get(i)!));
      found.add(text);
      results.push(item);
    }
  }
  return results;
}

interface RoundOptions extends Omit<SampleLinesOptions, 'prefix'> {
  marker: number;
  prefix: Uint16Array;
  plan: CategoryPlan;
  /** 0: no contrasting rows. */
  guidance: number;
}

/**
 * One batch of `batch` items. Rows [0, batch) are the items; with guidance, row batch + i is the
 * contrasting row of item i: written for the other values of the asked columns, then fed the
 * item's characters, so the two differ only in the asked categories.
 */
async function sampleRound(model: CharModel, o: RoundOptions, batch: number, rng: Rng): Promise<Row[]> {
  const V = model.vocab.size;
  const { allowedIds, otherIds, catMask } = o.plan;
  const guided = o.guidance > 0;
  const temperature = o.temperature ?? 1;
  const minLength = Math.max(o.minLength ?? 1, o.prefix.length);
  const maxLength = o.maxLength ?? DEFAULT_MAX_ITEM_LENGTH;
  // The leading columns with one value and (when every column has one) the prefix are the same for
  // every item: they are primed once; the rest is planned per row. Contrasting rows are written
  // for other values, so with guidance nothing is primed in common.
  let lead = 0;
  while (!guided && lead < allowedIds.length && allowedIds[lead]!.length === 1) lead++;
  const primeAll = lead === allowedIds.length;
  const commonIds = [...allowedIds.slice(0, lead).map((ids) => ids[0]!), ...(primeAll ? o.prefix : [])];
  const catSteps = allowedIds.length - lead;
  const stepMasks = allowedIds.slice(lead).map((ids) => maskAllowing(V, ids));
  const otherMasks = otherIds.slice(lead).map((ids) => (ids ? maskAllowing(V, ids) : null));
  const planChars = primeAll ? [] : [...o.prefix];
  const total = guided ? 2 * batch : batch;
  const rows: Row[] = Array.from({ length: total }, () => ({
    ids: (primeAll ? [...o.prefix] : []) as number[],
    cats: allowedIds.slice(0, lead).map((ids) => ids[0]!) as number[],
    step: 0,
    logprob: 0,
    done: false,
    dead: false,
  }));
  let { state, logits } = await primeState(model, Uint16Array.of(o.marker, ...commonIds), total);
  // Position p of the running batch holds rows[active[p]]. Finished rows are dropped from the
  // batch (their state rows gathered away) once a quarter of it has finished, so the work
  // follows the characters still being written, not the longest item (1,000 names from a
  // 2x128 model: ~1.0 s -> well under 1 s). Rows keep their order: the draws are unchanged.
  let active = Array.from({ length: total }, (_, b) => b);
  const posOf = new Int32Array(total);
  const mixed = new Float32Array(V);
  try {
    for (let t = 0; t <= maxLength + catSteps + planChars.length; t++) {
      active.forEach((r, p) => (posOf[r] = p));
      let next = new Int32Array(active.length);
      const keep: number[] = [];
      for (let p = 0; p < active.length; p++) {
        const i = active[p]!;
        if (i >= batch) continue; // a contrasting row moves with its item, below
        const row = rows[i]!;
        const q = guided ? posOf[i + batch]! : -1;
        const twin = guided ? rows[i + batch]! : null;
        let index: number;
        if (row.done || row.dead) index = o.marker;
        else if (row.step < catSteps + planChars.length) {
          const s = row.step++;
          if (s >= catSteps) row.ids.push((index = planChars[s - catSteps]!));
          else row.cats.push((index = pick(logits, p * V, V, temperature, 0, rng, -1, stepMasks[s]).index));
          if (twin) {
            twin.step++;
            const om = s < catSteps ? otherMasks[s] : null;
            next[q] = om ? pick(logits, q * V, V, temperature, 0, rng, -1, om).index : index;
          }
          next[p] = index;
          keep.push(p);
          if (twin) keep.push(q);
          continue;
        } else {
          let src = logits;
          let off = p * V;
          if (twin) {
            for (let j = 0; j < V; j++) mixed[j] = logits[p * V + j]! + o.guidance * (logits[p * V + j]! - logits[q * V + j]!);
            src = mixed;
            off = 0;
          }
          index = pick(src, off, V, temperature, o.topK ?? 0, rng, row.ids.length < minLength ? o.marker : -1, catMask).index;
          row.logprob += logprobAt(logits, p * V, V, index);
          if (index === o.marker) row.done = true;
          else if (row.ids.length >= maxLength) row.dead = true;
          else {
            row.ids.push(index);
            keep.push(p);
            if (twin) keep.push(q);
          }
        }
        next[p] = index;
        if (twin) next[q] = index;
      }
      if (keep.length === 0) break;
      keep.sort((a, b) => a - b);
      if (keep.length <= 0.75 * active.length) {
        const idx = tf.tensor1d(keep, 'int32');
        const compact = state.map((l) => l.map((s) => tf.gather(s, idx) as tf.Tensor2D));
        idx.dispose();
        disposeState(state);
        state = compact;
        next = Int32Array.from(keep, (p) => next[p]!);
        active = keep.map((p) => active[p]!);
      }
      ({ state, logits } = await stepBatch(model, next, state));
    }
  } finally {
    disposeState(state);
  }
  return rows.slice(0, batch);
}
