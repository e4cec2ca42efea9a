/**
 * Where a Transformer training step's time goes on one wasm thread (one shard step, Adam included,
 * after warm-up): `npx tsx bench/gpt-profile.ts WIDTH LAYERS HEADS CONTEXT ROWS`.
 *
 * Times are CPU time of this process (process.cpuUsage), not wall time: on a machine shared with
 * other work the wall clock mostly measures the others. It prints the step's CPU time, the FMA
 * GEMM's own share of it by product shape (M x K x N, with GFLOP/s), the step with every product
 * skipped (what is not products: packing, copies, transposes, attention's softmax, LayerNorm, GELU,
 * Adam), and tf.profile's kernels in that product-less step. Kernel times of ops that run other
 * kernels inside (customGrad's "forward") are left out.
 */
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from '../src/engine/backend.ts';
import { gemmFor, type Gemm } from '../src/engine/fused/gemm.ts';
import { wasmMemoryOf } from '../src/engine/fused/heap.ts';
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
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const bestOf = (n: number) => {
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = cpu();
    step();
    best = Math.min(best, cpu() - t0);
  }
  return best;
};

const g = gemmFor(wasmMemoryOf(tf.backend() as never)) as Gemm | null;
if (!g) throw new Error('gpt-profile: the FMA GEMM does not load here (relaxed SIMD)');
const product = g.gemm;
step();
step();
const ms = bestOf(3);
console.log(`step ${ms.toFixed(0)} ms CPU (best of 3), ${Math.round((B * T) / (ms / 1000))} chars per CPU-second on one thread`);

// The GEMM's own CPU time by shape, over 3 steps.
const byShape = new Map<string, { ms: number; calls: number; flop: number }>();
g.gemm = (a, rs, ks, bp, c, M, K, N, G) => {
  const t0 = cpu();
  product(a, rs, ks, bp, c, M, K, N, G);
  const key = `${M} x ${K} x ${N}`;
  const e = byShape.get(key) ?? { ms: 0, calls: 0, flop: 0 };
  e.ms += cpu() - t0;
  e.calls++;
  e.flop += 2 * M * K * N;
  byShape.set(key, e);
};
for (let i = 0; i < 3; i++) step();
let gemmMs = 0;
for (const e of byShape.values()) gemmMs += e.ms / 3;
console.log(`products (FMA GEMM kernel only) ${gemmMs.toFixed(0)} ms a step:`);
for (const [k, e] of [...byShape.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 16)) {
  console.log(
    `  ${k.padEnd(20)} ${(e.ms / 3).toFixed(1).padStart(7)} ms  ${String(e.calls / 3).padStart(4)} calls  ${(e.flop / e.ms / 1e6).toFixed(1)} GFLOP/s`,
  );
}

// The same step with every product skipped: the rest of the step (its numbers are garbage, its time is not).
g.gemm = () => {};
step();
console.log(`step without the products ${bestOf(3).toFixed(0)} ms CPU; its kernels:`);
(tf.backend() as unknown as { time(f: () => void): Promise<{ kernelMs: number }> }).time = async (f) => {
  const t0 = cpu();
  f();
  return { kernelMs: cpu() - t0 };
};
const prof = await tf.profile(() => void step());
const agg = new Map<string, number>();
for (const k of prof.kernels) if (k.name !== 'forward') agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
for (const [k, t] of [...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`  ${k.padEnd(24)} ${t.toFixed(1)}`);
g.gemm = product;
