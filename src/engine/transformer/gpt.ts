/**
 * The Transformer's own functions over the LayersModel's variables (./layers.ts): the forward pass
 * used for training, evaluation and the prime of a sample (which also returns every layer's keys
 * and values), and a one-position step that reads those keys and values from a cache instead of
 * re-running the context. Attention itself is `causalSelfAttention` (./attention.ts), the seam the
 * fused kernels replace.
 *
 * Sampling state (the `LayerState[]` the RNNs carry, so the shared sampling code needs no branch):
 * one entry per block, [keys, values] each [B, t*C], then [ids] [B, t] (float), the characters of
 * the window. When the window is full (t = blockSize) the next step slides it: it keeps the last
 * `slideKeep(blockSize)` characters (half) and re-runs them once (positions are absolute, so cached keys
 * cannot be shifted); `windowStart` states the rule, so a full re-run can reproduce any step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerState } from '../recurrent.ts';
import { Rng } from '../rng.ts';
import { attentionProbabilities, causalSelfAttention } from './attention.ts';
import { LN_EPSILON, type GptShape } from './layers.ts';
import { fusedAddPositions, fusedDense, fusedGatherRows, fusedGelu, fusedLayerNorm } from '../fused/transformer-ops.ts';

type V = tf.Variable;

export interface GptBlock {
  ln1Gamma: V;
  ln1Beta: V;
  qkvKernel: V;
  qkvBias: V;
  projKernel: V;
  projBias: V;
  ln2Gamma: V;
  ln2Beta: V;
  fcKernel: V;
  fcBias: V;
  mlpKernel: V;
  mlpBias: V;
}

export interface GptWeights {
  tokens: V;
  positions: V;
  blocks: GptBlock[];
  lnfGamma: V;
  lnfBeta: V;
  outKernel: V;
  outBias: V;
}

/** The weights by their LayersModel names (see buildGptLayersModel). */
export function gptWeights(get: (name: string) => V, layers: number): GptWeights {
  return {
    tokens: get('embedding/embeddings'),
    positions: get('position/embeddings'),
    blocks: Array.from({ length: layers }, (_, l) => ({
      ln1Gamma: get(`h${l}_ln_1/gamma`),
      ln1Beta: get(`h${l}_ln_1/beta`),
      qkvKernel: get(`h${l}_attn/qkv_kernel`),
      qkvBias: get(`h${l}_attn/qkv_bias`),
      projKernel: get(`h${l}_attn/proj_kernel`),
      projBias: get(`h${l}_attn/proj_bias`),
      ln2Gamma: get(`h${l}_ln_2/gamma`),
      ln2Beta: get(`h${l}_ln_2/beta`),
      fcKernel: get(`h${l}_mlp_fc/kernel`),
      fcBias: get(`h${l}_mlp_fc/bias`),
      mlpKernel: get(`h${l}_mlp_proj/kernel`),
      mlpBias: get(`h${l}_mlp_proj/bias`),
    })),
    lnfGamma: get('ln_f/gamma'),
    lnfBeta: get('ln_f/beta'),
    outKernel: get('output/kernel'),
    outBias: get('output/bias'),
  };
}

/**
 * nanoGPT's initialisation: weights normal(0, 0.02), the projections back into the residual stream
 * 0.02 / sqrt(2 * layers) (so the stream's variance does not grow with depth), biases 0,
 * LayerNorm gains 1. Seeded.
 */
export function initGpt(w: GptWeights, seed: number): void {
  const rng = new Rng(seed);
  const normal = (v: V, std: number) => {
    const a = new Float32Array(v.size);
    for (let i = 0; i < a.length; i += 2) {
      // Box-Muller: two normals from two uniforms.
      const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
      const t = 2 * Math.PI * rng.next();
      a[i] = r * Math.cos(t) * std;
      if (i + 1 < a.length) a[i + 1] = r * Math.sin(t) * std;
    }
    tf.tidy(() => v.assign(tf.tensor(a, v.shape)));
  };
  const fill = (v: V, x: number) => tf.tidy(() => v.assign(tf.fill(v.shape, x)));
  const residual = 0.02 / Math.sqrt(2 * w.blocks.length);
  normal(w.tokens, 0.02);
  normal(w.positions, 0.02);
  for (const b of w.blocks) {
    for (const g of [b.ln1Gamma, b.ln2Gamma]) fill(g, 1);
    for (const z of [b.ln1Beta, b.ln2Beta, b.qkvBias, b.projBias, b.fcBias, b.mlpBias]) fill(z, 0);
    normal(b.qkvKernel, 0.02);
    normal(b.fcKernel, 0.02);
    normal(b.projKernel, residual);
    normal(b.mlpKernel, residual);
  }
  fill(w.lnfGamma, 1);
  fill(w.lnfBeta, 0);
  normal(w.outKernel, 0.02);
  fill(w.outBias, 0);
}

export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LN_EPSILON))), gamma), beta) as tf.Tensor2D;
}

