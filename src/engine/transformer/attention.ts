/**
 * Causal multi-head self-attention as ONE function of the fused q|k|v projection, so that faster
 * implementations (WebAssembly, WGSL) can replace the plain TF.js reference behind the same
 * signature without touching the model: `setAttentionImpl` swaps it, as `setSequenceImpl` does for
 * the recurrent layers. Every implementation must match `referenceCausalSelfAttention` (outputs
 * and gradients) within 1e-4.
 *
 * Layout (nanoGPT's): qkv [B, T, 3C] holds q, k, v side by side along the last axis; head h uses
 * columns h*hs .. (h+1)*hs of each, hs = C / nHead. Output [B, T, C], heads side by side, before
 * the output projection. No attention dropout: the model drops out after the projections, so every
 * implementation stays a pure function of qkv.
 */
import * as tf from '@tensorflow/tfjs-core';

export type AttentionImpl = (qkv: tf.Tensor3D, nHead: number) => tf.Tensor3D;

/** What a masked score adds before the softmax: exp of it is exactly 0 in float32. */
const MASKED = -1e9;

const masks = new Map<number, tf.Tensor2D>();

/** [T, T]: 0 on and below the diagonal, MASKED above it (the future). Cached per T for the process. */
export function causalMask(T: number): tf.Tensor2D {
  let m = masks.get(T);
  if (!m || m.isDisposed) {
    const values = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) values[i * T + j] = MASKED;
    m = tf.keep(tf.tensor2d(values, [T, T]));
    masks.set(T, m);
  }
  return m;
}

/** q, k, v as [B, nHead, T, hs]. */
export function splitHeads(qkv: tf.Tensor3D, nHead: number): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  const [B, T, C3] = qkv.shape;
  const C = C3 / 3;
  if (!Number.isInteger(C) || C % nHead !== 0) throw new Error(`attention: width ${C} is not a multiple of ${nHead} heads`);
  const hs = C / nHead;
  const parts = tf.split(qkv, 3, 2) as tf.Tensor3D[];
  return parts.map((p) => tf.transpose(tf.reshape(p, [B, T, nHead, hs]), [0, 2, 1, 3]) as tf.Tensor4D) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
}

/** softmax(q·kᵀ / sqrt(hs) + mask) per head: [B, nHead, T, T], row i over keys 0..i. */
export function attentionProbabilities(qkv: tf.Tensor3D, nHead: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [q, k] = splitHeads(qkv, nHead);
    const T = qkv.shape[1];
    const hs = q.shape[3];
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hs)), causalMask(T));
    return tf.softmax(scores) as tf.Tensor4D;
  });
}

/** The reference: plain TF.js ops, differentiated by autodiff, on any backend. */
export const referenceCausalSelfAttention: AttentionImpl = (qkv, nHead) => {
  const [B, T, C3] = qkv.shape;
  const [q, k, v] = splitHeads(qkv, nHead);
  const hs = q.shape[3];
  const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hs)), causalMask(T));
  const y = tf.matMul(tf.softmax(scores), v); // [B, nHead, T, hs]
  return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B, T, C3 / 3]) as tf.Tensor3D;
};

let impl: AttentionImpl = referenceCausalSelfAttention;

/** Replace the attention implementation (null: back to the reference). */
export function setAttentionImpl(next: AttentionImpl | null): void {
  impl = next ?? referenceCausalSelfAttention;
}

/**
 * Causal self-attention of qkv [B, T, 3C] with nHead heads: [B, T, C]. The model calls this and
 * nothing else for attention; its signature is the seam the fused kernels replace.
 */
export function causalSelfAttention(qkv: tf.Tensor3D, nHead: number): tf.Tensor3D {
  return impl(qkv, nHead);
}
