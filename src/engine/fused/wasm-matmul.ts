/**
 * The wasm backend's BatchMatMul through ./gemm.ts's FMA GEMM where that is faster than XNNPACK:
 * float32, no real batch (every batch dimension 1), N a multiple of 4 and at least MIN_ROWS rows.
 * B is packed at every call (from either layout, so transposeB costs nothing extra). A transposed
 * A is transposed explicitly first: reading it through strides (4 floats of each 2 KB line a
 * step) ran at 0.9-1.1x XNNPACK on the weight-gradient shapes, against 1.5-1.65x with the copy
 * (`npx tsx bench/fma-gemm.ts`). Anything else returns null and goes to the original kernel.
 *
 * Why the row threshold: XNNPACK caches a weight's packed form while the tensor lives, so the
 * small products that repeat with one weight (a sampling step: 1-50 rows) are cheaper there; from
 * MIN_ROWS rows up, packing per call costs less than the FMA tile saves (bench/fma-gemm.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gemmFor, groupColumns, packedFloats } from './gemm.ts';
import { wasmMemoryOf } from './kernels.ts';

export const MIN_ROWS = 64;
const F = 4;

interface WasmBackend {
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** a·b (with the transposes) as the FMA GEMM, or null where XNNPACK should do it. */
export function fmaBatchMatMul(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean, backend: unknown): tf.TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  if (batchA.some((d) => d !== 1) || batchB.some((d) => d !== 1)) return null;
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [M, K] = transposeA ? [a1, a0] : [a0, a1];
  const N = transposeB ? b0 : b1;
  if (M < MIN_ROWS || N === 0 || N % 4 !== 0 || K === 0) return null;
  const be = backend as WasmBackend;
  const g = gemmFor(wasmMemoryOf(be));
  if (!g) return null;
  const at = transposeA ? (tf.getKernel('Transpose', 'wasm')!.kernelFunc({ inputs: { x: a }, backend: be as never, attrs: { perm: [...batchA.map((_, i) => i), batchA.length + 1, batchA.length] } as never }) as tf.TensorInfo) : a;
  const out = be.makeOutput([...(batchA.length >= batchB.length ? batchA : batchB), M, N], 'float32');
  const packed = be.makeOutput([packedFloats(K, N)], 'float32');
  const addr = (t: tf.TensorInfo): number => be.dataIdMap.get(t.dataId)!.memoryOffset;
  (transposeB ? g.packT : g.pack)(addr(b), addr(packed), K, N);
  g.gemm(addr(at), K * F, F, addr(packed), addr(out), M, K, N, groupColumns(K));
  be.disposeData(packed.dataId, true);
  if (at !== a) be.disposeData(at.dataId, true);
  return out;
}