/** Exact GELU (erf), as nanoGPT's nn.GELU() and TF.js's 'gelu' activation. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

// The fused kernels where the backend has them (src/engine/fused/transformer-ops.ts: one kernel
// each way on wasm, cpu and webgpu), else the plain ops above; CHARMER_FUSED=0 forces the latter.
const dense = (x: tf.Tensor2D, k: tf.Tensor, b: tf.Tensor): tf.Tensor2D => fusedDense(x, k as tf.Tensor2D, b as tf.Tensor1D);
const norm = (x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor2D =>
  (fusedLayerNorm(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, LN_EPSILON) as tf.Tensor2D | null) ?? layerNorm(x, gamma, beta);
const act = (x: tf.Tensor): tf.Tensor => fusedGelu(x) ?? gelu(x);
const addPositions = (x: tf.Tensor2D, pos: tf.Tensor2D, B: number): tf.Tensor2D =>
  fusedAddPositions(x, pos, B) ?? (tf.add(x, tf.tile(pos, [B, 1])) as tf.Tensor2D);
const embed = (tokens: tf.Tensor, ids: tf.Tensor1D): tf.Tensor2D => fusedGatherRows(tokens as tf.Tensor2D, ids) ?? (tf.gather(tokens, ids) as tf.Tensor2D);

export interface GptForward {
  /** [B*T, V]. */
  logits: tf.Tensor2D;
  /** Per block: keys and values [B, T, C] (for the sampling cache). */
  kv: Array<{ k: tf.Tensor3D; v: tf.Tensor3D }>;
}

export interface ForwardOptions {
  /** Dropout on (training): the seed of this step. */
  dropoutSeed?: number;
  dropout?: number;
  /** Called with each block's q|k|v [B, T, 3C] (Inspect's attention maps). */
  onQkv?: (layer: number, qkv: tf.Tensor3D) => void;
}

/** Logits for every position of ids [B, T] (T at most blockSize), from position 0. */
export function gptForward(w: GptWeights, s: GptShape, ids: tf.Tensor2D, opts: ForwardOptions = {}): GptForward {
  const [B, T] = ids.shape;
  const C = s.width;
  if (T > s.blockSize) throw new Error(`gptForward: ${T} positions, block size ${s.blockSize}`);
  const rate = opts.dropoutSeed !== undefined ? (opts.dropout ?? s.dropout) : 0;
  let k = 0;
  const drop = (x: tf.Tensor2D) => (rate > 0 ? (tf.dropout(x, rate, undefined, opts.dropoutSeed! + k++) as tf.Tensor2D) : x);
  const pos = tf.slice(w.positions, [0, 0], [T, C]) as tf.Tensor2D;
  let x = drop(addPositions(embed(w.tokens, tf.reshape(ids, [-1]) as tf.Tensor1D), pos, B)); // [B*T, C]
  const qkvs: tf.Tensor3D[] = [];
  w.blocks.forEach((b, l) => {
    const qkv = tf.reshape(dense(norm(x, b.ln1Gamma, b.ln1Beta), b.qkvKernel, b.qkvBias), [B, T, 3 * C]) as tf.Tensor3D;
    opts.onQkv?.(l, qkv);
    qkvs.push(qkv);
    const y = tf.reshape(causalSelfAttention(qkv, s.heads), [B * T, C]) as tf.Tensor2D;
    x = tf.add(x, drop(dense(y, b.projKernel, b.projBias))) as tf.Tensor2D;
    const m = dense(act(dense(norm(x, b.ln2Gamma, b.ln2Beta), b.fcKernel, b.fcBias)) as tf.Tensor2D, b.mlpKernel, b.mlpBias);
    x = tf.add(x, drop(m)) as tf.Tensor2D;
  });
  // Keys and values split off only when asked for (the sampling cache): in training the split
  // cost a noticeable share of a step (docs/PERFORMANCE.md) for tensors nobody read.
  const logits = dense(norm(x, w.lnfGamma, w.lnfBeta), w.outKernel, w.outBias);
  return {
    logits,
    get kv() {
      return qkvs.map((q) => {
        const [, k, v] = tf.split(q, 3, 2) as tf.Tensor3D[];
        return { k: k!, v: v! };
      });
    },
  };
}

/**
 * Characters kept when a full window slides (then re-run once): half of it. The re-run costs about
 * one batched position per character sampled since the last slide; keeping three quarters doubled
 * that for a little more context.
 */
export function slideKeep(blockSize: number): number {
  return Math.max(1, Math.floor(blockSize / 2));
}

/**
 * Where the window starts when the model predicts the character after position n (0-based) of a
 * stream: 0 until the block is full, then it jumps forward by blockSize - slideKeep each time the
 * window would overflow. The cached step and a prime longer than the block both follow it.
 */
