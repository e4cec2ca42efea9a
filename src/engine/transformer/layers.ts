/**
 * The Transformer as an ordinary TF.js LayersModel (nanoGPT's GPT shape): Embedding -> position
 * embedding -> N pre-LayerNorm blocks (causal self-attention, then a 4x GELU MLP, each added back
 * to the residual stream) -> LayerNorm -> Dense softmax. Two layers have no stock TF.js
 * equivalent and are defined here and registered with `serialization.registerClass`, so
 * `tf.loadLayersModel` builds a saved model wherever this module has been imported (elsewhere,
 * copy these two classes: they depend on TF.js alone, see docs/ENGINE.md). Training and sampling
 * run Charmer's own functions (./gpt.ts) over the same variables, as the RNNs do.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { causalSelfAttention } from './attention.ts';

type Shape = tfl.Shape;
type Kwargs = Record<string, unknown>;

/** Adds a learned embedding of each position (0..T-1) to [B, T, C]; T at most blockSize. */
export class PositionEmbedding extends tfl.layers.Layer {
  static className = 'CharmerPositionEmbedding';
  readonly blockSize: number;
  private table: tfl.LayerVariable | null = null;

  constructor(args: { blockSize: number; name?: string }) {
    super(args);
    this.blockSize = args.blockSize;
  }

  override build(inputShape: Shape | Shape[]): void {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    this.table = this.addWeight('embeddings', [this.blockSize, s[s.length - 1]!], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const T = x.shape[1]!;
      if (T > this.blockSize) throw new Error(`This model reads at most ${this.blockSize} characters at once (got ${T}).`);
      return tf.add(x, tf.slice(this.table!.read(), [0, 0], [T, -1]));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), blockSize: this.blockSize };
  }
}

/** c_attn (C -> 3C), causal multi-head attention, c_proj (C -> C), on [B, T, C]. */
export class CausalSelfAttention extends tfl.layers.Layer {
  static className = 'CharmerCausalSelfAttention';
  readonly heads: number;
  private w: { qkvKernel: tfl.LayerVariable; qkvBias: tfl.LayerVariable; projKernel: tfl.LayerVariable; projBias: tfl.LayerVariable } | null = null;

  constructor(args: { heads: number; name?: string }) {
    super(args);
    this.heads = args.heads;
  }

  override build(inputShape: Shape | Shape[]): void {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const C = s[s.length - 1]!;
    const zeros = tfl.initializers.zeros();
    this.w = {
      qkvKernel: this.addWeight('qkv_kernel', [C, 3 * C], 'float32', zeros),
      qkvBias: this.addWeight('qkv_bias', [3 * C], 'float32', zeros),
      projKernel: this.addWeight('proj_kernel', [C, C], 'float32', zeros),
      projBias: this.addWeight('proj_bias', [C], 'float32', zeros),
    };
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor3D;
      const [B, T, C] = x.shape;
      const w = this.w!;
      const qkv = tf.add(tf.matMul(tf.reshape(x, [B * T, C]), w.qkvKernel.read()), w.qkvBias.read());
      const y = causalSelfAttention(tf.reshape(qkv, [B, T, 3 * C]) as tf.Tensor3D, this.heads);
      return tf.reshape(tf.add(tf.matMul(tf.reshape(y, [B * T, C]), w.projKernel.read()), w.projBias.read()), [B, T, C]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads };
  }
}

tf.serialization.registerClass(PositionEmbedding);
tf.serialization.registerClass(CausalSelfAttention);

export interface GptShape {
  vocabSize: number;
  /** Width (n_embd). */
  width: number;
  layers: number;
  heads: number;
  blockSize: number;
  dropout: number;
}

/** nanoGPT's LayerNorm epsilon. */
export const LN_EPSILON = 1e-5;

/** The LayersModel; weights start at zero (GptModel.init sets them, or a checkpoint does). */
export function buildGptLayersModel(s: GptShape): tfl.LayersModel {
  const zeros = 'zeros' as const;
  const input = tfl.input({ shape: [null], dtype: 'int32', name: 'chars' });
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => layer.apply(x) as tfl.SymbolicTensor;
  const drop = (x: tfl.SymbolicTensor, name: string) => (s.dropout > 0 ? apply(tfl.layers.dropout({ rate: s.dropout, name }), x) : x);
  let x = apply(tfl.layers.embedding({ inputDim: s.vocabSize, outputDim: s.width, name: 'embedding', embeddingsInitializer: zeros }), input);
  x = drop(apply(new PositionEmbedding({ blockSize: s.blockSize, name: 'position' }), x), 'dropout_embedding');
  const ln = (name: string) => tfl.layers.layerNormalization({ epsilon: LN_EPSILON, name });
  for (let l = 0; l < s.layers; l++) {
    const a = drop(apply(new CausalSelfAttention({ heads: s.heads, name: `h${l}_attn` }), apply(ln(`h${l}_ln_1`), x)), `h${l}_dropout_attn`);
    x = apply(tfl.layers.add({ name: `h${l}_add_attn` }), [x, a]);
    let m = apply(
      tfl.layers.dense({ units: 4 * s.width, activation: 'gelu' as never, name: `h${l}_mlp_fc`, kernelInitializer: zeros }),
      apply(ln(`h${l}_ln_2`), x),
    );
    m = drop(apply(tfl.layers.dense({ units: s.width, name: `h${l}_mlp_proj`, kernelInitializer: zeros }), m), `h${l}_dropout_mlp`);
    x = apply(tfl.layers.add({ name: `h${l}_add_mlp` }), [x, m]);
  }
  x = apply(ln('ln_f'), x);
  const out = apply(tfl.layers.dense({ units: s.vocabSize, activation: 'softmax', name: 'output', kernelInitializer: zeros }), x);
  return tfl.model({ inputs: input, outputs: out, name: 'charmer_gpt' });
}
