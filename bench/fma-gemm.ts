/**
 * Experiment for issue 7 (not used by the engine yet): a float32 GEMM written as WebAssembly with
 * relaxed SIMD's fused multiply-add (f32x4.relaxed_madd), on B packed into panels of 8 columns
 * ([N/8][K][8]) and a 4-row x 8-column register tile, against TF.js wasm's XNNPACK matMul on the
 * shapes of a 2x512 LSTM training step (one thread's shard of batch 50: 25 rows per step, 1,250
 * per sequence). Prints one JSON line per shape: GFLOP/s of each, the ratio, the packing cost and
 * the largest difference between the two results.
 *
 *   npx tsx bench/fma-gemm.ts
 *
 * Node 20's V8 (11.3) has relaxed SIMD behind --experimental-wasm-relaxed-simd (set below before
 * compiling); V8 11.4+ (Node 22, Electron 45) has it on by default. Without FMA hardware V8 lowers
 * relaxed_madd to a multiply and an add (correct, not faster).
 */
import v8 from 'node:v8';
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from '../src/engine/backend.ts';
// The same few-line WebAssembly emitter as the engine's SIMD gate kernels.
import { get, i32c, section, set, simd, str, uleb, vec, type B } from '../src/engine/fused/simd.ts';

const tee = (i: number, v: B): B => [...v, 0x22, ...uleb(i)];
const [ADD, MUL, SHL, LTU] = [0x6a, 0x6c, 0x74, 0x49];

