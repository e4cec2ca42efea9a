/**
 * The wasm backend's BatchMatMul through ./gemm.ts's FMA GEMM where that is faster than XNNPACK:
 * float32, no real batch (every batch dimension 1), at least MIN_ROWS rows (N not a multiple of 4
 * through zero-padded columns).
 * B is packed at every call (from either layout, so transposeB costs nothing extra). A comes
 * untransposed: ../wasm-kernels.ts transposes a transposed A explicitly first, for this path as
 * for XNNPACK's (reading it through strides here gained little over XNNPACK on the weight-gradient
 * shapes, the copy much more: `npx tsx bench/fma-gemm.ts`). Anything else returns null and goes
 * to the original kernel.
 *
 * Why the row threshold: XNNPACK caches a weight's packed form while the tensor lives, so the
 * small products that repeat with one weight (a sampling step: 1-50 rows) are cheaper there; from
 * MIN_ROWS rows up, packing per call costs less than the FMA tile saves (bench/fma-gemm.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { gemmFor, packedFloats } from './gemm.ts';
import { wasmMemoryOf } from './heap.ts';

export const MIN_ROWS = 64;
const F = 4;

interface WasmBackend {
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** a·b (bᵀ with transposeB) as the FMA GEMM, or null where XNNPACK should do it. */
export function fmaBatchMatMul(a: tf.TensorInfo, b: tf.TensorInfo, transposeB: boolean, backend: unknown): tf.TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  if (batchA.some((d) => d !== 1) || batchB.some((d) => d !== 1)) return null;
  const [M, K] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const N = transposeB ? b0 : b1;
  if (M < MIN_ROWS || N === 0 || K === 0) return null;
  const be = backend as WasmBackend;
  const memory = wasmMemoryOf(be);
  const g = gemmFor(memory);
  if (!g) return null;
  // N not a multiple of 4 (the output layer: a 65-character vocabulary): B is padded with zero
  // columns to N4 and the product written to scratch, then its first N columns copied out.
  const N4 = Math.ceil(N / 4) * 4;
  const pad = N4 !== N;
  const out = be.makeOutput([...(batchA.length >= batchB.length ? batchA : batchB), M, N], 'float32');
  const packed = be.makeOutput([packedFloats(K, N4)], 'float32');
  const bPadded = pad ? be.makeOutput([K * N4], 'float32') : b;
  const cPadded = pad ? be.makeOutput([M * N4], 'float32') : out;
  const addr = (t: tf.TensorInfo): number => be.dataIdMap.get(t.dataId)!.memoryOffset;
  if (pad) {
    const heap = new Float32Array(memory!.buffer); // after every allocation
    const [s, d] = [addr(b) / F, addr(bPadded) / F];
    if (transposeB) {
      heap.copyWithin(d, s, s + N * K); // rows N..N4-1 of Bᵀ are zero
      heap.fill(0, d + N * K, d + N4 * K);
    } else {
      for (let k = 0; k < K; k++) {
        heap.copyWithin(d + k * N4, s + k * N, s + k * N + N);
        heap.fill(0, d + k * N4 + N, d + (k + 1) * N4);
      }
    }
  }
  (transposeB ? g.packT : g.pack)(addr(bPadded), addr(packed), K, N4);
  g.gemm(addr(a), K * F, F, addr(packed), addr(cPadded), M, K, N4);
  if (pad) {
    const heap = new Float32Array(memory!.buffer);
    const [s, d] = [addr(cPadded) / F, addr(out) / F];
    for (let r = 0; r < M; r++) heap.copyWithin(d + r * N, s + r * N4, s + r * N4 + N);
    be.disposeData(bPadded.dataId, true);
    be.disposeData(cPadded.dataId, true);
  }
  be.disposeData(packed.dataId, true);
  return out;
}

/**
 * t with its last two axes swapped, by the GEMM module's 4x4-block transpose, or null where it
 * does not apply (not float32, a real batch, a dimension not a multiple of 4, no GEMM module):
 * the caller then uses the backend's Transpose, which moves one element at a time (~10 ms for the
 * [1024, 1536] activations whose transpose a weight gradient of the width-384 Transformer needs).
 */
export function fmaTranspose(t: tf.TensorInfo, backend: unknown): tf.TensorInfo | null {
  if (t.dtype !== 'float32' || t.shape.length < 2 || t.shape.slice(0, -2).some((d) => d !== 1)) return null;
  const [R, C] = t.shape.slice(-2) as [number, number];
  if (R === 0 || C === 0 || R % 4 !== 0 || C % 4 !== 0) return null;
  const be = backend as WasmBackend;
  const g = gemmFor(wasmMemoryOf(be));
  if (!g) return null;
  const out = be.makeOutput([...t.shape.slice(0, -2), C, R], 'float32');
  g.transpose(be.dataIdMap.get(t.dataId)!.memoryOffset, be.dataIdMap.get(out.dataId)!.memoryOffset, R, C);
  return out;
}
