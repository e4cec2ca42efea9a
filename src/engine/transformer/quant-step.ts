/**
 * The GptStream's one-character products on 8-bit weights: each block's four weight matrices
 * quantised once per weight version (one scale per output column, ../fused/transformer-quant.ts),
 * laid out in the stream's own memory beside the float32 copies, and each one-row product's input
 * rounded to 16 bits with one scale per row. The prime and the window's re-run after a slide stay
 * on the float32 GEMM (many rows: there the products are arithmetic, not weight reads), and so does
 * the output layer (small, and it writes the logits directly).
 *
 * How close it stays to float32 is tested (test/engine/transformer-quant.test.ts) and measured on
 * a trained model (docs/PERFORMANCE.md, "Sampling a Transformer on 8-bit weights").
 */
import type * as tf from '@tensorflow/tfjs-core';
import { qmaxFor, quantBytes, quantModule, quantizeColumns, type QuantKernels } from '../fused/transformer-quant.ts';

interface Quantized {
  weights: Int8Array;
  scales: Float32Array;
}

/**
 * Per weight version (a variable's dataId changes with every assign, and goes with the tensor):
 * a companion that samples three continuations per pause quantises the model once, not each time.
 */
const versions = new WeakMap<object, Quantized>();

function quantizedOf(v: tf.Variable, m: Float32Array, K: number, N: number): Quantized {
  const key = v.dataId as object;
  const hit = versions.get(key);
  if (hit && hit.scales.length === N && hit.weights.length === K * N) return hit;
  const q = quantizeColumns(m, K, N);
  versions.set(key, q);
  return q;
}

/** A matrix the stream packed for the float32 GEMM: its variable, values, shape and packed address. */
export interface PackedMatrix {
  v: tf.Variable;
  m: Float32Array;
  K: number;
  N: number;
  at: number;
}

interface Placed {
  q: Quantized;
  w: number;
  scales: number;
  K: number;
  N: number;
}

/** Whether the products can run on 8-bit weights here (SIMD WebAssembly; CHARMER_SAMPLE_QUANT=0 turns it off). */
export function quantSupported(): boolean {
  if (typeof process !== 'undefined' && process.env?.CHARMER_SAMPLE_QUANT === '0') return false;
  return quantModule(false) !== null;
}

export class QuantProducts {
  private constructor(
    private readonly k: QuantKernels,
    private readonly qIn: number,
    private readonly byAddress: Map<number, Placed>,
  ) {}

  /**
   * Reserve room for the matrices that fit the kernel (K and N multiples of 8) through `take`
   * (floats, 64-byte aligned, as the stream's), quantising each (or taking its cached version);
   * `bind` then writes them into the memory once it exists.
   */
  static plan(matrices: PackedMatrix[], take: (floats: number) => number): { bind(memory: WebAssembly.Memory): QuantProducts } | null {
    const fit = matrices.filter((p) => p.K % 8 === 0 && p.N % 8 === 0);
    if (fit.length === 0) return null;
    const placed = new Map<number, Placed>();
    for (const p of fit) {
      const q = quantizedOf(p.v, p.m, p.K, p.N);
      placed.set(p.at, { q, w: take(quantBytes(p.K, p.N) / 4), scales: take(p.N), K: p.K, N: p.N });
    }
    const qIn = take(Math.max(...fit.map((p) => p.K)) / 2);
    return {
      bind(memory) {
        const k = new WebAssembly.Instance(quantModule(false)!, { env: { memory } }).exports as unknown as QuantKernels;
        const i8 = new Int8Array(memory.buffer);
        const f = new Float32Array(memory.buffer);
        for (const p of placed.values()) {
          i8.set(p.q.weights, p.w);
          f.set(p.q.scales, p.scales / 4);
        }
        return new QuantProducts(k, qIn, placed);
      },
    };
  }

  /**
   * out[N] = input[K]·W + bias for the matrix packed at `w`; false where it is not quantised or the
   * input is not finite (then the float32 product runs and carries the NaN or infinity honestly).
   */
  dense(input: number, w: number, bias: number, out: number): boolean {
    const p = this.byAddress.get(w);
    if (!p) return false;
    const big = this.k.absMax(input, p.K);
    if (!Number.isFinite(big)) return false;
    const Q = qmaxFor(p.K);
    this.k.quant16(input, this.qIn, p.K, big > 0 ? Q / big : 0);
    this.k.qgemv(this.qIn, p.w, p.scales, bias, out, p.K, p.N, big / Q, 0);
    return true;
  }
}
