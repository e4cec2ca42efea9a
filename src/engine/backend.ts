/**
 * The one place that chooses the TF.js backend, best first: tfjs-node-gpu / tfjs-node (native
 * TensorFlow, when the person installed it), WebGPU through Dawn (the `webgpu` package) when a
 * hardware adapter is present, then WebAssembly, then plain JavaScript. `--backend` forces one.
 *
 * Traps handled here: the wasm backend has no UnsortedSegmentSum kernel, which the gradient of
 * an embedding lookup needs, so we register one; and in Node it runs a single thread.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BACKEND_NAMES, type BackendName } from '../common/enums.ts';
import { CharmerError } from './errors.ts';
import { installFusedLayers } from './fused/index.ts';
import { simdOf } from './fused/kernels.ts';
import { fmaBatchMatMul } from './fused/wasm-matmul.ts';
import { NATIVE_PACKAGES, useNativePackage } from './fused/native-sequence.ts';
import type { BackendInfo } from './events.ts';

const require = createRequire(import.meta.url);
let current: BackendInfo | null = null;

// The cpu backend greets its first tensor in Node with a banner on stderr ("Hi, looks like you are
// running TensorFlow.js in Node.js...") that advises installing tfjs-node, which Charmer already
// tries first. It is no news to a person reading our output: every cpu backend the engine makes
// (it makes a fresh one when a tensor appears before any backend is chosen) has already greeted.
{
  const entry = (tf.engine() as unknown as { registryFactory: Record<string, { factory: () => unknown }> }).registryFactory.cpu;
  if (entry) {
    const make = entry.factory;
    entry.factory = () => Object.assign(make() as object, { firstUse: false });
  }
  const made = (tf.engine() as unknown as { registry: Record<string, { firstUse?: boolean }> }).registry.cpu;
  if (made) made.firstUse = false;
}

export function currentBackend(): BackendInfo | null {
  return current;
}

/** Initialise and select a backend; idempotent for the same request. */
export async function chooseBackend(request: BackendName | 'auto' = 'auto'): Promise<BackendInfo> {
  if (current && (request === 'auto' || current.backend.startsWith(request))) return current;
  const order: readonly BackendName[] = request === 'auto' ? BACKEND_NAMES : [request];
  const failures: string[] = [];
  for (const name of order) {
    try {
      const info = await tryBackend(name, request !== 'auto');
      if (info) {
        current = info;
        installFusedLayers(); // fused recurrent layers where the backend has kernels (src/engine/fused)
        return info;
      }
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new CharmerError(
    'BACKEND_UNAVAILABLE',
    `The ${request} backend is not available here (${failures.join('; ') || 'not installed'}). Use --backend auto to pick the best available one.`,
  );
}

async function tryBackend(name: BackendName, forced: boolean): Promise<BackendInfo | null> {
  switch (name) {
    case 'tensorflow': {
      for (const pkg of NATIVE_PACKAGES) {
        try {
          require.resolve(pkg);
        } catch {
          continue;
        }
        await import(pkg);
        if (await tf.setBackend('tensorflow')) {
          useNativePackage(pkg); // the fused layers' block ops (fused/native-sequence.ts)
          const gpu = pkg.endsWith('-gpu');
          return { backend: gpu ? 'tensorflow-gpu' : 'tensorflow', device: gpu ? 'GPU (CUDA, TensorFlow native)' : 'CPU (TensorFlow native)', threads: 0 };
        }
      }
      if (forced) throw new Error('install @tensorflow/tfjs-node (or tfjs-node-gpu with CUDA 11.2 and cuDNN 8.1)');
      return null;
    }
    case 'webgpu': {
      const adapterName = await webgpuAdapter(forced);
      if (!adapterName) return null;
      await import('@tensorflow/tfjs-backend-webgpu');
      if (!(await tf.setBackend('webgpu'))) return null;
      return { backend: 'webgpu', device: adapterName, threads: 0 };
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
      if (!(await tf.setBackend('wasm'))) return null;
      registerWasmSegmentSum();
      patchWasmMatMul();
      patchWasmSlice();
      patchWasmIdentity();
      return { backend: 'wasm', device: 'CPU (WebAssembly, 1 thread)', threads: 1 };
    }
    case 'cpu': {
      await tf.setBackend('cpu');
      return { backend: 'cpu', device: 'CPU (JavaScript)', threads: 1 };
    }
  }
}

/**
 * The adapter's name, or null. In auto mode a software adapter (lavapipe, SwiftShader) is skipped:
 * it is slower than wasm. Forcing --backend webgpu accepts it (that is how the tests run here).
 */
async function webgpuAdapter(forced: boolean): Promise<string | null> {
  // Probing Dawn on a Linux machine with no GPU device prints Vulkan errors to stderr from native
  // code; auto mode only probes where a GPU device node exists.
  if (!forced && process.platform === 'linux' && !hasLinuxGpuDevice()) return null;
  let mod: { create: (opts: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = (await import('webgpu')) as never;
  } catch (e) {
    if (forced) throw new Error(`the webgpu package could not be loaded (${(e as Error).message})`);
    return null;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create([]);
  if (!('navigator' in globalThis) || !(globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu) {
    Object.defineProperty(globalThis, 'navigator', { value: { ...(globalThis.navigator ?? {}), gpu }, configurable: true });
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    if (forced) throw new Error('no WebGPU adapter found (no GPU, or Mesa lavapipe older than 25)');
    return null;
  }
  const info = (adapter as unknown as { info?: { vendor?: string; architecture?: string; device?: string; description?: string } }).info ?? {};
  const label = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'WebGPU adapter';
  const software = /llvmpipe|lavapipe|swiftshader|software/i.test(label) || (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  if (software && !forced) return null;
  return `${label}${software ? ' (software)' : ''}`;
}

function hasLinuxGpuDevice(): boolean {
  try {
    return readdirSync('/dev/dri').some((n) => n.startsWith('renderD')) || existsSync('/dev/nvidia0');
  } catch {
    return existsSync('/dev/nvidia0');
  }
}

/**
 * The float32 storage of a tensor on the cpu or wasm backend, without a copy (dataSync copies):
 * the cpu backend's values array or a view of the wasm heap. Null elsewhere (then read with
 * dataSync). A heap view is detached by the next heap growth: use it at once, allocate nothing.
 */
export function hostView(t: tf.Tensor): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const name = tf.getBackend();
  const b = tf.backend() as unknown as {
    typedArrayFromHeap?(t: tf.TensorInfo): Float32Array;
    data?: { get(id: object): { values?: unknown } | undefined };
  };
  if (name === 'wasm' && b.typedArrayFromHeap) return b.typedArrayFromHeap(t);
  if (name === 'cpu') {
    const v = b.data?.get(t.dataId)?.values;
    return v instanceof Float32Array ? v : null;
  }
  return null;
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
 * 0.33 ms); a transposed B too, for XNNPACK only.
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
    const backend = args.backend as unknown as {
      makeOutput(shape: number[], dtype: string): tf.TensorInfo;
      typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
    };
    const out = backend.makeOutput(s0, x.dtype);
    // Views only after the allocation: a heap growth detaches earlier ones. Runs are moved with
    // copyWithin on one view of the whole heap (a 2x128 GRU shard step's four dz slices took
    // 1.5 ms with a subarray per run, 0.9 ms so).
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
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
      const b = backend as unknown as {
        makeOutput(shape: number[], dtype: string): tf.TensorInfo;
        typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
        wasm?: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
      };
      const inner = x.shape.slice(1).reduce((p, d) => p * d, 1);
      const out = b.makeOutput([numSegments, ...x.shape.slice(1)], x.dtype);
      const o = b.typedArrayFromHeap(out);
      o.fill(0);
      const xs = b.typedArrayFromHeap(x);
      const ids = b.typedArrayFromHeap(segmentIds);
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
