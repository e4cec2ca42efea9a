/**
 * One training step's arithmetic and the validation loss, shared by the trainer (./train-loop.ts),
 * the data-parallel workers (./parallel), the benchmark and the tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './batches.ts';
import { linesBatch, textEvalBatches } from './batches.ts';
import type { Split } from './corpus.ts';
import type { CharModel } from './model.ts';
import { softmaxCrossEntropy } from './fused/loss.ts';
import type { LocalStep } from './parallel/pool.ts';
import type { LayerState } from './recurrent.ts';

export function maskedLoss(logits: tf.Tensor2D, y: tf.Tensor1D, mask: tf.Tensor1D | null, count: number): tf.Scalar {
  const nll = softmaxCrossEntropy(logits, y);
  return tf.div(tf.sum(mask ? tf.mul(nll, mask) : nll), count) as tf.Scalar;
}

function batchTensors(b: Batch): { x: tf.Tensor2D; y: tf.Tensor1D; mask: tf.Tensor1D | null } {
  return {
    x: tf.tensor2d(b.x, [b.rows, b.steps], 'int32'),
    y: tf.tensor1d(b.y, 'int32'),
    mask: b.mask ? tf.tensor1d(b.mask) : null,
  };
}

/**
 * One thread's part of a training step (src/engine/parallel): the loss, the gradient of every
 * variable and the next carried state for a batch or a shard of it. The trainer, the data-parallel
 * workers, the benchmark and the tests all step through this.
 */
export function shardGradients(model: CharModel, dropoutSeed?: number): LocalStep {
  return (sb, prev) => {
    const t = batchTensors(sb);
    let next: LayerState[] = [];
    const r = tf.variableGrads(() => {
      const f = model.forward(t.x, prev, dropoutSeed);
      next = f.state.map((l) => l.map((s) => tf.keep(s)));
      return maskedLoss(f.logits, t.y, t.mask, sb.count);
    }, model.variables);
    tf.dispose([t.x, t.y, ...(t.mask ? [t.mask] : [])]);
    return { ...r, next };
  };
}

export function disposeState(s: LayerState[]): void {
  for (const l of s) for (const t of l) t.dispose();
}

/** Mean loss per character over the whole validation split (nats/char). */
export async function evaluate(model: CharModel, val: Split, batch: number, seq: number, signal?: AbortSignal): Promise<number> {
  const marker = model.vocab.indexOf('\n');
  const batches: Iterable<Batch> =
    val.mode === 'text'
      ? textEvalBatches(val.data, batch, seq)
      : (function* () {
          // Similar lengths together, so little of each batch is padding.
          const items = [...val.items].sort((a, b) => a.length - b.length);
          for (let i = 0; i < items.length; i += batch) yield linesBatch(items.slice(i, i + batch), marker);
        })();
  let total = tf.scalar(0);
  let count = 0;
  let state: LayerState[] | null = null;
  let n = 0;
  for (const b of batches) {
    if (signal?.aborted) break;
    const prev: LayerState[] = val.mode === 'text' && state ? state : model.zeroState(b.rows);
    const out = tf.tidy(() => {
      const t = batchTensors(b);
      const r = model.forward(t.x, prev);
      return { state: r.state, total: tf.add(total, tf.mul(maskedLoss(r.logits, t.y, t.mask, b.count), b.count)) };
    });
    disposeState(prev);
    // Lines mode starts every batch from zero: the state each batch ends with is not carried, so
    // it goes now (it used to stay, 64 tensors per evaluation of a 2-layer LSTM, found by the soak).
    if (val.mode === 'lines' && state) disposeState(state);
    total.dispose();
    total = out.total as tf.Scalar;
    state = out.state as LayerState[];
    count += b.count;
    if (++n % 8 === 0) await new Promise((r) => setImmediate(r));
  }
  if (state) disposeState(state);
  const sum = (await total.data())[0]!;
  total.dispose();
  return count > 0 ? sum / count : NaN;
}
