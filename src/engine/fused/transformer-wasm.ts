/**
 * Causal multi-head attention on the wasm backend as products through the engine's FMA GEMM
 * (./gemm.ts), one kernel call for all rows and heads of a layer, forward or backward. Per row b
 * and head h (T×d blocks, d = C / nh) the forward is S = Q·Kᵀ, the causal softmax in place (kept
 * as P), O = P·V; the backward dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)) / √d, dQ = dS·K,
 * dK = dSᵀ·Q, dV = Pᵀ·dO. The products run over the full T×T blocks (the zeros above the
 * diagonal included): at T = 64 a masked tile loop would save half of a few percent of a step.
 *
 * When T is a multiple of 4, qkv (and dy) are first transposed head-major ([B, 3·nh, T, d], by the
 * backend's own Transpose) so that every head's q, k, v is a dense [T, d] block the GEMM packs and
 * writes directly, and the results come back with one more transpose: T row copies per head and
 * operand (a copyWithin call each) had cost more than the softmax. Otherwise
 * Q and dO are read in place through the GEMM's row stride and K, V copied to zero-padded T4×d
 * blocks row by row. Transposed A operands (Pᵀ, dSᵀ) are read through strides: they are 16 KB
 * blocks that stay in cache.
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
  /**
   * The tensor (input, output or scratch) at byte address `addr`, viewed with `shape`, transposed
   * by `perm` into new scratch: its address. Null where the backend has no Transpose kernel.
   */
  permute: ((addr: number, shape: number[], perm: number[]) => number) | null;
}

export const attentionGemm = (memory: WebAssembly.Memory | undefined, { C, nh }: Pick<AttnDims, 'C' | 'nh'>): Gemm | null =>
  (C / nh) % 4 === 0 ? gemmFor(memory) : null;

/** Copy T rows of d floats, `stride` floats apart from `src`, into a dense block at `dst` (floats), zero rows T..T4-1. */
function gather(heap: Float32Array, dst: number, src: number, stride: number, T: number, T4: number, d: number): void {
  for (let t = 0; t < T; t++) heap.copyWithin(dst + t * d, src + t * stride, src + t * stride + d);
  heap.fill(0, dst + T * d, dst + T4 * d);
}
/** The reverse: T dense rows of d floats at `src` into rows `stride` apart at `dst`. */
function scatter(heap: Float32Array, dst: number, src: number, stride: number, T: number, d: number): void {
  for (let t = 0; t < T; t++) heap.copyWithin(dst + t * stride, src + t * d, src + t * d + d);
}

/** Forward by gathered rows (any T): qkv, out, P are byte addresses on the heap. */
function attentionFwdRows(g: Gemm, ctx: HeapCtx, qkv: number, out: number, P: number, { B, T, C, nh }: AttnDims): void {
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

/** Backward by gathered rows (any T): dy [B, T, C], qkv, P in; dqkv [B, T, 3C] out. */
function attentionBwdRows(g: Gemm, ctx: HeapCtx, dy: number, qkv: number, P: number, dqkv: number, { B, T, C, nh }: AttnDims): void {
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

/** Forward: qkv, out, P are byte addresses on the heap. */
export function attentionFwdGemm(g: Gemm, ctx: HeapCtx, qkv: number, out: number, P: number, dm: AttnDims): void {
  if (dm.T % 4 !== 0 || !ctx.permute) return attentionFwdRows(g, ctx, qkv, out, P, dm);
  const { B, T, C, nh } = dm;
  const d = C / nh;
  const blk = T * d * F; // one head's [T, d] block, bytes
  const scale = 1 / Math.sqrt(d);
  // Head-major copies: every head's q, k, v (and output) a dense [T, d] block, for one transpose
  // each way instead of T row copies per head and operand.
  const qt = ctx.permute(qkv, [B, T, 3 * nh, d], [0, 2, 1, 3]); // [B, 3nh, T, d]
  const ot = ctx.scratch(B * nh * T * d); // [B, nh, T, d]
  const kp = ctx.scratch(packedFloats(d, T));
  const vp = ctx.scratch(packedFloats(T, d));
  const heap = () => new Float32Array(ctx.memory.buffer);
  let h32 = heap();
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const q = qt + (b * 3 * nh + h) * blk;
      const p = P + (b * nh + h) * T * T * F;
      g.packT(q + nh * blk, kp, d, T);
      g.gemm(q, d * F, F, kp, p, T, d, T);
      softmaxCausal(h32, p / F, T, T, scale);
      g.pack(q + 2 * nh * blk, vp, T, d);
      g.gemm(p, T * F, F, vp, ot + (b * nh + h) * blk, T, T, d);
    }
  }
  const o = ctx.permute(ot, [B, nh, T, d], [0, 2, 1, 3]); // [B, T, nh, d] = [B, T, C]
  h32 = heap();
  h32.copyWithin(out / F, o / F, o / F + B * T * C);
}

/** Backward: dy [B, T, C], qkv, P in; dqkv [B, T, 3C] out (every element written). */
export function attentionBwdGemm(g: Gemm, ctx: HeapCtx, dy: number, qkv: number, P: number, dqkv: number, dm: AttnDims): void {
  if (dm.T % 4 !== 0 || !ctx.permute) return attentionBwdRows(g, ctx, dy, qkv, P, dqkv, dm);
  const { B, T, C, nh } = dm;
  const d = C / nh;
  const blk = T * d * F;
  const scale = 1 / Math.sqrt(d);
  const qt = ctx.permute(qkv, [B, T, 3 * nh, d], [0, 2, 1, 3]); // [B, 3nh, T, d]
  const yt = ctx.permute(dy, [B, T, nh, d], [0, 2, 1, 3]); // [B, nh, T, d]
  const gt = ctx.scratch(B * 3 * nh * T * d); // dq | dk | dv head-major
  const pT = ctx.scratch(packedFloats(d, T));
  const pN = ctx.scratch(packedFloats(T, d));
  const ds = ctx.scratch(T * T);
  const h32 = new Float32Array(ctx.memory.buffer);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const q = qt + (b * 3 * nh + h) * blk;
      const [k, v] = [q + nh * blk, q + 2 * nh * blk];
      const gq = gt + (b * 3 * nh + h) * blk;
      const y = yt + (b * nh + h) * blk;
      const p = P + (b * nh + h) * T * T * F;
      g.pack(y, pN, T, d); // dV = Pᵀ·dO
      g.gemm(p, F, T * F, pN, gq + 2 * nh * blk, T, T, d);
      g.packT(v, pT, d, T); // dP = dO·Vᵀ, then dS in place
      g.gemm(y, d * F, F, pT, ds, T, d, T);
      softmaxGrad(h32, ds / F, p / F, T, T, scale);
      g.pack(k, pN, T, d); // dQ = dS·K
      g.gemm(ds, T * F, F, pN, gq, T, T, d);
      g.pack(q, pN, T, d); // dK = dSᵀ·Q
      g.gemm(ds, F, T * F, pN, gq + nh * blk, T, T, d);
    }
  }
  const r = ctx.permute(gt, [B, 3 * nh, T, d], [0, 2, 1, 3]); // [B, T, 3nh, d] = [B, T, 3C]
  new Float32Array(ctx.memory.buffer).copyWithin(dqkv / F, r / F, r / F + B * T * 3 * C);
}
