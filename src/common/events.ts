/**
 * What a training run tells the world, as a discriminated union. The engine never prints: the CLI
 * turns these into a progress bar or JSON lines (snake_case), the worker forwards them to the
 * services, the UI draws them.
 */
import type { TrainConfig } from './options.ts';

export interface BackendInfo {
  /** tensorflow (tfjs-node), tensorflow-gpu, webgpu, wasm or cpu. */
  backend: string;
  /** Human description of the device: "CPU (wasm, 1 thread)", the GPU adapter name, ... */
  device: string;
  threads: number;
}

export interface StartEvent {
  type: 'start';
  config: TrainConfig;
  backend: BackendInfo;
  vocabSize: number;
  params: number;
  trainChars: number;
  valChars: number;
  itersPerEpoch: number;
  totalIters: number;
  /** Iteration the run starts from (0, or the resumed checkpoint's). */
  startIteration: number;
  /** Validation loss of the best count n-gram model on the same split (nats/char), if computed. */
  baselineValLoss: number | null;
  baselineOrder: number | null;
}

export interface ProgressEvent {
  type: 'progress';
  iteration: number;
  epoch: number;
  trainLoss: number;
  lr: number;
  charsPerS: number;
  elapsedS: number;
  etaS: number;
  totalIters: number;
}

export interface EvalEvent {
  type: 'eval';
  iteration: number;
  epoch: number;
  valLoss: number;
  bestValLoss: number;
  trainLoss: number;
}

export interface SampleEvent {
  type: 'sample';
  iteration: number;
  text: string;
  valLoss: number | null;
  temperature: number;
}

export interface CheckpointEvent {
  type: 'checkpoint';
  kind: 'best' | 'latest';
  iteration: number;
  valLoss: number | null;
  path: string;
}

export interface DoneEvent {
  type: 'done';
  reason: 'completed' | 'max-iters' | 'max-time' | 'stopped';
  iteration: number;
  bestValLoss: number | null;
  elapsedS: number;
}

export interface ErrorEvent {
  type: 'error';
  code: string;
  message: string;
  iteration: number;
}

export type TrainEvent = StartEvent | ProgressEvent | EvalEvent | SampleEvent | CheckpointEvent | DoneEvent | ErrorEvent;

/** Progress while a large corpus loads. */
export interface LoadProgress {
  bytesRead: number;
  totalBytes: number;
}
