/**
 * Recurrent cells as plain functions of their weights, in the exact layout of TF.js's stock layers
 * (kernel [in, G*H], recurrent_kernel [H, G*H], bias [G*H]; LSTM gates i, f, c, o; GRU gates z, r, h
 * with the reset applied before the recurrent product, reset_after = false), so a model trained
 * here is an ordinary tf.layers model. The input projection of all time steps is one matrix
 * product; each step then costs one recurrent product plus the gate arithmetic.
 *
 * This is the reference implementation (differentiable by TF.js autodiff, any backend). The fused
 * implementations in ./fused plug in through `setSequenceImpl` with the same contract.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CellType } from './config.ts';
import { normCellStep, type CellNormWeights } from './cellnorm.ts';

export interface LayerWeights {
  kernel: tf.Tensor2D;
  recurrentKernel: tf.Tensor2D;
  bias: tf.Tensor1D;
  /** Layer-normalised cells (--cell-norm layer): the gains. The fused kernels do not run these. */
  norm?: CellNormWeights;
}

/** LSTM: [h, c]; GRU and RNN: [h]. Each [batch, hidden]. */
export type LayerState = tf.Tensor2D[];

export function gateCount(cell: CellType): number {
  return cell === 'lstm' ? 4 : cell === 'gru' ? 3 : 1;
}

export function stateSize(cell: CellType): number {
  return cell === 'lstm' ? 2 : 1;
}

export function zeroState(cell: CellType, batch: number, hidden: number): LayerState {
  return Array.from({ length: stateSize(cell) }, () => tf.zeros([batch, hidden]) as tf.Tensor2D);
}

/**
 * One time step from a precomputed input projection xp = x·kernel + bias ([batch, G*H]): the next
 * state, [h, c] for an LSTM (c as the cell keeps it, before the output tanh), [h] otherwise.
 */
export function cellStep(cell: CellType, w: LayerWeights, xp: tf.Tensor2D, state: LayerState): LayerState {
  if (w.norm) return normCellStep(cell, w.recurrentKernel, w.bias, w.norm, xp, state);
  const h = state[0]!;
  const H = h.shape[1];
  if (cell === 'lstm') {
    const z = tf.add(xp, tf.matMul(h, w.recurrentKernel));
    const [zi, zf, zc, zo] = tf.split(z, 4, 1) as tf.Tensor2D[];
    const c = tf.add(tf.mul(tf.sigmoid(zf!), state[1]!), tf.mul(tf.sigmoid(zi!), tf.tanh(zc!)));
    return [tf.mul(tf.sigmoid(zo!), tf.tanh(c)) as tf.Tensor2D, c as tf.Tensor2D];
  }
  if (cell === 'gru') {
    const [rk1, rk2] = tf.split(w.recurrentKernel, [2 * H, H], 1) as tf.Tensor2D[];
    const [xz, xr, xh] = tf.split(xp, 3, 1) as tf.Tensor2D[];
    const [hz, hr] = tf.split(tf.matMul(h, rk1!), 2, 1) as tf.Tensor2D[];
    const z = tf.sigmoid(tf.add(xz!, hz!));
    const r = tf.sigmoid(tf.add(xr!, hr!));
    const hh = tf.tanh(tf.add(xh!, tf.matMul(tf.mul(r, h), rk2!)));
    return [tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), hh)) as tf.Tensor2D];
  }
  return [tf.tanh(tf.add(xp, tf.matMul(h, w.recurrentKernel))) as tf.Tensor2D];
}

/** Input projection for every step at once: [B, T, I] -> [B, T, G*H] (normalised cells: without the bias, added after). */
export function projectInputs(w: LayerWeights, x: tf.Tensor3D): tf.Tensor3D {
  const [B, T, I] = x.shape;
  const product = tf.matMul(tf.reshape(x, [B * T, I]), w.kernel);
  const xp = w.norm ? product : tf.add(product, w.bias);
  return tf.reshape(xp, [B, T, -1]);
}

export interface SequenceResult {
  /** Hidden state at every step: [B, T, H]. */
  outputs: tf.Tensor3D;
  /** State after the last step. */
  state: LayerState;
}

export type SequenceImpl = (cell: CellType, w: LayerWeights, x: tf.Tensor3D, state: LayerState) => SequenceResult;

