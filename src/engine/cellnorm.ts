/**
 * Layer normalisation inside the recurrent cells (Ba, Kiros & Hinton 2016, section 3.1 and the
 * LN-LSTM of their appendix): the input product x·W and the recurrent product h·U are each
 * normalised over their units with a learned gain before the bias is added, and the LSTM's cell
 * state is normalised (gain and bias) before its tanh. The gains live in a `CharmerCellNorm` layer
 * after each recurrent layer of the TF.js graph; it passes its input through unchanged, so the
 * stock graph stays loadable (with this class registered) and holds every weight, while the
 * engine's cells read the gains from it. Plain TF.js's LSTM layer cannot run these cells: a
 * model trained with --cell-norm layer samples correctly only through Charmer's engine.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { CellType } from './config.ts';

export interface CellNormWeights {
  /** Gain of the normalised input product, [G*H]. */
  gainX: tf.Tensor1D;
  /** Gain of the normalised recurrent product(s), [G*H] (GRU: the z,r part then the candidate's). */
  gainH: tf.Tensor1D;
  /** LSTM only: gain and bias of the normalised cell state, [H]. */
  gainC?: tf.Tensor1D;
  biasC?: tf.Tensor1D;
}

const EPS = 1e-5;

/** (x - mean) / sqrt(var + eps) over the last axis, times `gain` (+ `bias`). */
export function layerNorm(x: tf.Tensor2D, gain: tf.Tensor1D, bias?: tf.Tensor1D): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  const y = tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPS))), gain);
  return (bias ? tf.add(y, bias) : y) as tf.Tensor2D;
}

interface CellNormArgs {
  units: number;
  gates: number;
  cell: CellType;
  name?: string;
}

/** The gains' holder in the graph: the identity on its input, with the weights listed above. */
export class CharmerCellNorm extends tfl.layers.Layer {
  static className = 'CharmerCellNorm';
  private readonly units: number;
  private readonly gates: number;
  private readonly cell: CellType;

  constructor(args: CellNormArgs) {
    super({ name: args.name });
    this.units = args.units;
    this.gates = args.gates;
    this.cell = args.cell;
  }

  override build(): void {
    const ones = tfl.initializers.ones();
    const G = this.gates * this.units;
    this.addWeight('gain_x', [G], 'float32', ones);
    this.addWeight('gain_h', [G], 'float32', ones);
    if (this.cell === 'lstm') {
      this.addWeight('gain_c', [this.units], 'float32', ones);
      this.addWeight('bias_c', [this.units], 'float32', tfl.initializers.zeros());
    }
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.clone(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override computeOutputShape(shape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return shape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units, gates: this.gates, cell: this.cell };
  }
}
tf.serialization.registerClass(CharmerCellNorm);

/**
 * One normalised step. `xp` is x·W without the bias (projectInputs leaves it out for these
 * cells); `rk` the recurrent kernel, `bias` the stock layer bias added after normalising.
 */
export function normCellStep(cell: CellType, rk: tf.Tensor2D, bias: tf.Tensor1D, n: CellNormWeights, xp: tf.Tensor2D, state: tf.Tensor2D[]): tf.Tensor2D[] {
  const h = state[0]!;
  const H = h.shape[1];
  const x = layerNorm(xp, n.gainX);
  if (cell === 'lstm') {
    const z = tf.add(tf.add(x, layerNorm(tf.matMul(h, rk), n.gainH)), bias);
    const [zi, zf, zc, zo] = tf.split(z, 4, 1) as tf.Tensor2D[];
    const c = tf.add(tf.mul(tf.sigmoid(zf!), state[1]!), tf.mul(tf.sigmoid(zi!), tf.tanh(zc!))) as tf.Tensor2D;
    return [tf.mul(tf.sigmoid(zo!), tf.tanh(layerNorm(c, n.gainC!, n.biasC!))) as tf.Tensor2D, c];
  }
  if (cell === 'gru') {
    const [rk1, rk2] = tf.split(rk, [2 * H, H], 1) as tf.Tensor2D[];
    const [g1, g2] = tf.split(n.gainH, [2 * H, H]) as tf.Tensor1D[];
    const [b1, b2] = tf.split(bias, [2 * H, H]) as tf.Tensor1D[];
    const [x1, x2] = tf.split(x, [2 * H, H], 1) as tf.Tensor2D[];
    const zr = tf.sigmoid(tf.add(tf.add(x1!, layerNorm(tf.matMul(h, rk1!), g1!)), b1!));
    const [z, r] = tf.split(zr, 2, 1) as tf.Tensor2D[];
    const hh = tf.tanh(tf.add(tf.add(x2!, layerNorm(tf.matMul(tf.mul(r!, h), rk2!), g2!)), b2!));
    return [tf.add(tf.mul(z!, h), tf.mul(tf.sub(1, z!), hh)) as tf.Tensor2D];
  }
  return [tf.tanh(tf.add(tf.add(x, layerNorm(tf.matMul(h, rk), n.gainH)), bias)) as tf.Tensor2D];
}
