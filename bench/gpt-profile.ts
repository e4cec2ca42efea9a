import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { chooseBackend } from '../src/engine/backend.ts';
import { fusedCausalAttention, fusedDense, fusedGelu, fusedLayerNorm } from '../src/engine/fused/transformer-ops.ts';
import { softmaxCrossEntropy } from '../src/engine/fused/loss.ts';
import { gatherRows } from '../src/engine/fused/sequence.ts';
import { Optimizer } from '../src/engine/optimizer.ts';
import { registerFusedKernels } from '../src/engine/fused/kernels.ts';

const [C, L, nh, T, B] = process.argv.slice(2).map(Number) as [number, number, number, number, number];
await chooseBackend('wasm');
registerFusedKernels('wasm');
const V = 65;
const r = (s: number[], std = 0.02) => tf.variable(tf.randomNormal(s, 0, std));
const vars: Record<string, tf.Variable> = { tok: r([V, C]), pos: r([T, C]), lnfg: tf.variable(tf.ones([C])), lnfb: tf.variable(tf.zeros([C])), hw: r([C, V]), hb: tf.variable(tf.zeros([V])) };
for (let l = 0; l < L; l++) {
  Object.assign(vars, { [`g1${l}`]: tf.variable(tf.ones([C])), [`b1${l}`]: tf.variable(tf.zeros([C])), [`g2${l}`]: tf.variable(tf.ones([C])), [`b2${l}`]: tf.variable(tf.zeros([C])),
    [`qw${l}`]: r([C, 3 * C]), [`qb${l}`]: tf.variable(tf.zeros([3 * C])), [`pw${l}`]: r([C, C]), [`pb${l}`]: tf.variable(tf.zeros([C])),
    [`fw${l}`]: r([C, 4 * C]), [`fb${l}`]: tf.variable(tf.zeros([4 * C])), [`f2w${l}`]: r([4 * C, C]), [`f2b${l}`]: tf.variable(tf.zeros([C])) });
}
const v = (k: string) => vars[k] as unknown as tf.Tensor;
const list = Object.values(vars);
const opt = new Optimizer('adam', list);
function loss(ids: tf.Tensor1D, y: tf.Tensor1D): tf.Scalar {
  const N = B * T;
  let x = tf.reshape(tf.add(tf.reshape(gatherRows(v('tok') as tf.Tensor2D, ids), [B, T, C]), v('pos')), [N, C]) as tf.Tensor2D;
  for (let l = 0; l < L; l++) {
    const h = fusedLayerNorm(x, v(`g1${l}`) as tf.Tensor1D, v(`b1${l}`) as tf.Tensor1D)! as tf.Tensor2D;
    const qkv = tf.reshape(fusedDense(h, v(`qw${l}`) as tf.Tensor2D, v(`qb${l}`) as tf.Tensor1D), [B, T, 3 * C]) as tf.Tensor3D;
    const a = tf.reshape(fusedCausalAttention(qkv, nh)!, [N, C]) as tf.Tensor2D;
    x = tf.add(x, fusedDense(a, v(`pw${l}`) as tf.Tensor2D, v(`pb${l}`) as tf.Tensor1D));
    const h2 = fusedLayerNorm(x, v(`g2${l}`) as tf.Tensor1D, v(`b2${l}`) as tf.Tensor1D)! as tf.Tensor2D;
    const m = fusedGelu(fusedDense(h2, v(`fw${l}`) as tf.Tensor2D, v(`fb${l}`) as tf.Tensor1D))!;
    x = tf.add(x, fusedDense(m, v(`f2w${l}`) as tf.Tensor2D, v(`f2b${l}`) as tf.Tensor1D));
  }
  const logits = fusedDense(fusedLayerNorm(x, v('lnfg') as tf.Tensor1D, v('lnfb') as tf.Tensor1D)! as tf.Tensor2D, v('hw') as tf.Tensor2D, v('hb') as tf.Tensor1D);
  return tf.mean(softmaxCrossEntropy(logits, y));
}
const ids = tf.tensor1d(Int32Array.from({ length: B * T }, (_, i) => (i * 7) % V), 'int32');
const y = tf.tensor1d(Int32Array.from({ length: B * T }, (_, i) => (i * 5) % V), 'int32');
const step = () => {
  const { value, grads } = tf.variableGrads(() => loss(ids, y), list);
  opt.apply(list.map((x) => grads[x.name]!), 1e-3, 1);
  tf.dispose(Object.values(grads));
  const l = value.dataSync()[0];
  value.dispose();
  return l;
};
for (let i = 0; i < 2; i++) console.log('loss', step());
const t0 = performance.now();
const n = 5;
for (let i = 0; i < n; i++) step();
const ms = (performance.now() - t0) / n;
console.log(`step ${ms.toFixed(1)} ms, ${Math.round((B * T) / (ms / 1000))} chars/s on one thread`);
const prof = await tf.profile(() => void step());
const agg = new Map<string, number>();
for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
const tot = [...agg.values()].reduce((a, b) => a + b, 0);
console.log('kernel total', tot.toFixed(1));
for (const [k, t] of [...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(k.padEnd(28), t.toFixed(1));
