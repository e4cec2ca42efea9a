/**
 * backend.ts's wasm kernel replacements give what the stock kernels give: Slice read through a heap
 * view (the stock one copies its whole input first), Identity sharing storage (the stock one
 * copies), UnsortedSegmentSum (missing from wasm) and transposed matMul (transposed explicitly
 * first), checked against the plain-JS cpu backend or known values.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { chooseBackend, hostView } from '../../src/engine/backend.ts';
import { wasmMemoryOf } from '../../src/engine/fused/heap.ts';

async function on<T>(backend: 'cpu' | 'wasm', f: () => T): Promise<T> {
  await chooseBackend(backend);
  return f();
}

describe('wasm kernel replacements', () => {
  it('Slice equals the cpu backend for every rank, partial and whole axes, float32 and int32', async () => {
    const cases: Array<[number[], number[], number[]]> = [
      [[7], [2], [4]],
      [
        [5, 6],
        [1, 0],
        [3, 6],
      ],
      [
        [5, 6],
        [0, 2],
        [5, 3],
      ],
      [
        [4, 5, 6],
        [1, 2, 0],
        [2, 3, 6],
      ],
      [
        [4, 5, 6],
        [0, 0, 1],
        [4, 5, 4],
      ],
      [
        [4, 5, 6],
        [3, 0, 0],
        [1, 5, 6],
      ],
      [
        [3, 4, 5, 6],
        [1, 1, 2, 3],
        [2, 3, 2, 3],
      ],
      [
        [3, 4, 5, 6],
        [0, 0, 0, 0],
        [3, 4, 5, 6],
      ],
      [
        [3, 4],
        [1, 1],
        [0, 2],
      ],
    ];
    for (const [shape, begin, size] of cases) {
      for (const dtype of ['float32', 'int32'] as const) {
        const n = shape.reduce((p, d) => p * d, 1);
        const values = Array.from({ length: n }, (_, i) => (i * 37) % 101);
        const run = () => tf.tidy(() => Array.from(tf.slice(tf.tensor(values, shape, dtype), begin, size).dataSync()));
        const want = await on('cpu', run);
        const got = await on('wasm', run);
        expect(got, `${dtype} ${shape} at ${begin} size ${size}`).toEqual(want);
      }
    }
  });

  it('Identity (tf.clone) shares storage safely: the clone outlives its source, variables stay separate', async () => {
    await chooseBackend('wasm');
    const before = tf.memory().numTensors;
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const b = tf.clone(a);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4]);
    const v = tf.variable(b);
    tf.tidy(() => v.assign(tf.mul(v, 2)));
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4]);
    expect(Array.from(v.dataSync())).toEqual([2, 4, 6, 8]);
    tf.dispose([b, v]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('UnsortedSegmentSum (SIMD rows and JS rows) equals the cpu backend, ignoring ids out of range', async () => {
    for (const inner of [8, 6, 1]) {
      const ids = [3, 0, 3, -1, 1, 3, 7, 0];
      const x = Array.from({ length: ids.length * inner }, (_, i) => Math.sin(i) * 10);
      const run = () => tf.tidy(() => Array.from(tf.unsortedSegmentSum(tf.tensor2d(x, [ids.length, inner]), tf.tensor1d(ids, 'int32'), 5).dataSync()));
      const want = await on('cpu', run);
      const got = await on('wasm', run);
      expect(got.length, `inner ${inner}`).toBe(5 * inner);
      got.forEach((g, i) => expect(g, `inner ${inner}, element ${i}`).toBeCloseTo(want[i]!, 4));
    }
  });

  it('matMul with transposed operands equals the cpu backend', async () => {
    const a = Array.from({ length: 6 * 4 }, (_, i) => Math.sin(i));
    const b = Array.from({ length: 6 * 5 }, (_, i) => Math.cos(i));
    const run = () => tf.tidy(() => Array.from(tf.matMul(tf.tensor2d(a, [6, 4]), tf.tensor2d(b, [5, 6]), true, true).dataSync()));
    const want = await on('cpu', run);
    const got = await on('wasm', run);
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 5));
  });
});

describe('a tensor made before the wasm backend was chosen', () => {
  // A checkpoint loaded before the backend is chosen leaves its weights with the cpu backend; wasm
  // moves each onto its heap at first use, and a big one grows the heap, which detaches every view
  // taken before (charmer train --resume of a 2x384 LSTM crashed so in the first weight sync).
  const heapBytes = () => wasmMemoryOf(tf.backend() as never)!.buffer.byteLength;
  async function onCpuBiggerThanTheHeap(): Promise<{ t: tf.Tensor2D; values: Float32Array; heap: number }> {
    await chooseBackend('wasm');
    const heap = heapBytes();
    await chooseBackend('cpu');
    const values = new Float32Array(heap / 4 + 1024); // more than the whole heap: moving it must grow it
    for (let i = 0; i < values.length; i++) values[i] = (i * 7) % 1009;
    const t = tf.tensor2d(values, [values.length / 4, 4]);
    await chooseBackend('wasm');
    return { t, values, heap };
  }
  const mismatches = (got: ArrayLike<number>, want: ArrayLike<number>) => {
    let n = Math.abs(got.length - want.length);
    for (let i = 0; i < Math.min(got.length, want.length); i++) if (got[i] !== want[i]) n++;
    return n;
  };

  it('hostView moves it onto the heap, growing the heap, and reads its values', async () => {
    const { t, values, heap } = await onCpuBiggerThanTheHeap();
    const view = hostView(t)!;
    expect(heapBytes()).toBeGreaterThan(heap);
    expect(mismatches(view, values)).toBe(0);
    t.dispose();
  });

  it('Slice reads it through the grown heap', async () => {
    const { t, values, heap } = await onCpuBiggerThanTheHeap();
    const row = t.shape[0] - 1500;
    const got = tf.tidy(() => tf.slice(t, [row, 0], [1000, 4]).dataSync());
    expect(heapBytes()).toBeGreaterThan(heap);
    expect(mismatches(got, values.subarray(row * 4, (row + 1000) * 4))).toBe(0);
    t.dispose();
  });

  it('UnsortedSegmentSum reads it through the grown heap', async () => {
    const { t, values, heap } = await onCpuBiggerThanTheHeap();
    const ids = tf.tensor1d(
      Int32Array.from({ length: t.shape[0] }, (_, r) => r % 2),
      'int32',
    );
    const got = tf.tidy(() => tf.unsortedSegmentSum(t, ids, 2).dataSync());
    ids.dispose();
    expect(heapBytes()).toBeGreaterThan(heap);
    // Summed in float32, row by row, as the kernel adds.
    const want = new Float32Array(8);
    for (let i = 0; i < values.length; i++) want[((i >> 2) % 2) * 4 + (i % 4)]! += values[i]!;
    expect(mismatches(got, want)).toBe(0);
    t.dispose();
  });
});