/** gemm(a, bp, c, M, K, N): C[M,N] = A[M,K]·B, B packed; M % MR == 0, N % (4·NV) == 0. */
function gemmModule(MR: number, NV: number, fma: boolean): Uint8Array<ArrayBuffer> {
  const P = { a: 0, b: 1, c: 2, M: 3, K: 4, N: 5 };
  let n = 6;
  const L = { i: n++, j: n++, pb: n++, pc: n++, ldc: n++, lda: n++, pbj: n++, ka: n++ };
  const pa = Array.from({ length: MR }, () => n++);
  const nI32 = n - 6;
  const acc = Array.from({ length: MR }, () => Array.from({ length: NV }, () => n++));
  const bv = Array.from({ length: NV }, () => n++);
  const av = n++;
  const nV = n - 6 - nI32;
  const NR = 4 * NV;
  const zero = [...simd(0x0c), ...new Array<number>(16).fill(0)];
  const body: B = [
    ...set(L.ldc, [...get(P.N), ...i32c(2), SHL]),
    ...set(L.lda, [...get(P.K), ...i32c(2), SHL]),
    ...set(L.i, i32c(0)),
    0x03, 0x40, // loop over row blocks
    ...pa.flatMap((p, r) => set(p, [...get(P.a), ...get(L.i), ...i32c(r), ADD, ...get(L.lda), MUL, ADD])),
    ...set(L.j, i32c(0)),
    ...set(L.pbj, get(P.b)),
    0x03, 0x40, // loop over column panels
    ...acc.flat().flatMap((x) => set(x, zero)),
    ...set(L.pb, get(L.pbj)),
    ...set(L.ka, i32c(0)),
    0x03, 0x40, // loop over k
    ...bv.flatMap((x, v) => set(x, [...get(L.pb), ...simd(0x00), 0x04, ...uleb(16 * v)])),
    ...pa.flatMap((p, r) => [
      ...set(av, [...get(p), ...get(L.ka), ADD, ...simd(0x09), 0x02, 0x00]),
      ...bv.flatMap((b, v) =>
        set(acc[r]![v]!, fma ? [...get(av), ...get(b), ...get(acc[r]![v]!), ...simd(0x105)] : [...get(acc[r]![v]!), ...get(av), ...get(b), ...simd(0xe6), ...simd(0xe4)]),
      ),
    ]),
    ...set(L.pb, [...get(L.pb), ...i32c(NR * 4), ADD]),
    ...tee(L.ka, [...get(L.ka), ...i32c(4), ADD]), ...get(L.lda), LTU, 0x0d, 0x00,
    0x0b,
    ...set(L.pbj, get(L.pb)),
    ...set(L.pc, [...get(P.c), ...get(L.i), ...get(L.ldc), MUL, ADD, ...get(L.j), ...i32c(2), SHL, ADD]),
    ...acc.flatMap((row, r) => [
      ...row.flatMap((x, v) => [...get(L.pc), ...get(x), ...simd(0x0b), 0x04, ...uleb(16 * v)]),
      ...(r < MR - 1 ? set(L.pc, [...get(L.pc), ...get(L.ldc), ADD]) : []),
    ]),
    ...tee(L.j, [...get(L.j), ...i32c(NR), ADD]), ...get(P.N), LTU, 0x0d, 0x00,
    0x0b,
    ...tee(L.i, [...get(L.i), ...i32c(MR), ADD]), ...get(P.M), LTU, 0x0d, 0x00,
    0x0b,
    0x0b,
  ];
  const fn = [...vec([[...uleb(nI32), 0x7f], [...uleb(nV), 0x7b]]), ...body];
  return new Uint8Array([
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([[0x60, ...vec(new Array(6).fill([0x7f])), 0x00]])),
    ...section(2, vec([[...str('env'), ...str('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...str('gemm'), 0x00, 0]])),
    ...section(10, vec([[...uleb(fn.length), ...fn]])),
  ]);
}

function bestMs(fn: () => void, windowMs = 150, windows = 5): number {
  let best = Infinity;
  for (let w = 0; w < windows; w++) {
    const t0 = performance.now();
    let n = 0;
    do {
      fn();
      n++;
    } while (performance.now() - t0 < windowMs);
    best = Math.min(best, (performance.now() - t0) / n);
  }
  return best;
}

const MR = 4;
const NV = 2;
const NR = 4 * NV;
// [M, K, N] of a 2x512 LSTM shard step (25 rows a step, 1,250 a sequence; M rounded to the tile).
const shapes: [string, number, number, number][] = [
  ['recurrent step h·U', 24, 512, 2048],
  ['backward step dz·Uᵀ', 24, 2048, 512],
  ['input projection x·W', 1248, 512, 2048],
  ['weight gradient hᵀ·dz', 512, 1248, 2048],
  ['input gradient dz·Wᵀ', 1248, 2048, 512],
];

if (!WebAssembly.validate(gemmModule(MR, NV, true))) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const fmaOk = WebAssembly.validate(gemmModule(MR, NV, true));
const mod = new WebAssembly.Module(gemmModule(MR, NV, fmaOk));
await chooseBackend('wasm');
const memory = new WebAssembly.Memory({ initial: 64 * 16 * 10 }); // 640 MiB is plenty for the largest shape
const gemm = (new WebAssembly.Instance(mod, { env: { memory } }).exports as { gemm(a: number, b: number, c: number, M: number, K: number, N: number): void }).gemm;

for (const [what, M, K, N] of shapes) {
  const a = tf.randomNormal([M, K]) as tf.Tensor2D;
  const b = tf.randomNormal([K, N]) as tf.Tensor2D;
  const av = a.dataSync() as Float32Array;
  const bv = b.dataSync() as Float32Array;
  const xnn = tf.matMul(a, b);
  const want = xnn.dataSync() as Float32Array;
  xnn.dispose();
  const xnnMs = bestMs(() => tf.matMul(a, b).dispose());
  tf.dispose([a, b]);

  const [pa, pb, pc] = [0, M * K * 4, M * K * 4 + K * N * 4];
  const heap = new Float32Array(memory.buffer);
  heap.set(av, pa / 4);
  const packed = heap.subarray(pb / 4, pb / 4 + K * N);
  const pack = (): void => {
    let o = 0;
    for (let j = 0; j < N; j += NR) for (let k = 0; k < K; k++) for (let q = 0; q < NR; q++) packed[o++] = bv[k * N + j + q]!;
  };
  const packMs = bestMs(pack, 50, 3);
  gemm(pa, pb, pc, M, K, N);
  const got = heap.subarray(pc / 4, pc / 4 + M * N);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < M * N; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  const fmaMs = bestMs(() => gemm(pa, pb, pc, M, K, N));
  const gflop = (2 * M * K * N) / 1e6;
  console.log(
    JSON.stringify({
      shape: what, M, K, N, relaxed_fma: fmaOk,
      xnnpack_gflops: +(gflop / xnnMs).toFixed(1),
      fma_gemm_gflops: +(gflop / fmaMs).toFixed(1),
      ratio: +(xnnMs / fmaMs).toFixed(2),
      pack_ms_js: +packMs.toFixed(2),
      max_rel_diff: +(diff / scale).toExponential(1),
    }),
  );
}
