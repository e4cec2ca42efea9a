/**
 * Where a Transformer training step's time goes on one wasm thread (tf.profile of one shard step,
 * after warm-up): `npx tsx bench/gpt-profile.ts WIDTH LAYERS HEADS CONTEXT ROWS`. Kernel times of
 * ops that run other kernels inside (customGrad's "forward") include those kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from '../src/engine/backend.ts';
import { Optimizer } from '../src/engine/optimizer.ts';
import { shardGradients } from '../src/engine/train.ts';
import { benchModel } from '../src/bench/harness.ts';

const [C, L, nh, T, B] = process.argv.slice(2).map(Number) as [number, number, number, number, number];
await chooseBackend('wasm');
const V = 65;
const model = benchModel({ cell: 'transformer', layers: L, hidden: C, heads: nh, batch: B, seq: T, vocab: V });
const opt = new Optimizer('adam', model.variables);
const local = shardGradients(model);
const x = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % V);
const y = Int32Array.from({ length: B * T }, (_, i) => (i * 5) % V);
const step = () => {
  const r = local({ x, y, mask: null, rows: B, steps: T, count: B * T }, []);
  opt.apply(
    model.variables.map((v) => r.grads[v.name]!),
    1e-3,
    1,
  );
  tf.dispose(Object.values(r.grads));
  r.value.dataSync();
  r.value.dispose();
};
step();
step();
const t0 = performance.now();
for (let i = 0; i < 3; i++) step();
const ms = (performance.now() - t0) / 3;
console.log(`step ${ms.toFixed(1)} ms, ${Math.round((B * T) / (ms / 1000))} chars/s on one thread`);
const prof = await tf.profile(() => void step());
const agg = new Map<string, number>();
for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
for (const [k, t] of [...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(k.padEnd(24), t.toFixed(1));
