/**
 * What a fused kernel is, as ./kernels.ts registers it with TF.js for the cpu and wasm backends: its
 * output shapes, a JS loop over the backend's own memory, and optionally the same as the SIMD module.
 */
import type { SimdKernels } from './simd.ts';

export type F = Float32Array;
export type Attrs = Record<string, number>;

export interface Def {
  name: string;
  outShapes(ins: number[][], a: Attrs): number[][];
  run(ins: F[], outs: F[], a: Attrs): void;
  /**
   * The same on the wasm backend with the SIMD module (./simd.ts), one call per batch row, on the
   * views' heap addresses (byteOffset) in the backend's own memory. Used when H % 4 == 0.
   */
  simd?(k: SimdKernels, ins: F[], outs: F[], a: Attrs): void;
  /** Heap scratch the SIMD variant needs (floats each), passed after the outputs, freed after. */
  simdScratch?(ins: number[][], a: Attrs): number[];
}

/** The heap address of `floats` floats into a view of the wasm heap. */
export const at = (a: F, floats: number) => a.byteOffset + 4 * floats;
