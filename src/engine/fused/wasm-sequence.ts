/**
 * Whole-sequence recurrent kernels for the wasm backend: one TF.js kernel call runs all T steps of
 * a layer, forward or backward. Per step they call a matrix product and the SIMD gate kernels
 * (./simd.ts) one batch row at a time, on heap addresses, with scratch buffers reused across steps.
 * The product is ./gemm.ts's FMA GEMM, with each recurrent weight packed once per call (T steps
 * share it), where relaxed SIMD is available (faster than XNNPACK); otherwise the backend's own
 * XNNPACK product (`_BatchMatMul`, the export its MatMul kernel calls, with its packed-weight cache
 * keyed by the weight tensor).
 *
 * Why: at 128 units a step's product is short enough that driving the products and gate kernels
 * through TF.js (runKernel, an output tensor and a disposal each, a typed-array view per input)
 * added a noticeable share to each; GRU, with two products and two gate kernels a step, gains
 * most (docs/PERFORMANCE.md#figures-behind-the-engines-design-notes).
 *
 * Used on wasm when H is a multiple of 4 and the SIMD module loads; `CHARMER_SEQ_KERNELS=0` turns
 * them off (the per-step path in ./sequence.ts runs), for comparisons.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gemmFor, packedFloats } from './gemm.ts';
import { wasmMemoryOf } from './heap.ts';
import { inputsOf, simdOf } from './kernels.ts';
import type { SimdKernels } from './simd.ts';

interface EmscriptenModule {
  /** a_id, a_shape*, a_rank, b_id, b_shape*, b_rank, transpose_a, transpose_b, out_id (rank-3 shapes as u32). */
  _BatchMatMul(aId: number, aShape: number, aRank: number, bId: number, bShape: number, bRank: number, ta: number, tb: number, outId: number): void;
  _malloc(bytes: number): number;
  HEAPU8: Uint8Array;
  asm?: { memory?: WebAssembly.Memory };
  wasmMemory?: WebAssembly.Memory;
}

