/**
 * The engine's kernels for the TF.js wasm backend, installed when that backend is chosen
 * (./backend.ts): the UnsortedSegmentSum it lacks (the gradient of an embedding lookup needs it),
 * and replacements of BatchMatMul, Slice and Identity where the stock kernels copy or run slowly.
 * Each replacement falls back to the original kernel for what it does not handle.
 */
import * as tf from '@tensorflow/tfjs-core';
import { heapViews } from './fused/heap.ts';
import { simdOf } from './fused/kernels.ts';
import { fmaBatchMatMul, fmaTranspose } from './fused/wasm-matmul.ts';

/** Register the engine's wasm kernels (once per process; the backend must be initialised). */
export function installWasmKernels(): void {
  registerWasmSegmentSum();
  patchWasmMatMul();
  patchWasmSlice();
  patchWasmIdentity();
}

const replaced = new Set<string>();

/**
 * Register `make(original)` in place of a wasm kernel, once per process (nothing when the backend
 * lacks the kernel or `needs` are missing).
 */
function replaceWasmKernel(name: string, make: (original: tf.KernelConfig) => tf.KernelFunc, needs: string[] = []): void {
  if (replaced.has(name)) return;
  replaced.add(name);
  const original = tf.getKernel(name, 'wasm');
  if (!original || needs.some((n) => !tf.getKernel(n, 'wasm'))) return;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...original, kernelFunc: make(original) });
}

/**
 * Products of at least 64 rows go to the engine's FMA GEMM (src/engine/fused/wasm-matmul.ts:
 * 1.4-1.9x XNNPACK's rate here) where relaxed SIMD is available, the rest to XNNPACK. A transposed
 * A is transposed explicitly first for both (XNNPACK's BatchMatMul with transposeA/transposeB runs
 * at about 1-2 GFLOP/s against 20 for the plain product, measured: [50x128]^T x [50x512] 6.7 ms vs
 * 0.33 ms), by the GEMM module's block transpose where it applies (fmaTranspose), else the
 * backend's Transpose; a transposed B too, for XNNPACK only.
 */
function patchWasmMatMul(): void {
  replaceWasmKernel(
    'BatchMatMul',
    (original) => (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!attrs.transposeA && !attrs.transposeB) return fmaBatchMatMul(a, b, false, args.backend) ?? original.kernelFunc(args);
      const transpose = tf.getKernel('Transpose', 'wasm')!;
      const backend = args.backend as unknown as { disposeData(id: object): void };
      const flip = (t: tf.TensorInfo): tf.TensorInfo => {
        const fast = fmaTranspose(t, args.backend);
        if (fast) return fast;
        const perm = t.shape.map((_, i) => i);
        [perm[perm.length - 1], perm[perm.length - 2]] = [perm[perm.length - 2]!, perm[perm.length - 1]!];
        return transpose.kernelFunc({ inputs: { x: t }, backend: args.backend, attrs: { perm } as never }) as tf.TensorInfo;
      };
      const ta = attrs.transposeA ? flip(a) : a;
      // The FMA GEMM packs a transposed B from its own layout; XNNPACK needs it transposed too.
      let out = fmaBatchMatMul(ta, b, attrs.transposeB, args.backend);
      if (!out) {
        const tb = attrs.transposeB ? flip(b) : b;
        out = original.kernelFunc({ ...args, inputs: { a: ta, b: tb }, attrs: { ...attrs, transposeA: false, transposeB: false } as never }) as tf.TensorInfo;
        if (tb !== b) backend.disposeData(tb.dataId);
      }
      if (ta !== a) backend.disposeData(ta.dataId);
      return out;
    },
    ['Transpose'],
  );
}

/**
 * TF.js wasm's Slice copies its whole input out of the heap (readSync) before taking the slice:
 * a step's few slices of [B, T+1, H] sequence outputs cost 2.4 ms a step at 2x128 (3%) and ~15 ms
 * at 2x512. Numeric slices here read a view of the heap instead; strings go to the original.
 */
