/**
 * The FMA GEMM (src/engine/fused/gemm.ts) against a float64 product in JavaScript, on its own
 * memory, for every tail its emitter has (rows past the 4-row blocks, a half panel of 4 columns,
 * K = 1, a last column group narrower than the others) and both layouts of A and B; and through tf.matMul on the wasm backend (the BatchMatMul
 * replacement, products of at least MIN_ROWS rows) against the cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/engine/backend.ts';
import { gemmFor, packedFloats, setFmaGemm } from '../../src/engine/fused/gemm.ts';
import { MIN_ROWS } from '../../src/engine/fused/wasm-matmul.ts';
import { Rng } from '../../src/engine/rng.ts';

const rng = new Rng(7);
const random = () => rng.next();
const values = (n: number) => Float32Array.from({ length: n }, () => random() - 0.5);

describe('FMA GEMM', () => {
  afterAll(() => setFmaGemm(true));

  it('is available on this runtime (relaxed SIMD, switched on at run time on Node 20)', () => {
    expect(gemmFor(new WebAssembly.Memory({ initial: 1 }))).not.toBeNull();
  });

  it('equals a float64 product for every tail and layout, and writes nothing past C', () => {
    const memory = new WebAssembly.Memory({ initial: 64 });
    const g = gemmFor(memory)!;
    const shapes = [
      [1, 1, 4],
      [3, 5, 8],
      [4, 7, 12],
      [5, 3, 4],
      [9, 17, 44],
      [25, 128, 512],
      [67, 33, 20],
      [6, 9, 60],
    ];
    for (const [M, K, N] of shapes as [number, number, number][]) {
      for (const [ta, tb, G] of [
        [false, false, undefined],
        [true, false, 8],
        [false, true, 16],
        [true, true, 24],
      ] as const) {
        const A = values(M * K);
        const Bm = values(K * N);
        const f = new Float32Array(memory.buffer);
        const [pa, pb, pp] = [0, M * K, M * K + K * N];
        const pc = pp + packedFloats(K, N);
        for (let r = 0; r < M; r++) for (let k = 0; k < K; k++) f[pa + (ta ? k * M + r : r * K + k)] = A[r * K + k]!;
        for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) f[pb + (tb ? n * K + k : k * N + n)] = Bm[k * N + n]!;
        f.fill(NaN, pc, pc + M * N + 8);
        (tb ? g.packT : g.pack)(pb * 4, pp * 4, K, N);
        g.gemm(pa * 4, ta ? 4 : K * 4, ta ? M * 4 : 4, pp * 4, pc * 4, M, K, N, G); // G undefined: the default groups
        let err = 0;
        for (let r = 0; r < M; r++) {
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += A[r * K + k]! * Bm[k * N + n]!;
            err = Math.max(err, Math.abs(s - f[pc + r * N + n]!));
          }
        }
        const where = `[${M},${K}]x[${K},${N}] transposeA ${ta} transposeB ${tb}, ${G ?? 'default'} columns a group`;
        expect(err, where).toBeLessThan(1e-5 * Math.sqrt(K));
        expect(Array.from(f.subarray(pc + M * N, pc + M * N + 8)).every(Number.isNaN), `${where}: wrote past C`).toBe(true);
      }
    }
  });

  it('transposes in 4x4 blocks: y equals xᵀ for every multiple-of-4 shape, and writes nothing past y', () => {
    const memory = new WebAssembly.Memory({ initial: 16 });
    const g = gemmFor(memory)!;
    for (const [R, C] of [
      [4, 4],
      [4, 12],
      [16, 4],
      [12, 20],
      [64, 96],
    ] as [number, number][]) {
      const x = values(R * C);
      const f = new Float32Array(memory.buffer);
      const [px, py] = [8, 8 + R * C];
      f.set(x, px);
      f.fill(NaN, py, py + R * C + 8);
      g.transpose(px * 4, py * 4, R, C);
      let wrong = 0;
      for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) if (f[py + c * R + r] !== x[r * C + c]) wrong++;
      expect(wrong, `[${R}, ${C}]`).toBe(0);
      expect(Array.from(f.subarray(py + R * C, py + R * C + 8)).every(Number.isNaN), `[${R}, ${C}]: wrote past y`).toBe(true);
    }
  });

  it('tf.matMul on wasm equals the cpu backend with the GEMM on, off, transposed, batched, and leaves no tensors', async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[MIN_ROWS, 40], [40, 12], false, false],
      [[MIN_ROWS + 5, 33], [33, 64], false, false],
      [[70, 33], [64, 70], true, true],
      [[33, 70], [33, 20], true, false],
      [[64, 72], [64, 12], true, false], // A transposed by the GEMM module's block transpose
      [[1, 68, 64], [1, 68, 16], true, false],
      [[48, 96], [12, 48], true, true],
      [[1, 90, 16], [1, 16, 24], false, false],
      [[100, 16], [16, 10], false, false], // N % 4 != 0: padded columns
      [[70, 9], [65, 9], false, true],
      [[9, 66], [9, 65], true, false],
      [[3, 16], [16, 8], false, false], // few rows: XNNPACK
    ];
    for (const [sa, sb, ta, tb] of cases) {
      const a = values(sa.reduce((p, d) => p * d, 1));
      const b = values(sb.reduce((p, d) => p * d, 1));
      const run = () => tf.tidy(() => Array.from(tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb).dataSync()));
      await chooseBackend('cpu');
      const want = run();
      await chooseBackend('wasm');
      for (const on of [true, false]) {
        setFmaGemm(on);
        const before = tf.memory().numTensors;
        const got = run();
        expect(tf.memory().numTensors).toBe(before);
        expect(got.length).toBe(want.length);
        const err = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);
        expect(err, `${sa} x ${sb} (${ta}, ${tb}), GEMM ${on}`).toBeLessThan(1e-4);
      }
    }
  });
});