interface WasmBackend {
  wasm: EmscriptenModule;
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** A tensor as the kernels use it: its id in the backend's C++ tensor map and its heap address. */
interface Buf {
  id: number;
  addr: number;
}

/** What a kernel body gets: the SIMD functions, products by id, scratch, copies on the heap. */
interface Ctx {
  k: SimdKernels;
  /** out[M, N] = a[M, K]·b[K, N] through XNNPACK (b's packed form is cached while b lives). */
  matMul(a: Buf, M: number, K: number, b: Buf, N: number, out: Buf): void;
  scratch(floats: number): Buf;
  /** Copy n floats between heap addresses. */
  copy(dst: number, src: number, n: number): void;
  zero(dst: number, n: number): void;
  /** The heap as floats (take it again after anything that may grow the heap). */
  f32(): Float32Array;
}

interface SeqDef {
  name: string;
  outShapes(ins: number[][], a: Attrs): number[][];
  run(c: Ctx, ins: Buf[], outs: Buf[], a: Attrs): void;
}
/** B rows, T steps, H units. */
type Attrs = { B: number; T: number; H: number };

const F = 4; // bytes per float

const defs: SeqDef[] = [
  {
    // xp, R, bias, h0, c0, gates, cs, tcs, out -> hT, cT. Row b*T+t of the [B*T, ...] buffers is step t of row b.
    name: 'CharmerLstmSeq',
    outShapes: (ins) => [ins[3]!, ins[3]!],
    run: (c, [xp, R, bias, h0, c0, gates, cs, tcs, out], [hT, cT], { B, T, H }) => {
      const hr = c.scratch(B * 4 * H);
      const hs = [c.scratch(B * H), c.scratch(B * H)];
      const cc = [c.scratch(B * H), c.scratch(B * H)];
      let hp = h0!;
      let cp = c0!;
      for (let t = 0; t < T; t++) {
        c.matMul(hp, B, H, R!, 4 * H, hr);
        const hn = hs[t & 1]!;
        const cn = cc[t & 1]!;
        for (let b = 0; b < B; b++) {
          const r = b * T + t;
          c.k.lstmFwd(
            xp!.addr + r * 4 * H * F,
            hr.addr + b * 4 * H * F,
            bias!.addr,
            cp.addr + b * H * F,
            gates!.addr + r * 4 * H * F,
            cs!.addr + r * H * F,
            tcs!.addr + r * H * F,
            out!.addr + r * H * F,
            hn.addr + b * H * F,
            cn.addr + b * H * F,
            H,
          );
        }
        hp = hn;
        cp = cn;
      }
      c.copy(hT!.addr, hp.addr, B * H);
      c.copy(cT!.addr, cp.addr, B * H);
    },
  },
  {
    // dy [B, T+1, H] (outputs, then c_T), RT, gates, cs, tcs, c0, dz (filled) -> dh0, dc0
    name: 'CharmerLstmSeqGrad',
    outShapes: (_ins, a) => [
      [a.B, a.H],
      [a.B, a.H],
    ],
    run: (c, [dy, RT, gates, cs, tcs, c0, dz], [dh0, dc0], { B, T, H }) => {
      const Tv = T + 1;
      const dzt = c.scratch(B * 4 * H);
      const dhr = c.scratch(B * H);
      const dcs = [c.scratch(B * H), c.scratch(B * H)];
      c.zero(dhr.addr, B * H);
      let dc = dcs[0]!;
      for (let b = 0; b < B; b++) c.copy(dc.addr + b * H * F, dy!.addr + (b * Tv + T) * H * F, H);
      for (let t = T - 1; t >= 0; t--) {
        const dcn = dc === dcs[0] ? dcs[1]! : dcs[0]!;
        for (let b = 0; b < B; b++) {
          const r = b * T + t;
          const cPrev = t > 0 ? cs!.addr + (r - 1) * H * F : c0!.addr + b * H * F;
          c.k.lstmBwd(
            dy!.addr + (b * Tv + t) * H * F,
            dhr.addr + b * H * F,
            dc.addr + b * H * F,
            gates!.addr + r * 4 * H * F,
            tcs!.addr + r * H * F,
            cPrev,
            dz!.addr + r * 4 * H * F,
            dzt.addr + b * 4 * H * F,
            dcn.addr + b * H * F,
            H,
          );
        }
        c.matMul(dzt, B, 4 * H, RT!, H, dhr);
        dc = dcn;
      }
      c.copy(dh0!.addr, dhr.addr, B * H);
      c.copy(dc0!.addr, dc.addr, B * H);
    },
  },
  {
    // xp, R1 [H, 2H], R2 [H, H], bias, h0, gates, rhs, out -> hT
    name: 'CharmerGruSeq',
    outShapes: (ins) => [ins[4]!],
    run: (c, [xp, R1, R2, bias, h0, gates, rhs, out], [hT], { B, T, H }) => {
      const hzr = c.scratch(B * 2 * H);
      const rh = c.scratch(B * H);
      const hhr = c.scratch(B * H);
      const hs = [c.scratch(B * H), c.scratch(B * H)];
      let hp = h0!;
      for (let t = 0; t < T; t++) {
        c.matMul(hp, B, H, R1!, 2 * H, hzr);
        for (let b = 0; b < B; b++) {
          const r = b * T + t;
          c.k.gruFwdA(
            xp!.addr + r * 3 * H * F,
            hzr.addr + b * 2 * H * F,
            bias!.addr,
            hp.addr + b * H * F,
            gates!.addr + r * 3 * H * F,
            rhs!.addr + r * H * F,
            rh.addr + b * H * F,
            H,
          );
        }
        c.matMul(rh, B, H, R2!, H, hhr);
        const hn = hs[t & 1]!;
        for (let b = 0; b < B; b++) {
          const r = b * T + t;
          c.k.gruFwdB(
            xp!.addr + r * 3 * H * F,
            hhr.addr + b * H * F,
            bias!.addr,
            hp.addr + b * H * F,
            gates!.addr + r * 3 * H * F,
            out!.addr + r * H * F,
            hn.addr + b * H * F,
            H,
          );
        }
        hp = hn;
      }
      c.copy(hT!.addr, hp.addr, B * H);
    },
  },
  {
    // dy [B*T, H], R1T [2H, H], R2T [H, H], gates, out, h0, dz (filled) -> dh0
    name: 'CharmerGruSeqGrad',
    outShapes: (ins) => [ins[5]!],
    run: (c, [dy, R1T, R2T, gates, out, h0, dz], [dh0], { B, T, H }) => {
      const carryD = c.scratch(B * H);
      const carryM = c.scratch(B * H);
      const dzh = c.scratch(B * H);
      const dhTot = c.scratch(B * H);
      const drh = c.scratch(B * H);
      const dzzr = c.scratch(B * 2 * H);
      c.zero(carryD.addr, B * H);
      c.zero(carryM.addr, B * H);
      for (let t = T - 1; t >= 0; t--) {
        for (let b = 0; b < B; b++) {
          const r = b * T + t;
          const hPrev = t > 0 ? out!.addr + (r - 1) * H * F : h0!.addr + b * H * F;
          c.k.gruBwdA(
            dy!.addr + r * H * F,
            carryD.addr + b * H * F,
            carryM.addr + b * H * F,
            gates!.addr + r * 3 * H * F,
            hPrev,
            dz!.addr + r * 3 * H * F,
            dzh.addr + b * H * F,
            dhTot.addr + b * H * F,
            H,
          );
        }
        c.matMul(dzh, B, H, R2T!, H, drh);
        for (let b = 0; b < B; b++) {
          const r = b * T + t;
          const hPrev = t > 0 ? out!.addr + (r - 1) * H * F : h0!.addr + b * H * F;
          c.k.gruBwdB(
            drh.addr + b * H * F,
            dhTot.addr + b * H * F,
            gates!.addr + r * 3 * H * F,
            hPrev,
            dz!.addr + r * 3 * H * F,
            dzzr.addr + b * 2 * H * F,
            carryD.addr + b * H * F,
            H,
          );
        }
        c.matMul(dzzr, B, 2 * H, R1T!, H, carryM);
      }
      const heap = c.f32();
      const o = dh0!.addr / F;
      const d = carryD.addr / F;
      const m = carryM.addr / F;
      for (let i = 0; i < B * H; i++) heap[o + i] = heap[d + i]! + heap[m + i]!;
    },
  },
  {
    // xp, R, bias, h0, out -> hT
    name: 'CharmerRnnSeq',
    outShapes: (ins) => [ins[3]!],
    run: (c, [xp, R, bias, h0, out], [hT], { B, T, H }) => {
      const hr = c.scratch(B * H);
      const hs = [c.scratch(B * H), c.scratch(B * H)];
      let hp = h0!;
      for (let t = 0; t < T; t++) {
        c.matMul(hp, B, H, R!, H, hr);
        const hn = hs[t & 1]!;
        for (let b = 0; b < B; b++) {
          const r = b * T + t;
          c.k.rnnFwd(xp!.addr + r * H * F, hr.addr + b * H * F, bias!.addr, out!.addr + r * H * F, hn.addr + b * H * F, H);
        }
        hp = hn;
      }
      c.copy(hT!.addr, hp.addr, B * H);
    },
  },
  {
    // dy [B*T, H], RT, out, dz (filled) -> dh0
    name: 'CharmerRnnSeqGrad',
    outShapes: (_ins, a) => [[a.B, a.H]],
    run: (c, [dy, RT, out, dz], [dh0], { B, T, H }) => {
      const dhr = c.scratch(B * H);
      const dzt = c.scratch(B * H);
      c.zero(dhr.addr, B * H);
      for (let t = T - 1; t >= 0; t--) {
        for (let b = 0; b < B; b++) {
          const r = b * T + t;
          c.k.rnnBwd(dy!.addr + r * H * F, dhr.addr + b * H * F, out!.addr + r * H * F, dz!.addr + r * H * F, dzt.addr + b * H * F, H);
        }
        c.matMul(dzt, B, H, RT!, H, dhr);
      }
      c.copy(dh0!.addr, dhr.addr, B * H);
    },
  },
];

/** Shape slots for _BatchMatMul, one small allocation per module, never freed. */
const shapeSlots = new WeakMap<EmscriptenModule, number>();

function contextFor(be: WasmBackend, k: SimdKernels, ins: tf.TensorInfo[]): { ctx: Ctx; bufs: Buf[]; release(): void } {
  const wasm = be.wasm;
  let slot = shapeSlots.get(wasm);
  if (slot === undefined) shapeSlots.set(wasm, (slot = wasm._malloc(24) >>> 0));
  const shapes = slot;
  const scratch: tf.TensorInfo[] = [];
  const bufOf = (t: tf.TensorInfo): Buf => {
    const d = be.dataIdMap.get(t.dataId)!;
    return { id: d.id, addr: d.memoryOffset };
  };
  const product = (a: Buf, M: number, K: number, b: Buf, N: number, out: Buf): void => {
    const u32 = new Uint32Array(wasm.HEAPU8.buffer, shapes, 6);
    u32[0] = 1;
    u32[1] = M;
    u32[2] = K;
    u32[3] = 1;
    u32[4] = K;
    u32[5] = N;
    wasm._BatchMatMul(a.id, shapes, 3, b.id, shapes + 12, 3, 0, 0, out.id);
  };
  let tailRows: { floats: number; a: Buf; o: Buf } | undefined;
  const gemm = gemmFor(wasmMemoryOf(be));
  const packed = new Map<number, Buf>(); // by weight id: a kernel call's weights are packed once
  const ctx: Ctx = {
    k,
    matMul(a, M, K, b, N, out) {
      if (gemm && N % 4 === 0) {
        let bp = packed.get(b.id);
        if (!bp) {
          bp = ctx.scratch(packedFloats(K, N));
          gemm.pack(b.addr, bp.addr, K, N);
          packed.set(b.id, bp);
        }
        gemm.gemm(a.addr, K * F, F, bp.addr, out.addr, M, K, N);
        return;
      }
      // XNNPACK's wasm GEMM works in tiles of 4 rows, so 25 rows (a 2-thread shard of batch 50)
      // cost as much as 28: [25, 512]x[512, 2048] took 1,842 us, [24, ...] 1,590 and [1, ...] 130.
      // With M % 4 == 1 the last row goes as a product of its own (through 1-row scratch).
      const tail = M > 4 && M % 4 === 1;
      product(a, tail ? M - 1 : M, K, b, N, out);
      if (!tail) return;
      if (!tailRows || tailRows.floats < Math.max(K, N)) tailRows = { floats: Math.max(K, N), a: ctx.scratch(Math.max(K, N)), o: ctx.scratch(Math.max(K, N)) };
      const { a: a1, o: o1 } = tailRows;
      ctx.copy(a1.addr, a.addr + (M - 1) * K * F, K);
      product(a1, 1, K, b, N, o1);
      ctx.copy(out.addr + (M - 1) * N * F, o1.addr, N);
    },
    scratch(n) {
      // A backend-level buffer (the engine never sees it), freed when the kernel returns.
      const info = be.makeOutput([n], 'float32');
      scratch.push(info);
      return bufOf(info);
    },
    copy(dst, src, n) {
      wasm.HEAPU8.copyWithin(dst, src, src + n * F);
    },
    zero(dst, n) {
      wasm.HEAPU8.fill(0, dst, dst + n * F);
    },
    f32: () => new Float32Array(wasm.HEAPU8.buffer),
  };
  const bufs = ins.map(bufOf);
  return { ctx, bufs, release: () => scratch.forEach((t) => be.disposeData(t.dataId, true)) };
}

let state: 'unknown' | 'on' | 'off' = 'unknown';

/**
 * Whether the whole-sequence kernels run for hidden size H on the current backend (registering
 * them on first use): wasm, H a multiple of 4, the SIMD module and the backend's matMul export.
 */
export function wholeSequenceKernels(H: number): boolean {
  if (H % 4 !== 0 || tf.getBackend() !== 'wasm') return false;
  if (state === 'unknown') state = register() ? 'on' : 'off';
  return state === 'on';
}

function register(): boolean {
  if (typeof process !== 'undefined' && process.env?.CHARMER_SEQ_KERNELS === '0') return false;
  const be = tf.backend() as unknown as WasmBackend;
  if (typeof be.wasm?._BatchMatMul !== 'function' || !simdOf(be)) return false;
  for (const def of defs) {
    if (tf.getKernel(def.name, 'wasm')) continue;
    tf.registerKernel({
      kernelName: def.name,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const be = backend as unknown as WasmBackend;
        const k = simdOf(be)!;
        const ins = inputsOf(inputs);
        const outs = def
          .outShapes(
            ins.map((t) => t.shape),
            attrs as unknown as Attrs,
          )
          .map((s) => be.makeOutput(s, 'float32'));
        const { ctx, bufs, release } = contextFor(be, k, [...ins, ...outs]);
        try {
          def.run(ctx, bufs.slice(0, ins.length), bufs.slice(ins.length), attrs as unknown as Attrs);
        } finally {
          release();
        }
        return outs;
      },
    });
  }
  return true;
}
