/**
 * Adam and RMSProp written out (rather than tf.train's) so that their state — step count and slot
 * variables — can be saved in a checkpoint and restored exactly, and gradient clipping by global
 * norm happens on the device without reading the norm back.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerName } from './config.ts';
import { registerFusedKernels, runFused } from './fused/kernels.ts';

export interface OptimizerState {
  name: OptimizerName;
  step: number;
  /** Slot values, flattened in variable order: Adam [m..., v...], RMSProp [ms...]. */
  slots: Float32Array[];
}

export class Optimizer {
  step = 0;
  readonly slots: tf.Variable[];

  /**
   * `weightDecay` is decoupled (AdamW: w <- w * (1 - lr * wd) before the update, as PyTorch's
   * AdamW), applied to the variables `decays` marks: weight matrices, not biases, gains or
   * embeddings (nanoGPT's grouping).
   */
  constructor(
    readonly name: OptimizerName,
    private readonly vars: tf.Variable[],
    private readonly weightDecay = 0,
    private readonly decays: readonly boolean[] = [],
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
    private readonly rmsDecay = 0.95,
  ) {
    const perVar = name === 'adam' ? 2 : 1;
    this.slots = [];
    // tidy: the zeros tensor each variable starts from would otherwise outlive the optimizer.
    for (let k = 0; k < perVar; k++) for (const v of vars) this.slots.push(tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
  }

  /** Clip to `clip` (global norm; 0 = off) and apply one update with learning rate `lr`. */
  apply(grads: tf.Tensor[], lr: number, clip: number): void {
    this.step++;
    this.decay(lr);
    // CHARMER_FUSED=0 (the benchmark's tfjs-stock rows) keeps the op-by-op update.
    if (process.env.CHARMER_FUSED !== '0' && registerFusedKernels(tf.getBackend())) return this.applyFused(grads, lr, clip);
    const t = this.step;
    tf.tidy(() => {
      let gs = grads;
      if (clip > 0) {
        // Pairwise adds, not one addN: on WebGPU an addN over a 2-layer model's 9 gradients needs
        // more storage buffers than Dawn allows (8), and the norm came out wrong.
        const norm = tf.sqrt(gs.map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b)));
        const scale = tf.minimum(1, tf.div(clip, tf.add(norm, 1e-6)));
        gs = gs.map((g) => tf.mul(g, scale));
      }
      const n = this.vars.length;
      if (this.name === 'adam') {
        const a = (lr * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
        gs.forEach((g, i) => {
          const m = this.slots[i]!;
          const v = this.slots[n + i]!;
          m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
          v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
          this.vars[i]!.assign(tf.sub(this.vars[i]!, tf.mul(a, tf.div(m, tf.add(tf.sqrt(v), this.eps)))));
        });
      } else {
        gs.forEach((g, i) => {
          const ms = this.slots[i]!;
          ms.assign(tf.add(tf.mul(ms, this.rmsDecay), tf.mul(tf.square(g), 1 - this.rmsDecay)));
          this.vars[i]!.assign(tf.sub(this.vars[i]!, tf.mul(lr, tf.div(g, tf.add(tf.sqrt(ms), this.eps)))));
        });
      }
    });
  }

  private decay(lr: number): void {
    if (!(this.weightDecay > 0)) return;
    const keep = 1 - lr * this.weightDecay;
    tf.tidy(() => this.vars.forEach((v, i) => this.decays[i] && v.assign(tf.mul(v, keep))));
  }

  /**
   * The same update as one kernel per variable on cpu and wasm (src/engine/fused/kernels.ts): at
   * 2x512 the op-by-op update made ~16 passes over 4.2M parameters (and as many tensors) per step.
   */
  private applyFused(grads: tf.Tensor[], lr: number, clip: number): void {
    const t = this.step;
    const n = this.vars.length;
    tf.tidy(() => {
      const scale = clip > 0 ? tf.minimum(1, tf.div(clip, tf.add(tf.sqrt(runFused('CharmerSumSquares', grads, {})[0]!), 1e-6))) : tf.ones([1]);
      const a = (lr * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
      const consts =
        this.name === 'adam'
          ? tf.tensor1d([a, this.beta1, 1 - this.beta1, this.beta2, 1 - this.beta2, this.eps])
          : tf.tensor1d([lr, this.rmsDecay, 1 - this.rmsDecay, this.eps]);
      grads.forEach((g, i) => {
        const w = this.vars[i]!;
        if (this.name === 'adam') {
          const [w2, m2, v2] = runFused('CharmerAdam', [w, this.slots[i]!, this.slots[n + i]!, g, scale, consts], {});
          this.slots[i]!.assign(m2!);
          this.slots[n + i]!.assign(v2!);
          w.assign(w2!);
        } else {
          const [w2, ms2] = runFused('CharmerRmsProp', [w, this.slots[i]!, g, scale, consts], {});
          this.slots[i]!.assign(ms2!);
          w.assign(w2!);
        }
      });
    });
  }

  async getState(): Promise<OptimizerState> {
    const slots = await Promise.all(this.slots.map(async (s) => new Float32Array(await s.data())));
    return { name: this.name, step: this.step, slots };
  }

  setState(state: OptimizerState): void {
    if (state.name !== this.name || state.slots.length !== this.slots.length) {
      throw new Error(`optimizer state is for ${state.name} with ${state.slots.length} slots`);
    }
    this.step = state.step;
    tf.tidy(() => state.slots.forEach((values, i) => this.slots[i]!.assign(tf.tensor(values, this.slots[i]!.shape))));
  }

  dispose(): void {
    for (const s of this.slots) s.dispose();
  }
}