/** The reference: a loop of cellStep, differentiated by TF.js autodiff. */
export const referenceSequence: SequenceImpl = (cell, w, x, state) => {
  const T = x.shape[1];
  // Time-major, then one split into T pieces: on the wasm backend tf.unstack (Unpack) and per-step
  // tf.slice each cost 100-300 ms per training step at [50, 50, 512]; a single SplitV is cheap.
  const xp = tf.transpose(projectInputs(w, x), [1, 0, 2]);
  const [B, G] = [x.shape[0], xp.shape[2]];
  // (T = 1 without split: TF.js's SplitV gradient fails for a single piece.)
  const steps = T === 1 ? [tf.reshape(xp, [B, G]) as tf.Tensor2D] : tf.split(xp, T, 0).map((s) => tf.reshape(s, [B, G]) as tf.Tensor2D);
  const hs: tf.Tensor2D[] = [];
  let s = state;
  for (let t = 0; t < T; t++) {
    s = cellStep(cell, w, steps[t]!, s);
    hs.push(s[0]!);
  }
  return { outputs: tf.reshape(tf.concat(hs, 1), [x.shape[0], T, -1]) as tf.Tensor3D, state: s };
};

let sequenceImpl: SequenceImpl = referenceSequence;

/** Replace the whole-sequence implementation (the fused layers do this for their backends). */
export function setSequenceImpl(impl: SequenceImpl | null): void {
  sequenceImpl = impl ?? referenceSequence;
}

export function runSequence(cell: CellType, w: LayerWeights, x: tf.Tensor3D, state: LayerState): SequenceResult {
  if (w.norm) return referenceSequence(cell, w, x, state);
  return sequenceImpl(cell, w, x, state);
}

/**
 * The first layer straight from character ids: embedding lookup, then the recurrence. The fused
 * layers replace it with a lookup in the precomputed table embedding·kernel (src/engine/fused).
 */
export type IdsSequenceImpl = (cell: CellType, w: LayerWeights, embedding: tf.Tensor2D, ids: tf.Tensor2D, state: LayerState) => SequenceResult;

export const referenceFromIds: IdsSequenceImpl = (cell, w, embedding, ids, state) => {
  const [B, T] = ids.shape;
  const x = tf.reshape(tf.gather(embedding, tf.reshape(ids, [-1])), [B, T, embedding.shape[1]]) as tf.Tensor3D;
  return runSequence(cell, w, x, state);
};

let fromIdsImpl: IdsSequenceImpl = referenceFromIds;

export function setSequenceFromIdsImpl(impl: IdsSequenceImpl | null): void {
  fromIdsImpl = impl ?? referenceFromIds;
}

export function runSequenceFromIds(cell: CellType, w: LayerWeights, embedding: tf.Tensor2D, ids: tf.Tensor2D, state: LayerState): SequenceResult {
  if (w.norm) return referenceFromIds(cell, w, embedding, ids, state);
  return fromIdsImpl(cell, w, embedding, ids, state);
}

/** One step from the layer's input x [B, I] (sampling): the input projection, then cellStep. */
export type StepImpl = (cell: CellType, w: LayerWeights, x: tf.Tensor2D, state: LayerState) => LayerState;

export const referenceStep: StepImpl = (cell, w, x, state) => {
  const xp = tf.squeeze(projectInputs(w, tf.expandDims(x, 1) as tf.Tensor3D), [1]) as tf.Tensor2D;
  return cellStep(cell, w, xp, state);
};

let stepImpl: StepImpl = referenceStep;

export function setStepImpl(impl: StepImpl | null): void {
  stepImpl = impl ?? referenceStep;
}

export function runStep(cell: CellType, w: LayerWeights, x: tf.Tensor2D, state: LayerState): LayerState {
  if (w.norm) return referenceStep(cell, w, x, state);
  return stepImpl(cell, w, x, state);
}

/** The first layer's step straight from character ids (sampling); fused: a cached table lookup. */
export type StepFromIdsImpl = (cell: CellType, w: LayerWeights, embedding: tf.Tensor2D, ids: tf.Tensor1D, state: LayerState) => LayerState;

export const referenceStepFromIds: StepFromIdsImpl = (cell, w, embedding, ids, state) => runStep(cell, w, tf.gather(embedding, ids) as tf.Tensor2D, state);

let stepFromIdsImpl: StepFromIdsImpl = referenceStepFromIds;

export function setStepFromIdsImpl(impl: StepFromIdsImpl | null): void {
  stepFromIdsImpl = impl ?? referenceStepFromIds;
}

export function runStepFromIds(cell: CellType, w: LayerWeights, embedding: tf.Tensor2D, ids: tf.Tensor1D, state: LayerState): LayerState {
  if (w.norm) return referenceStepFromIds(cell, w, embedding, ids, state);
  return stepFromIdsImpl(cell, w, embedding, ids, state);
}
