/**
 * Causal multi-head attention on the wasm backend as products through the engine's FMA GEMM
 * (./gemm.ts), one kernel call for all rows and heads of a layer, forward or backward. Per row b
 * and head h (T×d blocks, d = C / nh) the forward is S = Q·Kᵀ, the causal softmax in place (kept
 * as P), O = P·V; the backward dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)) / √d, dQ = dS·K,
 * dK = dSᵀ·Q, dV = Pᵀ·dO. The products run over the full T×T blocks (the zeros above the
 * diagonal included): at T = 64 a masked tile loop would save half of a few percent of a step.
 *
 * Q and dO are read in place through the GEMM's row stride; K, V (and Q, dO in the backward) are
 * copied to contiguous T4×d blocks first, since the GEMM packs B from a dense layout; results go to
 * a T×d scratch block and are copied into their columns of out / dqkv. Transposed A operands
 * (Pᵀ, dSᵀ) are read through strides: they are 16 KB blocks that stay in cache.
 *
 * Used on wasm when the FMA GEMM loads (relaxed SIMD) and d is a multiple of 4; otherwise
 * ./transformer-math.ts's loops run on the heap views.
 */
import { gemmFor, packedFloats, type Gemm } from './gemm.ts';
import { exp } from './math.ts';
import { padT, type AttnDims } from './transformer-math.ts';

const F = 4;

/** What the kernels need from the wasm backend: allocations on its heap, freed after the call. */
export interface HeapCtx {
  memory: WebAssembly.Memory;
  /** A scratch block of n floats: its byte address (valid for the whole call). */
  scratch(n: number): number;
}

export const attentionGemm = (memory: WebAssembly.Memory | undefined, { C, nh }: Pick<AttnDims, 'C' | 'nh'>): Gemm | null => ((C / nh) % 4 === 0 ? gemmFor(memory) : null);

/** Copy T rows of d floats, `stride` floats apart from `src`, into a dense block at `dst` (floats), zero rows T..T4-1. */
function gather(heap: Float32Array, dst: number, src: number, stride: number, T: number, T4: number, d: number): void {
  for (let t = 0; t < T; t++) heap.copyWithin(dst + t * d, src + t * stride, src + t * stride + d);
  heap.fill(0, dst + T * d, dst + T4 * d);
}
/** The reverse: T dense rows of d floats at `src` into rows `stride` apart at `dst`. */
function scatter(heap: Float32Array, dst: number, src: number, stride: number, T: number, d: number): void {
  for (let t = 0; t < T; t++) heap.copyWithin(dst + t * stride, src + t * d, src + t * d + d);
}

/** Forward: qkv, out, P are byte addresses on the heap. */
export function attentionFwdGemm(g: Gemm, ctx: HeapCtx, qkv: number, out: number, P: number, { B, T, C, nh }: AttnDims): void {
  const d = C / nh;
  const T4 = padT(T);
  const scale = 1 / Math.sqrt(d);
  const kc = ctx.scratch(T4 * d);
  const vc = ctx.scratch(T4 * d);
  const kp = ctx.scratch(packedFloats(d, T4));
  const vp = ctx.scratch(packedFloats(T4, d));
  const oc = ctx.scratch(T * d);
  const heap = new Float32Array(ctx.memory.buffer); // after every allocation
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const row0 = qkv + (b * T * 3 * C + h * d) * F; // q of row (b, 0), head h
      gather(heap, kc / F, row0 / F + C, 3 * C, T, T4, d);
      gather(heap, vc / F, row0 / F + 2 * C, 3 * C, T, T4, d);
      g.packT(kc, kp, d, T4);
      g.pack(vc, vp, T4, d);
      const p = P + (b * nh + h) * T * T4 * F;
      g.gemm(row0, 3 * C * F, F, kp, p, T, d, T4);
      softmaxCausal(heap, p / F, T, T4, scale);
      g.gemm(p, T4 * F, F, vp, oc, T, T4, d);
      scatter(heap, out / F + b * T * C + h * d, oc / F, C, T, d);
    }
  }
}

