/** Messages between the training thread and its gradient workers (./pool.ts, ./worker.ts). */
import type { Batch } from '../batches.ts';
import type { BackendName } from '../config.ts';
import type { ModelSpec } from '../model.ts';

export interface InitMessage {
  type: 'init';
  spec: ModelSpec;
  chars: string[];
  backend: BackendName;
  /** Float32 weights of every trainable variable, in model.variables order (written by the trainer). */
  weights: SharedArrayBuffer;
  /** This worker's Float32 gradients, same layout (written by the worker). */
  grads: SharedArrayBuffer;
}

/** A shard of a batch; its `count` is the whole batch's, so every shard's gradients add up. */
export interface StepMessage extends Batch {
  type: 'step';
  /** Bumped each time the trainer rewrites `weights`. */
  version: number;
  /** Carried state for this shard's rows, per layer [h(, c)], each [rows * hidden]. */
  state: Float32Array[][];
  dropoutSeed?: number;
}

export type ToWorker = InitMessage | StepMessage | { type: 'close' };

export type FromWorker =
  | { type: 'ready' }
  /** `tensors`: the worker's live tensor count after the step (for leak checks). */
  | { type: 'done'; loss: number; state: Float32Array[][]; tensors: number }
  | { type: 'error'; message: string };
