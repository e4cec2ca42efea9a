/**
 * Every core: data-parallel training across worker threads.
 *
 * Design, and why. The wasm backend runs one thread in Node; two worker threads with their own wasm
 * backends each run matMuls about as fast as one alone, together about what OpenBLAS gets from
 * both cores (../shared/DESIGN.md; docs/PERFORMANCE.md#figures-behind-the-engines-design-notes). Threaded kernels inside one
 * backend would need a rebuilt threaded wasm binary (unavailable in Node: the stock one needs
 * emscripten pthreads with a browser-style Worker), and a recurrent step at batch 50 is too small
 * to split well across cores anyway, while whole batch shards split perfectly. So: the batch's
 * rows are split across the training thread and `threads - 1` workers; each runs the same fused
 * forward/backward on its shard from the same weights (every shard's loss divided by the whole
 * batch's target count, so the shard gradients simply add up to the full-batch gradient); the
 * workers write their gradients into a SharedArrayBuffer each, the training thread adds them to its
 * own, applies the optimizer (one optimizer, one copy of its state, so checkpoints and resume are
 * unchanged), and writes the new weights into one shared buffer that the workers read at their
 * next step. Per step that moves the parameters twice through shared memory, small against a
 * step's compute; the carried state of each shard travels with the
 * step message (small), so the training thread stays the one owner of all state.
 *
 * The result equals single-thread training up to float summation order (and dropout masks, drawn
 * per shard); runs with the same thread count are deterministic. `threads = 1` is the
 * single-thread path, untouched.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { hostView } from '../backend.ts';
import type { BackendName } from '../config.ts';
import type { Batch } from '../batches.ts';
import type { CharModel } from '../model.ts';
import type { LayerState } from '../recurrent.ts';
import type { FromWorker, StepMessage, ToWorker } from './protocol.ts';

/** A batch, or the rows of it one thread computes. */
export type ShardBatch = Batch;

/** The local (training-thread) part of a step: loss tensor, gradients by variable name, next state. */
export type LocalStep = (shard: ShardBatch, prev: LayerState[]) => { value: tf.Scalar; grads: tf.NamedTensorMap; next: LayerState[] };

interface Slot {
  worker: Worker;
  grads: Float32Array;
  pending: ((m: FromWorker) => void) | null;
  failed: string | null;
}

/**
 * The worker's entry: `parallel-worker.js` beside this module in a bundled build (electron-vite:
 * add src/engine/parallel/worker.ts as an entry of that name), else the TypeScript sources through
 * tsx. Where neither starts, training runs on one thread.
 */
function workerUrl(): URL {
  // Electron's build: out/main/parallel-worker.js, beside the bundle or one folder up from a chunk.
  for (const rel of ['./parallel-worker.js', '../parallel-worker.js']) {
    const bundled = new URL(rel, import.meta.url);
    if (bundled.protocol === 'file:' && existsSync(fileURLToPath(bundled))) return bundled;
  }
  return new URL('./worker-entry.mjs', import.meta.url);
}

/** Threads to use: 0 means one per core. */
export function resolveThreads(threads: number): number {
  return threads > 0 ? Math.floor(threads) : availableParallelism();
}

export class DataParallel {
  private version = 0;
  private constructor(
    private readonly model: CharModel,
    private readonly slots: Slot[],
    private readonly weights: Float32Array,
  ) {}

  /**
   * Workers for `threads` cores (the training thread is one of them), or null when one thread
   * is asked for, the backend is not a CPU one, or workers cannot start here (then training
   * simply runs on one thread).
   */
  static async create(model: CharModel, threads: number, backend: string, rows: number): Promise<DataParallel | null> {
    const n = Math.min(resolveThreads(threads), rows);
    if (n <= 1 || (backend !== 'wasm' && backend !== 'cpu')) return null;
    const total = model.variables.reduce((s, v) => s + v.size, 0);
    const weights = new Float32Array(new SharedArrayBuffer(total * 4));
    const slots: Slot[] = [];
    try {
      for (let k = 0; k < n - 1; k++) {
        const worker = new Worker(workerUrl());
        const gradsBuf = new SharedArrayBuffer(total * 4);
        const slot: Slot = { worker, grads: new Float32Array(gradsBuf), pending: null, failed: null };
        worker.on('message', (m: FromWorker) => {
          const p = slot.pending;
          slot.pending = null;
          p?.(m);
        });
        worker.on('error', (e) => {
          slot.failed = e.message;
          const p = slot.pending;
          slot.pending = null;
          p?.({ type: 'error', message: e.message });
        });
        slots.push(slot);
        const ready = await DataParallel.request(slot, {
          type: 'init',
          spec: model.spec,
          chars: [...model.vocab.chars],
          backend: backend as BackendName,
          weights: weights.buffer as SharedArrayBuffer,
          grads: gradsBuf,
        });
        if (ready.type !== 'ready') throw new Error(ready.type === 'error' ? ready.message : 'worker did not start');
      }
    } catch {
      for (const s of slots) void s.worker.terminate();
      return null;
    }
    const pool = new DataParallel(model, slots, weights);
    try {
      pool.syncWeights();
    } catch (e) {
      // Live workers would keep the process running after the error is reported.
      for (const s of slots) void s.worker.terminate();
      throw e;
    }
    return pool;
  }