/** Row i of the [T, T4] block at p: softmax of scale·s over j <= i, zero after. */
function softmaxCausal(heap: Float32Array, p: number, T: number, T4: number, scale: number): void {
  for (let i = 0; i < T; i++) {
    const o = p + i * T4;
    let max = -Infinity;
    for (let j = 0; j <= i; j++) if (heap[o + j]! > max) max = heap[o + j]!;
    let sum = 0;
    for (let j = 0; j <= i; j++) sum += heap[o + j] = exp((heap[o + j]! - max) * scale);
    const inv = 1 / sum;
    for (let j = 0; j <= i; j++) heap[o + j]! *= inv;
    heap.fill(0, o + i + 1, o + T4);
  }
}

/** Backward: dy [B, T, C], qkv, P in; dqkv [B, T, 3C] out (every element written). */
export function attentionBwdGemm(g: Gemm, ctx: HeapCtx, dy: number, qkv: number, P: number, dqkv: number, { B, T, C, nh }: AttnDims): void {
  const d = C / nh;
  const T4 = padT(T);
  const scale = 1 / Math.sqrt(d);
  const qc = ctx.scratch(T4 * d);
  const kc = ctx.scratch(T4 * d);
  const vc = ctx.scratch(T4 * d);
  const dyc = ctx.scratch(T4 * d);
  const pT = ctx.scratch(packedFloats(d, T4)); // Vᵀ
  const pN = ctx.scratch(packedFloats(T4, d)); // K, Q or dO as B
  const ds = ctx.scratch(T * T4);
  const oc = ctx.scratch(T * d);
  const heap = new Float32Array(ctx.memory.buffer);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const row0 = b * T * 3 * C + h * d; // floats
      const y0 = b * T * C + h * d;
      const src = qkv / F + row0;
      gather(heap, qc / F, src, 3 * C, T, T4, d);
      gather(heap, kc / F, src + C, 3 * C, T, T4, d);
      gather(heap, vc / F, src + 2 * C, 3 * C, T, T4, d);
      gather(heap, dyc / F, dy / F + y0, C, T, T4, d);
      const p = P + (b * nh + h) * T * T4 * F;
      // dV = Pᵀ·dO (Pᵀ read with strides), over the T real rows of P
      g.pack(dyc, pN, T, d);
      g.gemm(p, F, T4 * F, pN, oc, T, T, d);
      scatter(heap, dqkv / F + row0 + 2 * C, oc / F, 3 * C, T, d);
      // dP = dO·Vᵀ, then dS in place
      g.packT(vc, pT, d, T4);
      g.gemm(dyc, d * F, F, pT, ds, T, d, T4);
      softmaxGrad(heap, ds / F, p / F, T, T4, scale);
      // dQ = dS·K
      g.pack(kc, pN, T4, d);
      g.gemm(ds, T4 * F, F, pN, oc, T, T4, d);
      scatter(heap, dqkv / F + row0, oc / F, 3 * C, T, d);
      // dK = dSᵀ·Q
      g.pack(qc, pN, T, d);
      g.gemm(ds, F, T4 * F, pN, oc, T, T, d);
      scatter(heap, dqkv / F + row0 + C, oc / F, 3 * C, T, d);
    }
  }
}

/** dS = P ⊙ (dP − Σⱼ dP·P)·scale, row by row, in place over dP (zero after the diagonal). */
function softmaxGrad(heap: Float32Array, ds: number, p: number, T: number, T4: number, scale: number): void {
  for (let i = 0; i < T; i++) {
    const o = ds + i * T4;
    const q = p + i * T4;
    let r = 0;
    for (let j = 0; j <= i; j++) r += heap[o + j]! * heap[q + j]!;
    for (let j = 0; j <= i; j++) heap[o + j] = heap[q + j]! * (heap[o + j]! - r) * scale;
    heap.fill(0, o + i + 1, o + T4);
  }
}
