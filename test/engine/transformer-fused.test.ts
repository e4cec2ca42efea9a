/**
 * The Transformer's fused ops (src/engine/fused/transformer-ops.ts) against plain TF.js references:
 * causal multi-head attention, LayerNorm and GELU, outputs and every gradient within 1e-4 relative
 * (max |difference| over max |reference|), on cpu and wasm (the FMA GEMM path and the loop path),
 * and on webgpu (WGSL programs; skipped with a note where no adapter exists). Shapes include a
 * context that is not a multiple of 4 and a head size that is not (the loop path on wasm), and one
 * row longer than a workgroup on webgpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/engine/backend.ts';
import { gemmFor, setFmaGemm } from '../../src/engine/fused/gemm.ts';
import { wasmMemoryOf } from '../../src/engine/fused/heap.ts';
import { transformerSimdFor } from '../../src/engine/fused/transformer-simd.ts';
import { fusedCausalAttention, fusedGelu, fusedLayerNorm } from '../../src/engine/fused/transformer-ops.ts';
import { runFused } from '../../src/engine/fused/kernels.ts';
import { backendOrSkip } from './backend-or-skip.ts';
import { benchModel } from '../../src/bench/harness.ts';
import { shardGradients } from '../../src/engine/train.ts';

/** The plain-ops attention: split, heads, masked scaled scores, softmax, weighted values. */
export function referenceAttention(qkv: tf.Tensor3D, nh: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T, C3] = qkv.shape;
    const C = C3 / 3;
    const d = C / nh;
    const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, nh, d]), [0, 2, 1, 3]);
    const [q, k, v] = tf.split(qkv, 3, 2).map(heads) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d));
    const mask = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
    const masked = tf.add(scores, tf.mul(tf.sub(1, mask), -1e9));
    const o = tf.matMul(tf.softmax(masked), v);
    return tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B, T, C]) as tf.Tensor3D;
  });
}
function referenceLayerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), g), b);
}
const referenceGelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));

async function relErr(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  expect(a.shape).toEqual(b.shape);
  const [x, y] = [await a.data(), await b.data()];
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < y.length; i++) {
    diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return diff / scale;
}

/** Value and gradients of Σ f(inputs)·w for a fixed random w (every output element gets a gradient). */
function withGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], seed: number): tf.Tensor[] {
  return tf.tidy(() => {
    const y = f(...xs);
    const w = tf.randomNormal(y.shape, 0, 1, 'float32', seed);
    const grads = tf.grads((...ins: tf.Tensor[]) => tf.sum(tf.mul(f(...ins), w)))(xs);
    return [y, ...grads];
  });
}

async function expectClose(got: tf.Tensor[], want: tf.Tensor[], what: string): Promise<void> {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) expect(await relErr(got[i]!, want[i]!), `${what}: ${i === 0 ? 'output' : `gradient ${i}`}`).toBeLessThan(1e-4);
  tf.dispose([...got, ...want]);
}

const ATTENTION_CASES: Array<[B: number, T: number, C: number, nh: number]> = [
  [2, 7, 16, 2], // T not a multiple of 4
  [3, 16, 32, 4],
  [2, 9, 12, 2], // head size 6: the loop path on wasm
  [1, 1, 8, 1],
];

async function attentionCase([B, T, C, nh]: [number, number, number, number], seed: number, what: string): Promise<void> {
  const qkv = tf.randomNormal([B, T, 3 * C], 0, 1, 'float32', seed) as tf.Tensor3D;
  const want = withGrads((x) => referenceAttention(x as tf.Tensor3D, nh), [qkv], seed + 1);
  const got = withGrads((x) => fusedCausalAttention(x as tf.Tensor3D, nh)!, [qkv], seed + 1);
  await expectClose(got, want, `${what} attention [${B},${T},${C}] ${nh} heads`);
  qkv.dispose();
}

