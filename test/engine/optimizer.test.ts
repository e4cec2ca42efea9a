/**
 * The optimizer's one-kernel-per-variable update (cpu and wasm) against the op-by-op update it
 * replaces (CHARMER_FUSED=0), for Adam and RMSProp, with and without global-norm clipping, over a
 * few steps from the same start: weights and slot state equal within float32 rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/engine/backend.ts';
import type { OptimizerName } from '../../src/engine/config.ts';
import { Optimizer } from '../../src/engine/optimizer.ts';

// Sizes 84, 13, 60, 15: the SIMD kernels' multiple-of-4 part and the JS tail both run.
const shapes = [[7, 12], [13], [3, 4, 5], [5, 3]];

async function run(backend: 'cpu' | 'wasm', name: OptimizerName, clip: number, fused: boolean): Promise<Float32Array[]> {
  await chooseBackend(backend);
  process.env.CHARMER_FUSED = fused ? '1' : '0';
  const vars = shapes.map((s, k) => tf.tidy(() => tf.variable(tf.randomNormal(s, 0, 1, 'float32', 10 + k))));
  const opt = new Optimizer(name, vars);
  for (let step = 0; step < 4; step++) {
    // Large gradients in step 2, so clipping at 1 takes effect there.
    const grads = shapes.map((s, k) => tf.randomNormal(s, 0, step === 2 ? 5 : 0.1, 'float32', 1000 + 100 * step + k)); // seed 0 would mean unseeded
    opt.apply(grads, 0.01, clip);
    tf.dispose(grads);
  }
  const state = await opt.getState();
  const out = [...vars.map((v) => v.dataSync() as Float32Array), ...state.slots];
  opt.dispose();
  tf.dispose(vars);
  return out;
}

afterEach(() => {
  delete process.env.CHARMER_FUSED;
});

describe('optimizer update in one kernel per variable', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const name of ['adam', 'rmsprop'] as const) {
      for (const clip of [0, 1]) {
        it(`${backend} ${name}, clip ${clip}: equals the op-by-op update`, async () => {
          const want = await run(backend, name, clip, false);
          const before = tf.memory().numTensors;
          const got = await run(backend, name, clip, true);
          expect(tf.memory().numTensors).toBe(before);
          expect(got.length).toBe(want.length);
          got.forEach((g, i) => {
            let err = 0;
            for (let j = 0; j < g.length; j++) err = Math.max(err, Math.abs(g[j]! - want[i]![j]!) / (Math.abs(want[i]![j]!) + 1e-3));
            expect(err, `array ${i}`).toBeLessThan(1e-4);
          });
        });
      }
    }
  }
});

/**
 * An independent check: Adam as Kingma & Ba write it (Algorithm 1, in float64, bias-corrected
 * moments), with the global-norm clip applied by hand. The fused and the op-by-op update share
 * their step-size arithmetic, so comparing them with each other cannot catch a slip there.
 */
function adamByHand(w0: number[][], grads: number[][][], lr: number, clip: number): number[][] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const w = w0.map((a) => [...a]);
  const m = w0.map((a) => a.map(() => 0));
  const v = w0.map((a) => a.map(() => 0));
  grads.forEach((gs, step) => {
    const t = step + 1;
    const norm = Math.sqrt(gs.flat().reduce((s, g) => s + g * g, 0));
    const scale = clip > 0 ? Math.min(1, clip / (norm + 1e-6)) : 1;
    gs.forEach((g, i) =>
      g.forEach((gj0, j) => {
        const gj = gj0 * scale;
        m[i]![j] = b1 * m[i]![j]! + (1 - b1) * gj;
        v[i]![j] = b2 * v[i]![j]! + (1 - b2) * gj * gj;
        const mHat = m[i]![j]! / (1 - b1 ** t);
        const vHat = v[i]![j]! / (1 - b2 ** t);
        w[i]![j]! -= (lr * mHat) / (Math.sqrt(vHat) + eps);
      }),
    );
  });
  return w;
}

describe('Adam against a hand-computed Adam', () => {
  const r = (seed: number) => () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const next = r(42);
  const w0 = [Array.from({ length: 21 }, next), Array.from({ length: 6 }, next)];
  // Step 3's gradients are large, so the clip at 1 takes effect there.
  const grads = [0.3, 0.1, 4, 0.2].map((size) => w0.map((a) => a.map(() => next() * size)));
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const fused of [true, false]) {
      for (const clip of [0, 1]) {
        it(`${backend}, ${fused ? 'fused' : 'op-by-op'}, clip ${clip}: four steps equal the textbook update`, async () => {
          await chooseBackend(backend);
          process.env.CHARMER_FUSED = fused ? '1' : '0';
          const vars = w0.map((a) => tf.variable(tf.tensor1d(a)));
          const opt = new Optimizer('adam', vars);
          for (const g of grads) {
            const ts = g.map((a) => tf.tensor1d(a));
            opt.apply(ts, 0.01, clip);
            tf.dispose(ts);
          }
          const want = adamByHand(w0, grads, 0.01, clip);
          const got = vars.map((v) => Array.from(v.dataSync()));
          got.forEach((a, i) => a.forEach((x, j) => expect(Math.abs(x - want[i]![j]!), `weight ${i}.${j}`).toBeLessThan(2e-6)));
          opt.dispose();
          tf.dispose(vars);
        });
      }
    }
  }

  it('the first step moves every weight by the learning rate against its gradient', async () => {
    await chooseBackend('wasm');
    const vars = w0.map((a) => tf.variable(tf.tensor1d(a)));
    const opt = new Optimizer('adam', vars);
    const ts = grads[0]!.map((a) => tf.tensor1d(a));
    opt.apply(ts, 0.01, 0);
    vars.forEach((v, i) => Array.from(v.dataSync()).forEach((x, j) => expect(x - w0[i]![j]!).toBeCloseTo(-0.01 * Math.sign(grads[0]![i]![j]!), 6)));
    tf.dispose([...ts, ...vars]);
    opt.dispose();
  });
});
