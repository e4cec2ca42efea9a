/**
 * The machine's matrix-product throughput as TF.js sees it: [2500x512]·[512x2048] float32 matMuls
 * on the wasm backend, on one thread and on `threads` worker threads at once (summed), in GFLOP/s.
 * This is the bound the issue compares training against: chars/s <= GFLOP/s / FLOPs per char.
 * tf.matMul runs these through the engine's own product where the engine's do (the FMA GEMM of
 * src/engine/fused/gemm.ts, with B packed at every call, where relaxed SIMD is available), so the
 * bound is the fastest product training itself can use, not XNNPACK's slower rate.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from '../engine/backend.ts';

const [M, K, N] = [2500, 512, 2048];

async function gflopsHere(seconds: number): Promise<number> {
  await chooseBackend('wasm');
  const a = tf.randomNormal([M, K]);
  const b = tf.randomNormal([K, N]);
  tf.matMul(a, b).dispose();
  const t0 = performance.now();
  let n = 0;
  while (n < 2 || performance.now() - t0 < seconds * 1000) {
    const c = tf.matMul(a, b);
    c.dataSync(); // outside tidy (docs/DESIGN.md)
    c.dispose();
    n++;
  }
  const s = (performance.now() - t0) / 1000;
  tf.dispose([a, b]);
  return (2 * M * K * N * n) / s / 1e9;
}

/** Sum of GFLOP/s over `threads` worker threads running at the same time. */
export async function matmulGflops(threads: number, seconds = 3): Promise<{ one: number; all: number; threads: number }> {
  const one = await gflopsHere(Math.min(seconds, 2));
  const runs = Array.from(
    { length: threads },
    () =>
      new Promise<number>((resolve, reject) => {
        const w = new Worker(new URL('./matmul-worker.mjs', import.meta.url), { workerData: { seconds } });
        w.once('message', (g: number) => {
          resolve(g);
          void w.terminate();
        });
        w.once('error', reject);
      }),
  );
  const all = (await Promise.all(runs)).reduce((s, g) => s + g, 0);
  return { one, all, threads };
}

if (!isMainThread && (workerData as { seconds?: number })?.seconds) {
  parentPort!.postMessage(await gflopsHere((workerData as { seconds: number }).seconds));
}
