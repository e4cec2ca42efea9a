/**
 * How near the engine's matrix products are to what WebAssembly can do on this CPU, beside
 * PyTorch's on the same shapes: the question behind issue 19's width-384 target (1.5x PyTorch's
 * Transformer training speed), where products are most of a step.
 *
 * - ceiling: a loop of 12 independent `f32x4.relaxed_madd` chains, nothing else (no loads): the
 *   most floating-point work one thread of 128-bit WebAssembly SIMD gets from a core here.
 * - engine: tf.matMul on the wasm backend with the engine's FMA GEMM (packing included, as training
 *   calls it), one thread, on the products of one layer of a 4 x 384 Transformer's step (batch 32 x
 *   context 64 split over two threads: 1,024 rows each): forward, input gradient and weight gradient.
 * - pytorch: torch.mm on the same shapes, one thread (`/usr/bin/python3`, OpenBLAS held to one thread
 *   too), and its own large square product.
 *
 * One JSON line per shape and a summary line (flop-weighted GFLOP/s). Run it on a quiet machine:
 *
 *   npx tsx bench/gemm-ceiling.ts
 */
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from '../src/engine/backend.ts';
import { setFmaGemm } from '../src/engine/fused/gemm.ts';
import { bestMs } from './best-window.ts';
import { f4, get, i32c, Locals, repeat, set, simd, stepWhile, wasmModule } from '../src/engine/fused/wasm-emit.ts';

const ROWS = 1024;
const C = 384;
// [what, M, K, N, transposeA]: per layer, q/k/v, attention output, MLP up, MLP down
const forward: [string, number, number][] = [
  ['qkv', C, 3 * C],
  ['attention out', C, C],
  ['mlp up', C, 4 * C],
  ['mlp down', 4 * C, C],
];
const shapes: [string, number, number, number, boolean][] = forward.flatMap(([what, K, N]): [string, number, number, number, boolean][] => [
  [`${what}: x·W`, ROWS, K, N, false],
  [`${what}: dy·Wᵀ`, ROWS, N, K, false],
  [`${what}: xᵀ·dy`, K, ROWS, N, true],
]);

/** GFLOP/s of 12 independent fused multiply-add chains in four lanes (96 flops an iteration). */
function simdCeiling(): number {
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  const L = new Locals(1, 'ceiling');
  const count = L.i();
  const acc = Array.from({ length: 12 }, () => L.v());
  const [x, y] = [L.v(), L.v()];
  const body = [
    ...set(x, f4(0.999999)),
    ...set(y, f4(1e-7)),
    ...set(count, i32c(0)),
    ...repeat(
      acc.flatMap((a) => set(a, [...get(a), ...get(x), ...get(y), ...simd(0x105)])),
      stepWhile(count, i32c(1), get(0)),
    ),
    // the sum's first lane, so that no chain is dead code
    ...acc.slice(1).reduce((s, a) => [...s, ...get(a), ...simd(0xe4)], get(acc[0]!)),
    ...simd(0x1f),
    0,
  ];
  const bytes = wasmModule([{ name: 'peak', params: 1, returnsF32: true, code: L.fn(body) }]);
  const memory = new WebAssembly.Memory({ initial: 1 });
  const peak = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.peak as (n: number) => number;
  const n = 1_000_000;
  return (96 * n) / (bestMs(() => peak(n), 200) / 1000) / 1e9;
}

function engine(): number[] {
  setFmaGemm(true);
  return shapes.map(([, M, K, N, ta]) => {
    const a = tf.randomNormal(ta ? [K, M] : [M, K]) as tf.Tensor2D;
    const b = tf.randomNormal([K, N]) as tf.Tensor2D;
    const s = bestMs(() => tf.matMul(a, b, ta, false).dispose(), 200) / 1000;
    tf.dispose([a, b]);
    return (2 * M * K * N) / s / 1e9;
  });
}

const PYTHON = `
import json, sys, time, torch
torch.set_num_threads(1)
def best(fn, window=0.2, windows=5):
    b = float('inf')
    for _ in range(windows):
        t0 = time.perf_counter(); n = 0
        while True:
            fn(); n += 1
            if time.perf_counter() - t0 >= window: break
        b = min(b, (time.perf_counter() - t0) / n)
    return b
out = []
for M, K, N, ta in json.loads(sys.argv[1]):
    a = torch.randn(K, M) if ta else torch.randn(M, K)
    b = torch.randn(K, N)
    f = (lambda: torch.mm(a.t(), b)) if ta else (lambda: torch.mm(a, b))
    out.append(2 * M * K * N / best(f) / 1e9)
a = torch.randn(1536, 1536)
out.append(2 * 1536 ** 3 / best(lambda: torch.mm(a, a)) / 1e9)
print(json.dumps(out))
`;

function pytorch(): { shapes: number[]; square: number } | null {
  const r = spawnSync('/usr/bin/python3', ['-c', PYTHON, JSON.stringify(shapes.map(([, M, K, N, ta]) => [M, K, N, ta]))], {
    encoding: 'utf8',
    // OpenBLAS starts threads of its own unless told: one thread, as the engine's side.
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
  });
  if (r.status !== 0) return null;
  const all = JSON.parse(r.stdout.trim()) as number[];
  return { shapes: all.slice(0, -1), square: all.at(-1)! };
}

/** Flop-weighted GFLOP/s over the shapes (total flops over total time). */
function overall(gflops: number[]): number {
  const flops = shapes.map(([, M, K, N]) => 2 * M * K * N);
  const seconds = flops.reduce((s, f, i) => s + f / gflops[i]!, 0);
  return flops.reduce((s, f) => s + f, 0) / seconds;
}

await chooseBackend('wasm');
const ceiling = simdCeiling();
const ours = engine();
const torch = pytorch();
shapes.forEach(([what, M, K, N], i) =>
  console.log(JSON.stringify({ shape: what, M, K, N, engine_gflops: +ours[i]!.toFixed(1), pytorch_gflops: torch ? +torch.shapes[i]!.toFixed(1) : null })),
);
console.log(
  JSON.stringify({
    kind: 'summary',
    threads: 1,
    wasm_simd128_fma_ceiling_gflops: +ceiling.toFixed(1),
    engine_gflops: +overall(ours).toFixed(1),
    engine_of_ceiling: +(overall(ours) / ceiling).toFixed(2),
    pytorch_gflops: torch ? +overall(torch.shapes).toFixed(1) : null,
    pytorch_square_1536_gflops: torch ? +torch.square.toFixed(1) : null,
    pytorch_over_ceiling: torch ? +(overall(torch.shapes) / ceiling).toFixed(2) : null,
  }),
);