async function layerNormCase(N: number, C: number, seed: number, what: string): Promise<void> {
  const x = tf.add(tf.randomNormal([2, N, C], 0, 2, 'float32', seed), 0.7);
  const g = tf.randomNormal([C], 1, 0.3, 'float32', seed + 1);
  const b = tf.randomNormal([C], 0, 0.3, 'float32', seed + 2);
  const want = withGrads((a, gg, bb) => referenceLayerNorm(a!, gg!, bb!), [x, g, b], seed + 3);
  const got = withGrads((a, gg, bb) => fusedLayerNorm(a!, gg as tf.Tensor1D, bb as tf.Tensor1D)!, [x, g, b], seed + 3);
  await expectClose(got, want, `${what} layerNorm [2,${N},${C}]`);
  tf.dispose([x, g, b]);
}

async function geluCase(n: number, seed: number, what: string): Promise<void> {
  const x = tf.mul(tf.randomNormal([n, 3], 0, 1, 'float32', seed), 3);
  const want = withGrads((a) => referenceGelu(a!), [x], seed + 1);
  const got = withGrads((a) => fusedGelu(a!)!, [x], seed + 1);
  await expectClose(got, want, `${what} gelu [${n},3]`);
  x.dispose();
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`Transformer fused ops on ${backend}`, () => {
    it('causal attention: output and the gradient of qkv equal the plain ops', async () => {
      await chooseBackend(backend);
      if (backend === 'wasm') {
        // The fast paths these cases go through must load here (else the loops would be tested twice).
        const memory = wasmMemoryOf(tf.backend() as never);
        expect(gemmFor(memory)).not.toBeNull();
        expect(transformerSimdFor(memory)).not.toBeNull();
      }
      for (const [i, c] of ATTENTION_CASES.entries()) await attentionCase(c, 10 + i, backend);
      if (backend === 'wasm') {
        setFmaGemm(false); // the loop path, as where relaxed SIMD is missing
        try {
          for (const [i, c] of ATTENTION_CASES.entries()) await attentionCase(c, 20 + i, 'wasm (no FMA GEMM)');
        } finally {
          setFmaGemm(true);
        }
      }
    });

    it('LayerNorm: output and the gradients of x, gamma and beta equal the plain ops', async () => {
      await chooseBackend(backend);
      await layerNormCase(5, 16, 1, backend); // C % 4 == 0: SIMD rows on wasm
      await layerNormCase(3, 7, 2, backend);
    });

    it('GELU (exact, erf): output and gradient equal the plain ops, tails included', async () => {
      await chooseBackend(backend);
      await geluCase(64, 3, backend); // 192 elements: the SIMD path on wasm
      await geluCase(7, 4, backend); // 21: not a multiple of 4
    });

    it("GELU's forward kernel also writes the derivative the backward multiplies by (no second erf)", async () => {
      await chooseBackend(backend);
      for (const n of [64, 7]) {
        const x = tf.mul(tf.randomNormal([n, 3], 0, 1, 'float32', 9), 3);
        const [y, d] = runFused('CharmerGelu', [x], {});
        const want = tf.grad((a: tf.Tensor) => tf.sum(referenceGelu(a)))(x);
        expect(d, 'the derivative output').toBeDefined();
        expect(await relErr(y!, referenceGelu(x)), `gelu [${n},3] value`).toBeLessThan(1e-5);
        expect(await relErr(d!, want), `gelu [${n},3] derivative`).toBeLessThan(1e-5);
        tf.dispose([x, y!, d!, want]);
      }
    });

    it('runs one kernel each way for attention, and leaves no tensors behind', async () => {
      await chooseBackend(backend);
      const qkv = tf.randomNormal([2, 8, 48], 0, 1, 'float32', 5) as tf.Tensor3D;
      const g = tf.ones([16]) as tf.Tensor1D;
      const b = tf.zeros([16]) as tf.Tensor1D;
      const before = tf.memory().numTensors;
      const step = () =>
        withGrads((x, gg, bb) => fusedGelu(fusedLayerNorm(fusedCausalAttention(x as tf.Tensor3D, 4)!, gg as tf.Tensor1D, bb as tf.Tensor1D)!)!, [qkv, g, b], 6);
      const profile = await tf.profile(() => tf.dispose(step()));
      const used = profile.kernels.map((k) => k.name);
      expect(used.filter((n) => n === 'CharmerAttention')).toHaveLength(2); // the value, and the forward inside tf.grads
      expect(used.filter((n) => n === 'CharmerAttentionGrad')).toHaveLength(1);
      expect(used.filter((n) => /Softmax|BatchMatMul/.test(n))).toHaveLength(0);
      for (let i = 0; i < 3; i++) tf.dispose(step());
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([qkv, g, b]);
    });
  });
}