export function windowStart(n: number, blockSize: number): number {
  if (n < blockSize) return 0;
  // A slide at token n restarts the window at n - keep + 1, so starts are multiples of `hop`, and
  // slide j happens when the window from start (j-1)*hop would reach blockSize + 1 characters.
  const hop = blockSize - slideKeep(blockSize) + 1;
  return (1 + Math.floor((n - blockSize) / hop)) * hop;
}

/** The sampling state after running ids [B, T] (T <= blockSize): caches and the window's ids. */
export function prefillState(f: GptForward, ids: tf.Tensor2D): LayerState[] {
  const B = ids.shape[0];
  const state: LayerState[] = f.kv.map(({ k, v }) => [tf.reshape(k, [B, -1]) as tf.Tensor2D, tf.reshape(v, [B, -1]) as tf.Tensor2D]);
  state.push([tf.cast(ids, 'float32') as tf.Tensor2D]);
  return state;
}

/**
 * Logits [B, V] for one more character per row, and the next state. Cached: one position's worth
 * of products per block plus attention over the window's keys; a full window slides (re-run once).
 */
export function gptStep(w: GptWeights, s: GptShape, ids: tf.Tensor1D, state: LayerState[]): { logits: tf.Tensor2D; state: LayerState[] } {
  const window = state[state.length - 1]![0]!;
  const [B, t] = window.shape;
  const C = s.width;
  const H = s.heads;
  const hs = C / H;
  if (t >= s.blockSize) {
    const keep = slideKeep(s.blockSize);
    const kept = tf.concat([tf.slice(window, [0, t - keep + 1], [B, keep - 1]), tf.reshape(tf.cast(ids, 'float32'), [B, 1])], 1);
    const idsInt = tf.cast(kept, 'int32') as tf.Tensor2D;
    const f = gptForward(w, s, idsInt);
    const last = tf.reshape(tf.slice(tf.reshape(f.logits, [B, keep, -1]), [0, keep - 1, 0], [B, 1, -1]), [B, -1]) as tf.Tensor2D;
    return { logits: last, state: prefillState(f, idsInt) };
  }
  let x = tf.add(embed(w.tokens, ids), tf.slice(w.positions, [t, 0], [1, C])) as tf.Tensor2D; // [B, C]
  const next: LayerState[] = [];
  w.blocks.forEach((b, l) => {
    const qkv = dense(norm(x, b.ln1Gamma, b.ln1Beta), b.qkvKernel, b.qkvBias);
    const [q, k, v] = tf.split(qkv, 3, 1) as tf.Tensor2D[];
    const K = tf.concat([state[l]![0]!, k!], 1) as tf.Tensor2D; // [B, (t+1)*C]
    const Vv = tf.concat([state[l]![1]!, v!], 1) as tf.Tensor2D;
    next.push([K, Vv]);
    const heads = (m: tf.Tensor2D) => tf.transpose(tf.reshape(m, [B, t + 1, H, hs]), [0, 2, 1, 3]); // [B, H, t+1, hs]
    const qh = tf.reshape(q!, [B, H, 1, hs]);
    const p = tf.softmax(tf.mul(tf.matMul(qh, heads(K), false, true), 1 / Math.sqrt(hs))); // [B, H, 1, t+1]
    const y = tf.reshape(tf.matMul(p, heads(Vv)), [B, C]) as tf.Tensor2D;
    x = tf.add(x, dense(y, b.projKernel, b.projBias)) as tf.Tensor2D;
    x = tf.add(x, dense(act(dense(norm(x, b.ln2Gamma, b.ln2Beta), b.fcKernel, b.fcBias)) as tf.Tensor2D, b.mlpKernel, b.mlpBias)) as tf.Tensor2D;
  });
  next.push([tf.concat([window, tf.reshape(tf.cast(ids, 'float32'), [B, 1])], 1) as tf.Tensor2D]);
  return { logits: dense(norm(x, w.lnfGamma, w.lnfBeta), w.outKernel, w.outBias), state: next };
}

/** The ids of the window a prime of this length leaves (windowStart's rule). */
export function primeWindow(ids: Uint16Array, blockSize: number): Uint16Array {
  return ids.subarray(windowStart(ids.length - 1, blockSize));
}

/**
 * Attention probabilities of every head of every block for a text of at most blockSize ids:
 * maps[layer][head] is [T, T] row-major, row i (the position attending) over columns 0..i.
 */
export async function gptAttentionMaps(w: GptWeights, s: GptShape, ids: ArrayLike<number>): Promise<Float32Array[][]> {
  const T = ids.length;
  const probs: tf.Tensor4D[] = [];
  tf.tidy(() => {
    const x = tf.tensor2d(Int32Array.from(ids), [1, T], 'int32');
    gptForward(w, s, x, { onQkv: (_, qkv) => probs.push(tf.keep(attentionProbabilities(qkv, s.heads))) });
  });
  const out: Float32Array[][] = [];
  for (const p of probs) {
    const data = (await p.data()) as Float32Array;
    p.dispose();
    out.push(Array.from({ length: s.heads }, (_, h) => data.slice(h * T * T, (h + 1) * T * T)));
  }
  return out;
}
