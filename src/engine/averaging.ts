/**
 * An exponential moving average of the weights (--ema-decay; Polyak averaging as AWD-LSTM's
 * averaged SGD and nanoGPT-era trainers use it): after every optimizer step each shadow weight
 * moves towards the trained one, and the run evaluates, checkpoints and samples the shadow. On a
 * small text the trained weights jitter around a minimum the average sits closer to.
 *
 * The decay warms up as TensorFlow's ExponentialMovingAverage with num_updates does,
 * min(decay, (1 + n) / (10 + n)), so the first steps' random weights do not linger in the average.
 */
import * as tf from '@tensorflow/tfjs-core';

export class WeightAverage {
  private readonly shadow: tf.Variable[];
  /** The trained weights while the average is swapped into the model (null otherwise). */
  private held: tf.Tensor[] | null = null;

  /** Starts the average at the variables' current values, `updates` steps in (0 for a new run). */
  constructor(
    private readonly vars: tf.Variable[],
    readonly decay: number,
    public updates = 0,
  ) {
    this.shadow = vars.map((v) => tf.tidy(() => tf.variable(v.clone(), false)));
  }

  /** The decay the next update uses. */
  nextDecay(): number {
    const n = this.updates + 1;
    return Math.min(this.decay, (1 + n) / (10 + n));
  }

  /** Folds the current weights in: call after every optimizer step. */
  update(): void {
    if (this.held) throw new Error('the average is swapped in: swap it out before updating it');
    const d = this.nextDecay();
    this.updates++;
    tf.tidy(() => this.vars.forEach((v, i) => this.shadow[i]!.assign(tf.add(tf.mul(this.shadow[i]!, d), tf.mul(v, 1 - d)))));
  }

  /** Puts the averaged weights into the model, keeping the trained ones aside; `swapOut` undoes it. */
  swapIn(): void {
    if (this.held) return;
    this.held = this.vars.map((v) => tf.keep(v.clone()));
    tf.tidy(() => this.vars.forEach((v, i) => v.assign(this.shadow[i]!.clone())));
  }

  swapOut(): void {
    if (!this.held) return;
    const held = this.held;
    this.held = null;
    tf.tidy(() => this.vars.forEach((v, i) => v.assign(held[i]!)));
    tf.dispose(held);
  }

  /** Runs `f` with the averaged weights in the model, and puts the trained ones back however it ends. */
  async with<T>(f: () => Promise<T>): Promise<T> {
    // Nested calls (a checkpoint written during an evaluation's swap) leave the outer swap in place.
    const outer = this.held !== null;
    this.swapIn();
    try {
      return await f();
    } finally {
      if (!outer) this.swapOut();
    }
  }

  /** The trained (not averaged) weights, in variable order, whether or not the average is swapped in. */
  async trainedWeights(): Promise<Float32Array[]> {
    const src = this.held ?? this.vars;
    return Promise.all(src.map(async (t) => new Float32Array(await t.data())));
  }

  /**
   * Resuming: the model was loaded with the averaged weights (a checkpoint's model weights are the
   * average); they become the shadow and the trained weights go back into the model.
   */
  restore(trained: Float32Array[]): void {
    if (trained.length !== this.vars.length) throw new Error(`${trained.length} trained weights for ${this.vars.length} variables`);
    tf.tidy(() =>
      this.vars.forEach((v, i) => {
        this.shadow[i]!.assign(v.clone());
        v.assign(tf.tensor(trained[i]!, v.shape));
      }),
    );
  }

  dispose(): void {
    this.swapOut();
    tf.dispose(this.shadow);
  }
}