/** The whole model's loss and every weight's gradient, fused or through the plain ops (CHARMER_FUSED=0). */
async function modelGradients(fused: boolean): Promise<{ loss: number; grads: Array<[string, Float32Array]> }> {
  const [B, T, V] = [3, 8, 11];
  const model = benchModel({ cell: 'transformer', layers: 2, hidden: 16, heads: 4, batch: B, seq: T, vocab: V }, 5);
  const x = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % V);
  const y = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % V);
  if (!fused) process.env.CHARMER_FUSED = '0';
  try {
    const r = shardGradients(model)({ x, y, mask: null, rows: B, steps: T, count: B * T }, []);
    // In model order, named without TF.js's per-instance suffix (two models are built here).
    const grads: Array<[string, Float32Array]> = [];
    for (const v of model.variables) grads.push([v.name.replace(/_\d+$/, ''), (await r.grads[v.name]!.data()) as Float32Array]);
    const loss = (await r.value.data())[0]!;
    tf.dispose([r.value, ...Object.values(r.grads)]);
    return { loss, grads };
  } finally {
    delete process.env.CHARMER_FUSED;
    model.dispose();
  }
}

describe('the Transformer model on the fused kernels', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: loss and every weight's gradient equal the plain-ops model within 1e-4`, async () => {
      await chooseBackend(backend);
      const want = await modelGradients(false);
      const got = await modelGradients(true);
      expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(1e-4);
      expect(got.grads.map(([n]) => n)).toEqual(want.grads.map(([n]) => n));
      for (const [k, [name, w]] of want.grads.entries()) {
        const g = got.grads[k]![1];
        let diff = 0;
        let scale = 1e-6;
        for (let i = 0; i < w.length; i++) {
          diff = Math.max(diff, Math.abs(g[i]! - w[i]!));
          scale = Math.max(scale, Math.abs(w[i]!));
        }
        expect(diff / scale, name).toBeLessThan(1e-4);
      }
    });
  }
});

describe('Transformer fused ops on webgpu (WGSL programs)', () => {
  it('attention, LayerNorm and GELU: outputs and gradients equal the plain ops; no tensors left', async (ctx) => {
    if (!(await backendOrSkip('webgpu', ctx))) return;
    for (const [i, c] of [...ATTENTION_CASES, [2, 70, 16, 4] as [number, number, number, number]].entries()) await attentionCase(c, 30 + i, 'webgpu');
    await layerNormCase(5, 16, 1, 'webgpu');
    await layerNormCase(40, 7, 2, 'webgpu');
    await geluCase(64, 3, 'webgpu');
    const qkv = tf.randomNormal([2, 8, 48], 0, 1, 'float32', 5) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    tf.dispose(withGrads((x) => fusedGelu(fusedCausalAttention(x as tf.Tensor3D, 4)!)!, [qkv], 6));
    expect(tf.memory().numTensors).toBe(before);
    qkv.dispose();
  });
});

afterAll(async () => {
  await chooseBackend('cpu');
});
