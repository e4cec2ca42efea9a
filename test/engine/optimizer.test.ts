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
