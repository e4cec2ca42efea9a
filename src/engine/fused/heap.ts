/**
 * The wasm backend's heap as our code reads it: its WebAssembly.Memory, and views of tensors'
 * storage on it without a copy.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** The parts of TF.js's wasm backend that the heap views need. */
export interface HeapBackend {
  /** Looking a tensor up moves it onto the heap when another backend still holds it. */
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  /** The emscripten Module: its instance's exports (asm) hold the heap's WebAssembly.Memory. */
  wasm?: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory; HEAPU8?: Uint8Array };
}

/** A wasm backend's heap as a WebAssembly.Memory (what our modules import). */
export const wasmMemoryOf = (b: Pick<HeapBackend, 'wasm'>) => b.wasm?.asm?.memory ?? b.wasm?.wasmMemory;

const VIEW = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;

/**
 * Views of tensors' storage on a wasm backend's heap, no copy. Every tensor is looked up before
 * any view is made: a look-up moves a tensor that another backend still holds (a checkpoint loaded
 * before the backend was chosen) onto the heap, which may grow it and detach every view made
 * before. The backend's own typedArrayFromHeap takes the heap's buffer before its look-up, so it
 * throws "detached ArrayBuffer" on exactly such a tensor. A view stays valid until the next
 * allocation: use it at once.
 */
export function heapViews(b: HeapBackend, ts: tf.TensorInfo[]): Array<Float32Array | Int32Array | Uint8Array> {
  const offsets = ts.map((t) => b.dataIdMap.get(t.dataId)!.memoryOffset);
  const buffer = (wasmMemoryOf(b)?.buffer ?? b.wasm!.HEAPU8!.buffer) as ArrayBuffer;
  return ts.map((t, i) => {
    const View = VIEW[t.dtype as keyof typeof VIEW];
    if (!View) throw new Error(`no heap view for ${t.dtype} tensors`);
    return new View(
      buffer,
      offsets[i],
      t.shape.reduce((p, d) => p * d, 1),
    );
  });
}
