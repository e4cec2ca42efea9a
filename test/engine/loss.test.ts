/**
 * The fused softmax cross-entropy (src/engine/fused/loss.ts) against the stock formula
 * -Σ onehot(y)·logSoftmax(logits): values and gradients, on cpu and wasm, with targets out of
 * range (which count as zero) and large logits (the max is subtracted before exp).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients'; // the stock ops' gradients (tfjs-layers registers them in the app)
import { describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/engine/backend.ts';
import { softmaxCrossEntropy } from '../../src/engine/fused/loss.ts';

const stock = (z: tf.Tensor2D, y: tf.Tensor1D) => tf.neg(tf.sum(tf.mul(tf.oneHot(y, z.shape[1]), tf.logSoftmax(z)), 1));

describe('softmax cross-entropy', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`on ${backend}: values and gradients equal the stock ops`, async () => {
      await chooseBackend(backend);
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const [N, V] = [7, 11];
        const z = tf.add(tf.mul(tf.randomNormal([N, V], 0, 3, 'float32', 4), 1), tf.tensor1d([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 90])) as tf.Tensor2D;
        const y = tf.tensor1d([0, 10, 3, -1, 11, 5, 10], 'int32');
        const w = tf.tensor1d([1, 2, 3, 4, 5, 6, 7]); // a different weight per row, so dy is not uniform
        const lossOf = (f: typeof stock) => (x: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D, y), w));
        const got = softmaxCrossEntropy(z, y).arraySync();
        const want = stock(z, y).arraySync() as number[];
        got.forEach((g, i) => expect(g, `row ${i}`).toBeCloseTo(want[i]!, 4));
        expect(got[3]).toBe(0);
        expect(got[4]).toBe(0);
        const gGot = tf.grad(lossOf(softmaxCrossEntropy))(z).arraySync() as number[][];
        const gWant = tf.grad(lossOf(stock))(z).arraySync() as number[][];
        gGot.forEach((row, i) => row.forEach((g, k) => expect(g, `gradient [${i}, ${k}]`).toBeCloseTo(gWant[i]![k]!, 4)));
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