function patchWasmSlice(): void {
  replaceWasmKernel('Slice', (original) => (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    if (x.dtype === 'string') return original.kernelFunc(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [b0, s0] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    const backend = args.backend as unknown as Parameters<typeof heapViews>[0] & {
      makeOutput(shape: number[], dtype: string): tf.TensorInfo;
    };
    const out = backend.makeOutput(s0, x.dtype);
    // Views only after the allocation: a heap growth detaches earlier ones. Runs are moved with
    // copyWithin on one view of the whole heap (a 2x128 GRU shard step's four dz slices took
    // 1.5 ms with a subarray per run, 0.9 ms so).
    const [src, dst] = heapViews(backend, [x, out]) as [Float32Array, Float32Array];
    const heap = new (src.constructor as Float32ArrayConstructor)(src.buffer);
    const [s, d] = [src.byteOffset / src.BYTES_PER_ELEMENT, dst.byteOffset / dst.BYTES_PER_ELEMENT];
    copyBlock(x.shape, b0, s0, (to, from, n) => heap.copyWithin(d + to, s + from, s + from + n));
    return out;
  });
}

/**
 * TF.js wasm's Identity copies the data; the engine clones (Identity) every tensor a custom op
 * saves for its backward pass, so the fused layers' saved activations were copied each step (~8 ms
 * a step at 2x512). Tensors are immutable, so sharing the storage with a reference count is what
 * the cpu backend's Identity does and what wasm's own Reshape does. (The engine's few in-place
 * writers, src/engine/fused and the data-parallel gradient sum, write only into storage they
 * allocated or hold alone.)
 */
function patchWasmIdentity(): void {
  replaceWasmKernel('Identity', (original) => (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    if (x.dtype === 'string') return original.kernelFunc(args);
    (args.backend as unknown as { incRef(id: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}

/**
 * Copy the block at `begin` of extent `size` of a row-major array of `shape` into a dense one, as
 * runs: copy(dstIndex, srcIndex, n).
 */
function copyBlock(shape: number[], begin: number[], size: number[], copy: (to: number, from: number, n: number) => void): void {
  const rank = shape.length;
  if (rank === 0) return copy(0, 0, 1);
  if (size.some((d) => d === 0)) return;
  const stride = new Array<number>(rank).fill(1);
  for (let a = rank - 2; a >= 0; a--) stride[a] = stride[a + 1]! * shape[a + 1]!;
  // Axes after k are taken whole, so each index of the axes before k is one contiguous run.
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === shape[k]) k--;
  const run = size[k]! * stride[k]!;
  const idx = new Array<number>(k).fill(0);
  for (let o = 0; ; o += run) {
    let off = begin[k]! * stride[k]!;
    for (let a = 0; a < k; a++) off += (begin[a]! + idx[a]!) * stride[a]!;
    copy(o, off, run);
    let a = k - 1;
    while (a >= 0 && ++idx[a]! === size[a]!) idx[a--] = 0;
    if (a < 0) return;
  }
}

let segmentSumRegistered = false;

/**
 * UnsortedSegmentSum for wasm, in JavaScript on the wasm heap: the embedding gradient (a few
 * thousand rows per step) is small, so a plain loop is fast enough and needs no WASM build.
 */
function registerWasmSegmentSum(): void {
  if (segmentSumRegistered || tf.getKernel('UnsortedSegmentSum', 'wasm')) return;
  segmentSumRegistered = true;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const { numSegments } = attrs as unknown as { numSegments: number };
      const b = backend as unknown as Parameters<typeof heapViews>[0] & {
        makeOutput(shape: number[], dtype: string): tf.TensorInfo;
      };
      const inner = x.shape.slice(1).reduce((p, d) => p * d, 1);
      const out = b.makeOutput([numSegments, ...x.shape.slice(1)], x.dtype);
      const [o, xs, ids] = heapViews(b, [out, x, segmentIds]) as [Float32Array, Float32Array, Int32Array];
      o.fill(0);
      // Rows added with the SIMD module's addInto where it loads (the [1250, 512] embedding
      // gradient of a 2x128 shard step: 2.2 ms as JS loops, 0.2 ms so, tf.profile).
      const simd = x.dtype === 'float32' && inner % 4 === 0 && inner > 0 ? simdOf(b) : null;
      for (let r = 0; r < ids.length; r++) {
        const seg = ids[r]!;
        if (seg < 0 || seg >= numSegments) continue;
        const src = r * inner;
        const dst = seg * inner;
        if (simd) simd.addInto(o.byteOffset + 4 * dst, xs.byteOffset + 4 * src, inner);
        else for (let k = 0; k < inner; k++) o[dst + k]! += xs[src + k]!;
      }
      return out;
    },
  });
}