  /** Each worker's live tensor count after the last step (leak checks). */
  workerTensors: number[] = [];

  get threads(): number {
    return this.slots.length + 1;
  }

  private static request(slot: Slot, m: ToWorker): Promise<FromWorker> {
    if (slot.failed) return Promise.resolve({ type: 'error', message: slot.failed });
    return new Promise((resolve) => {
      slot.pending = resolve;
      slot.worker.postMessage(m);
    });
  }

  /** Write the current weights for the workers (call after every optimizer update). */
  syncWeights(): void {
    let off = 0;
    for (const v of this.model.variables) {
      this.weights.set(hostView(v) ?? (v.dataSync() as Float32Array), off);
      off += v.size;
    }
    this.version++;
  }

  /**
   * One data-parallel step: shards out the batch, runs `local` on the first shard here while the
   * workers run theirs, and returns the full-batch loss, summed gradients and next state.
   */
  async step(
    b: ShardBatch,
    prev: LayerState[],
    local: LocalStep,
    dropoutSeed?: number,
  ): Promise<{ value: tf.Scalar; grads: tf.NamedTensorMap; next: LayerState[] }> {
    const n = this.threads;
    const per = Math.ceil(b.rows / n);
    const bounds = Array.from({ length: n }, (_, k) => [Math.min(b.rows, k * per), Math.min(b.rows, (k + 1) * per)] as const).filter(([s, e]) => e > s);
    const shard = ([s, e]: readonly [number, number]): ShardBatch => ({
      x: b.x.slice(s * b.steps, e * b.steps),
      y: b.y.slice(s * b.steps, e * b.steps),
      mask: b.mask ? b.mask.slice(s * b.steps, e * b.steps) : null,
      rows: e - s,
      steps: b.steps,
      count: b.count,
    });
    const H = this.model.spec.hidden;
    const prevArrays = prev.map((l) => l.map((t) => t.dataSync() as Float32Array));
    const replies = bounds.slice(1).map((bd, k) => {
      const sb = shard(bd);
      const msg: StepMessage = {
        type: 'step',
        version: this.version,
        ...sb,
        state: prevArrays.map((l) => l.map((a) => a.slice(bd[0] * H, bd[1] * H))),
        ...(dropoutSeed !== undefined ? { dropoutSeed } : {}),
      };
      return DataParallel.request(this.slots[k]!, msg);
    });
    const first = bounds[0]!;
    const localPrev = prev.map((l) => l.map((t) => tf.slice(t, [first[0], 0], [first[1] - first[0], H]) as tf.Tensor2D));
    const mine = local(shard(first), localPrev);
    tf.dispose(localPrev.flat());
    const done = await Promise.all(replies);
    for (const d of done) if (d.type !== 'done') throw new Error(`training worker failed: ${d.type === 'error' ? d.message : d.type}`);
    const results = done as Extract<FromWorker, { type: 'done' }>[];
    const grads: tf.NamedTensorMap = {};
    let off = 0;
    for (const v of this.model.variables) {
      const g = mine.grads[v.name]!;
      // Add the workers' gradients into ours in place when we hold its storage alone (it is a
      // fresh result of variableGrads), else through tensors and addN.
      const view = tf.backend().refCount(g.dataId) === 1 ? hostView(g) : null;
      if (view) {
        for (const slot of this.slots.slice(0, results.length)) {
          const w = slot.grads;
          for (let i = 0; i < v.size; i++) view[i] += w[off + i]!;
        }
        grads[v.name] = g;
      } else {
        const parts = [g, ...results.map((_, k) => tf.tensor(this.slots[k]!.grads.subarray(off, off + v.size), v.shape))];
        grads[v.name] = parts.length === 1 ? g : tf.addN(parts);
        if (parts.length > 1) tf.dispose(parts);
      }
      off += v.size;
    }
    this.workerTensors = results.map((r) => r.tensors);
    const loss = results.reduce((s, r) => s + r.loss, 0);
    const value = tf.tidy(() => tf.add(mine.value, loss)) as tf.Scalar;
    mine.value.dispose();
    const next = mine.next.map((l, li) =>
      l.map((t, si) => {
        if (!results.length) return t;
        const parts = [t, ...results.map((r, k) => tf.tensor2d(r.state[li]![si]!, [bounds[k + 1]![1] - bounds[k + 1]![0], H]))];
        const all = tf.concat(parts, 0) as tf.Tensor2D;
        tf.dispose(parts);
        return all;
      }),
    );
    return { value, grads, next };
  }

  dispose(): void {
    for (const s of this.slots) {
      s.worker.postMessage({ type: 'close' } satisfies ToWorker);
      void s.worker.terminate();
    }
  }
}
