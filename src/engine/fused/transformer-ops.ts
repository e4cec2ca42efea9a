/**
 * The Transformer's fused ops, differentiable (tf.customGrad): causal multi-head self-attention,
 * LayerNorm and GELU, each one kernel forward and one backward on wasm and cpu
 * (./transformer-kernels.ts) and WGSL programs on webgpu (./transformer-webgpu.ts). Each returns
 * null where it has no kernels (tensorflow, or CHARMER_FUSED=0): the caller then runs its plain
 * TF.js reference, which the tests hold these to (outputs and gradients within 1e-4).
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerFusedKernels, runFused } from './kernels.ts';
import { gatherRows } from './sequence.ts';
import { registerTransformerKernels } from './transformer-kernels.ts';
import { gpuAttention, gpuAttentionGrad, gpuGelu, gpuGeluGrad, gpuLayerNorm, gpuLayerNormGrad, webgpuTransformer } from './transformer-webgpu.ts';

type Kind = 'host' | 'gpu' | null;

function kind(): Kind {
  if (typeof process !== 'undefined' && process.env?.CHARMER_FUSED === '0') return null;
  const name = tf.getBackend();
  if (registerTransformerKernels(name)) return 'host';
  return name === 'webgpu' && webgpuTransformer() ? 'gpu' : null;
}

/**
 * softmax(causal(Q·Kᵀ/√d))·V over all heads: qkv [B, T, 3C] (q, k, v side by side, head h in
 * columns h·d.. of each) -> [B, T, C]. The probabilities are kept for the backward pass
 * ([B, nh, T, T rounded up to 4] floats per layer).
 */
export function fusedCausalAttention(qkv: tf.Tensor3D, nHead: number): tf.Tensor3D | null {
  const k = kind();
  if (!k || qkv.dtype !== 'float32' || qkv.shape[2] % (3 * nHead) !== 0) return null;
  const f = tf.customGrad(((x: tf.Tensor3D, save: tf.GradSaveFunc) => {
    const [out, P] = k === 'host' ? (runFused('CharmerAttention', [x], { nh: nHead }) as [tf.Tensor3D, tf.Tensor]) : gpuAttention(x, nHead);
    save([x, P]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, [xs, Ps]: tf.Tensor[]) =>
        k === 'host' ? runFused('CharmerAttentionGrad', [dy, xs!, Ps!], { nh: nHead })[0]! : gpuAttentionGrad(dy as tf.Tensor3D, xs as tf.Tensor3D, Ps!, nHead),
    };
  }) as never) as unknown as (x: tf.Tensor3D) => tf.Tensor3D;
  return f(qkv);
}

/** LayerNorm over the last axis (biased variance, as PyTorch's nn.LayerNorm): x·γ + β normalised. */
export function fusedLayerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): tf.Tensor | null {
  const k = kind();
  if (!k || x.dtype !== 'float32') return null;
  const C = x.shape[x.shape.length - 1]!;
  const shape = x.shape;
  const f = tf.customGrad(((x2: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const [y, mean, rstd] = k === 'host' ? runFused('CharmerLayerNorm', [x2, g, b], { eps }) : gpuLayerNorm(x2, g, b, eps);
    save([x2, g, mean!, rstd!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, [xs, gs, ms, rs]: tf.Tensor[]) =>
        k === 'host' ? runFused('CharmerLayerNormGrad', [dy, xs!, gs!, ms!, rs!], {}) : gpuLayerNormGrad(dy as tf.Tensor2D, xs!, gs!, ms!, rs!),
    };
  }) as never) as unknown as (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D;
  const x2 = tf.reshape(x, [-1, C]) as tf.Tensor2D;
  return tf.reshape(f(x2, gamma, beta), shape);
}

/**
 * GELU, PyTorch's default exact form x·Φ(x). On wasm and cpu the forward also writes the
 * derivative, kept instead of x, so the backward is one multiply (it had recomputed the erf and
 * the exp: ~2% of a width-384 step, docs/PERFORMANCE.md); webgpu keeps x.
 */
export function fusedGelu<T extends tf.Tensor>(x: T): T | null {
  const k = kind();
  if (!k || x.dtype !== 'float32') return null;
  const f = tf.customGrad(((v: tf.Tensor, save: tf.GradSaveFunc) => {
    if (k === 'gpu') {
      save([v]);
      return { value: gpuGelu(v), gradFunc: (dy: tf.Tensor, [vs]: tf.Tensor[]) => gpuGeluGrad(dy, vs!) };
    }
    const [y, d] = runFused('CharmerGelu', [v], {});
    save([d!]);
    return { value: y!, gradFunc: (dy: tf.Tensor, [ds]: tf.Tensor[]) => runFused('CharmerGeluGrad', [dy, ds!], {})[0]! };
  }) as never) as unknown as (x: tf.Tensor) => T;
  return f(x);
}

/**
 * x·W + b for x [N, I] with the gradients as plain products (dx = dy·Wᵀ, dW = xᵀ·dy; the wasm
 * backend's BatchMatMul sends both to the FMA GEMM, packing Wᵀ from its own layout) and the bias
 * gradient as one column-sum pass (CharmerColumnSum), where tf.add's gradient would sum over axis 0
 * (wasm transposes first). Plain ops elsewhere.
 */
export function fusedDense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  if (kind() !== 'host' || !registerFusedKernels(tf.getBackend())) return tf.add(tf.matMul(x, w), b);
  const f = tf.customGrad(((xs: tf.Tensor2D, ws: tf.Tensor2D, bs: tf.Tensor1D, save: tf.GradSaveFunc) => {
    save([xs, ws]);
    return {
      value: tf.add(tf.matMul(xs, ws), bs),
      gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [
        tf.matMul(dy as tf.Tensor2D, sw as tf.Tensor2D, false, true),
        tf.matMul(sx as tf.Tensor2D, dy as tf.Tensor2D, true, false),
        runFused('CharmerColumnSum', [dy], { H: dy.shape[1]! })[0]!,
      ],
    };
  }) as never) as unknown as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;
  return f(x, w, b);
}

/** table[ids] as one row copy (wasm's GatherV2 is slow here: docs/PERFORMANCE.md), or null. */
export function fusedGatherRows(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D | null {
  if (kind() !== 'host' || ids.dtype !== 'int32' || !registerFusedKernels(tf.getBackend())) return null;
  return gatherRows(table, ids);
}

/**
 * x [B·T, C] + pos [T, C] for every row b, with pos's gradient as one column-sum pass over dy seen
 * as [B, T·C] instead of a tile and its gradient (docs/PERFORMANCE.md, "The Transformer"), or null.
 */
export function fusedAddPositions(x: tf.Tensor2D, pos: tf.Tensor2D, B: number): tf.Tensor2D | null {
  if (kind() !== 'host' || !registerFusedKernels(tf.getBackend())) return null;
  const [T, C] = pos.shape;
  const f = tf.customGrad(((xs: tf.Tensor2D, ps: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([]);
    return {
      value: tf.reshape(tf.add(tf.reshape(xs, [B, T, C]), ps), [B * T, C]),
      gradFunc: (dy: tf.Tensor) => [dy, tf.reshape(runFused('CharmerColumnSum', [tf.reshape(dy, [B, T * C])], { H: T * C })[0]!, [T, C])],
    };
  }) as never) as unknown as (x: tf.Tensor2D, p: tf.Tensor2D) => tf.Tensor2D;
  return f(x, pos);
}
