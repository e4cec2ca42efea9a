/**
 * Softmax cross-entropy as one op: per-row negative log-likelihood of the targets, with the
 * gradient (softmax - onehot(y))·dy from the probabilities the forward pass saved. On cpu and wasm
 * the forward is one kernel (CharmerSoftmaxXent, ./kernels.ts); elsewhere the stock ops run.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerFusedKernels, runFused } from './kernels.ts';

/** -log softmax(logits)[y] for every row; 0 for a y outside [0, V). */
export function softmaxCrossEntropy(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  const V = logits.shape[1];
  if (y.dtype !== 'int32' || !registerFusedKernels(tf.getBackend())) return tf.neg(tf.sum(tf.mul(tf.oneHot(y, V), tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
  const f = tf.customGrad(((z: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const [nll, p] = runFused('CharmerSoftmaxXent', [z, y], {}) as [tf.Tensor1D, tf.Tensor2D];
    save([p]);
    return {
      value: nll,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        // p's rows are zero where y is out of range, and so is onehot(y): a zero gradient there.
        return [tf.mul(tf.sub(saved[0]!, tf.oneHot(y, V)), tf.expandDims(dy, 1))];
      },
    };
  }) as never) as unknown as (z: tf.Tensor2D) => tf.Tensor1D;
  return f(logits);
}
