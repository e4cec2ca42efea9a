/**
 * The engine's FMA GEMM (src/engine/fused/gemm.ts) against TF.js wasm's XNNPACK, through
 * tf.matMul as the engine calls it (so the FMA side includes packing B at every call), on the
 * product shapes of a 2x128 and a 2x512 training step (one thread's shard of batch 50: 25 rows a
 * step, 1,250 a sequence), and a row sweep at the threshold below which XNNPACK keeps the product
 * (MIN_ROWS in src/engine/fused/wasm-matmul.ts; XNNPACK caches a weight's packed form, so the
 * sweep multiplies by one weight again and again, as sampling does). One JSON line per shape.
 *
 *   npx tsx bench/fma-gemm.ts
 */
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from '../src/engine/backend.ts';
import { gemmFor, setFmaGemm } from '../src/engine/fused/gemm.ts';
import { wasmMemoryOf } from '../src/engine/fused/heap.ts';
import { MIN_ROWS } from '../src/engine/fused/wasm-matmul.ts';
import { bestMs } from './best-window.ts';

// [what, M, K, N, transposeA]
const shapes: [string, number, number, number, boolean][] = [];
for (const H of [128, 512]) {
  shapes.push(
    [`${H}: input projection x·W`, 1250, H, 4 * H, false],
    [`${H}: weight gradient hᵀ·dz (transposeA)`, H, 1250, 4 * H, true],
    [`${H}: weight gradient hᵀ·dz (hᵀ given)`, H, 1250, 4 * H, false],
    [`${H}: input gradient dz·Wᵀ`, 1250, 4 * H, H, false],
  );
}
for (const M of [16, 32, MIN_ROWS, 128]) shapes.push([`row sweep, same weight`, M, 512, 2048, false]);

await chooseBackend('wasm');
const available = !!gemmFor(wasmMemoryOf(tf.backend() as never));
for (const [what, M, K, N, ta] of shapes) {
  const a = tf.randomNormal(ta ? [K, M] : [M, K]) as tf.Tensor2D;
  const b = tf.randomNormal([K, N]) as tf.Tensor2D;
  const run = () => tf.matMul(a, b, ta, false);
  const time = (on: boolean) => {
    setFmaGemm(on);
    const out = run();
    const values = out.dataSync().slice();
    out.dispose();
    return { ms: bestMs(() => run().dispose()), values };
  };
  const xnn = time(false);
  const fma = time(true);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < xnn.values.length; i++) {
    diff = Math.max(diff, Math.abs(fma.values[i]! - xnn.values[i]!));
    scale = Math.max(scale, Math.abs(xnn.values[i]!));
  }
  tf.dispose([a, b]);
  const gflop = (2 * M * K * N) / 1e6;
  console.log(
    JSON.stringify({
      shape: what,
      M,
      K,
      N,
      fma_available: available,
      fma_used: M >= MIN_ROWS,
      xnnpack_gflops: +(gflop / xnn.ms).toFixed(1),
      engine_gflops: +(gflop / fma.ms).toFixed(1),
      ratio: +(xnn.ms / fma.ms).toFixed(2),
      max_rel_diff: +(diff / scale).toExponential(1),
    }),
  );
}
