/**
 * CharModel: Embedding -> N recurrent layers -> Dense softmax, or a GPT-style Transformer
 * (./transformer), held as an ordinary TF.js LayersModel (so model.json + weights load anywhere
 * TF.js does), while training and sampling run our own functions (./recurrent, ./transformer/gpt)
 * over the same variables. One class for both, so checkpoints, training and sampling see one type.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { CategorySpec } from './categories.ts';
import type { CellNorm, CellType, CorpusMode, ModelType, TrainConfig } from './config.ts';
import { CharmerCellNorm } from './cellnorm.ts';
import type { LayerState, LayerWeights } from './recurrent.ts';
import { gateCount, runSequence, runSequenceFromIds, runStep, runStepFromIds, zeroState } from './recurrent.ts';
import { Rng } from './rng.ts';
import { buildGptLayersModel, type GptShape } from './transformer/layers.ts';
import { gptForward, gptStep, gptWeights, initGpt, prefillState, windowStart, type GptWeights } from './transformer/gpt.ts';
import { Vocabulary } from './vocabulary.ts';
import type { CHECKPOINT_FORMAT } from '../common/checkpoint-format.ts';

export interface ModelSpec {
  cell: ModelType;
  vocabSize: number;
  /** Transformer: the width, as hidden. */
  embeddingSize: number;
  hidden: number;
  layers: number;
  dropout: number;
  /** Dropout on the last layer's output, before the softmax (recurrent models; absent: 0). */
  outputDropout?: number;
  /** 'layer': layer-normalised cells (./cellnorm.ts); absent: 'none'. */
  cellNorm?: CellNorm;
  /** Transformer only: attention heads per block. */
  heads?: number;
  /** Transformer only: context length. */
  blockSize?: number;
}

export function specFromConfig(config: TrainConfig, vocabSize: number): ModelSpec {
  if (config.model === 'transformer') {
    const { nEmbd, nLayer, nHead, blockSize, dropout } = config;
    return { cell: 'transformer', vocabSize, embeddingSize: nEmbd, hidden: nEmbd, layers: nLayer, dropout, heads: nHead, blockSize };
  }
  return {
    cell: config.model,
    vocabSize,
    embeddingSize: config.embeddingSize || config.rnnSize,
    hidden: config.rnnSize,
    layers: config.numLayers,
    dropout: config.dropout,
    outputDropout: config.outputDropout ?? 0,
    cellNorm: config.cellNorm,
  };
}

/**
 * The stock TF.js graph with the same weights (names and shapes) our functions use. Built inside a
 * tidy: TF.js 4.22's LSTM cell leaves the pieces of its forget-bias initial value (4 tensors a layer)
 * undisposed, and variables outlive a tidy, so only those pieces go.
 */
export function buildLayersModel(spec: ModelSpec): tfl.LayersModel {
  let net: tfl.LayersModel | null = null;
  tf.tidy(() => void (net = spec.cell === 'transformer' ? buildGptLayersModel(gptShape(spec)) : buildRecurrent(spec, spec.cell)));
  return net!;
}

function buildRecurrent(spec: ModelSpec, cell: CellType): tfl.LayersModel {
  const input = tfl.input({ shape: [null], dtype: 'int32', name: 'chars' });
  let x = tfl.layers
    .embedding({ inputDim: spec.vocabSize, outputDim: spec.embeddingSize, name: 'embedding', embeddingsInitializer: 'zeros' })
    .apply(input) as tfl.SymbolicTensor;
  for (let l = 0; l < spec.layers; l++) {
    // Initialisers run when the graph is built, then CharModel.create (or a checkpoint) sets the
    // weights; zeros keeps that cheap (TF.js's orthogonal initialiser is slow and, in 4.22, broken).
    const common = { units: spec.hidden, returnSequences: true, name: `rnn_${l}`, kernelInitializer: 'zeros', recurrentInitializer: 'zeros' } as const;
    const layer =
      cell === 'lstm'
        ? tfl.layers.lstm({ ...common, recurrentActivation: 'sigmoid', unitForgetBias: true })
        : cell === 'gru'
          ? tfl.layers.gru({ ...common, recurrentActivation: 'sigmoid', resetAfter: false } as never)
          : tfl.layers.simpleRNN(common);
    x = layer.apply(x) as tfl.SymbolicTensor;
    if (spec.cellNorm === 'layer')
      x = new CharmerCellNorm({ units: spec.hidden, gates: gateCount(cell), cell, name: `cell_norm_${l}` }).apply(x) as tfl.SymbolicTensor;
    if (spec.dropout > 0 && l < spec.layers - 1) x = tfl.layers.dropout({ rate: spec.dropout, name: `dropout_${l}` }).apply(x) as tfl.SymbolicTensor;
  }
  if ((spec.outputDropout ?? 0) > 0) x = tfl.layers.dropout({ rate: spec.outputDropout!, name: 'dropout_output' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: spec.vocabSize, activation: 'softmax', name: 'output', kernelInitializer: 'zeros' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: 'charmer' });
}

/** The Transformer's dimensions from a spec. */
export function gptShape(spec: ModelSpec): GptShape {
  return { vocabSize: spec.vocabSize, width: spec.hidden, layers: spec.layers, heads: spec.heads ?? 1, blockSize: spec.blockSize ?? 1, dropout: spec.dropout };
}

export interface CharmerMetadata {
  format: typeof CHECKPOINT_FORMAT;
  vocab: string[];
  mode: CorpusMode;
  config: TrainConfig;
  iteration: number;
  epoch: number;
  valLoss: number | null;
  bestValLoss: number | null;
  /** Loss history: one entry per evaluation (val) and per progress report (train). */
  history: Array<{ iteration: number; trainLoss?: number; valLoss?: number }>;
  baselineValLoss: number | null;
  corpusName: string;
  corpusHash: string;
  createdAt: string;
  /** The category columns (values and their reserved tokens) when trained on a categorised list. */
  categories?: CategorySpec;
  /** The built-in corpus it was trained on (us-baby-names, startup-names, names), if any. */
  builtinCorpus?: string;
}

export class CharModel {
  readonly vocab: Vocabulary;
  /** Variables in the order of model.trainableWeights. */
  readonly variables: tf.Variable[];
  readonly embedding: tf.Variable;
  readonly layers: LayerWeights[];
  readonly outKernel: tf.Variable;
  readonly outBias: tf.Variable;
  /** The Transformer's weights (null for the recurrent models). */
  readonly gpt: GptWeights | null = null;

  constructor(
    readonly spec: ModelSpec,
    readonly net: tfl.LayersModel,
    vocab: Vocabulary,
    public meta: CharmerMetadata,
  ) {
    this.vocab = vocab;
    const byName = new Map(net.trainableWeights.map((w) => [w.originalName, w.read() as tf.Variable]));
    const get = (n: string) => {
      const v = byName.get(n);
      if (!v) throw new Error(`model has no weight ${n}`);
      return v;
    };
    this.embedding = get('embedding/embeddings');
    if (spec.cell === 'transformer') this.gpt = gptWeights(get, spec.layers);
    this.layers =
      spec.cell === 'transformer'
        ? []
        : Array.from({ length: spec.layers }, (_, l) => {
            const cellName = spec.cell === 'rnn' ? 'simple_rnn_cell' : `${spec.cell}_cell`;
            const prefix = byName.has(`rnn_${l}/kernel`) ? `rnn_${l}` : `rnn_${l}/${cellName}`;
            const n = `cell_norm_${l}`;
            const v1 = (name: string) => get(name) as unknown as tf.Tensor1D;
            return {
              kernel: get(`${prefix}/kernel`) as unknown as tf.Tensor2D,
              recurrentKernel: get(`${prefix}/recurrent_kernel`) as unknown as tf.Tensor2D,
              bias: get(`${prefix}/bias`) as unknown as tf.Tensor1D,
              ...(spec.cellNorm === 'layer'
                ? {
                    norm: {
                      gainX: v1(`${n}/gain_x`),
                      gainH: v1(`${n}/gain_h`),
                      ...(spec.cell === 'lstm' ? { gainC: v1(`${n}/gain_c`), biasC: v1(`${n}/bias_c`) } : {}),
                    },
                  }
                : {}),
            };
          });
    this.outKernel = get('output/kernel');
    this.outBias = get('output/bias');
    this.variables = net.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /**
   * A new model with char-rnn's initialisation (uniform ±0.08; LSTM forget-gate bias 1, as
   * Jozefowicz et al. 2015 recommend and char-rnn does), normalisation gains 1, seeded.
   */
  static create(spec: ModelSpec, vocab: Vocabulary, meta: CharmerMetadata, seed: number): CharModel {
    const net = buildLayersModel(spec);
    const m = new CharModel(spec, net, vocab, meta);
    if (m.gpt) {
      initGpt(m.gpt, seed);
      return m;
    }
    const rng = new Rng(seed);
    const gains = new Set<tf.Tensor>(m.layers.flatMap((w) => (w.norm ? [w.norm.gainX, w.norm.gainH, ...(w.norm.gainC ? [w.norm.gainC] : [])] : [])));
    const cellBiases = new Set<tf.Tensor>(m.layers.map((w) => w.bias));
    for (const v of m.variables) {
      const values = new Float32Array(v.size);
      const isBias = v.shape.length === 1;
      if (!isBias) for (let i = 0; i < values.length; i++) values[i] = (rng.next() * 2 - 1) * 0.08;
      if (gains.has(v)) values.fill(1);
      // Gates i, f, c, o (the stock layout): the second quarter is the forget gate.
      if (cellBiases.has(v) && spec.cell === 'lstm') values.fill(1, spec.hidden, 2 * spec.hidden);
      tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
    }
    return m;
  }

  get params(): number {
    return this.variables.reduce((s, v) => s + v.size, 0);
  }

  /** The recurrent cell (the recurrent code paths only; a Transformer has none). */
  get cell(): CellType {
    if (this.spec.cell === 'transformer') throw new Error('a Transformer has no recurrent cell');
    return this.spec.cell;
  }

  /** Whether the model carries a state from one text batch to the next (the RNNs; not the Transformer). */
  get recurrent(): boolean {
    return this.spec.cell !== 'transformer';
  }

  /** The Transformer's context length (Infinity for the RNNs). */
  get context(): number {
    return this.spec.cell === 'transformer' ? this.spec.blockSize! : Infinity;
  }

  /** The state before any character: the RNNs' zeros; the Transformer's is empty (no cache). */
  zeroState(batch: number): LayerState[] {
    return this.layers.map(() => zeroState(this.cell, batch, this.spec.hidden));
  }

  /**
   * Logits for every position of ids [B, T], starting from `state`; returns the final state too.
   * `dropoutSeed` turns on dropout between layers and on the last layer's output (training only).
   */
  forward(ids: tf.Tensor2D, state: LayerState[], dropoutSeed?: number): { logits: tf.Tensor2D; state: LayerState[] } {
    // The Transformer starts every batch at position 0 (windows of at most blockSize); no state.
    if (this.gpt) return { logits: gptForward(this.gpt, gptShape(this.spec), ids, { dropoutSeed }).logits, state: [] };
    const [B, T] = ids.shape;
    // Layer 0 from the ids (embedding lookup + recurrence; fused: one table lookup, src/engine/fused).
    let x: tf.Tensor3D | null = null;
    const next: LayerState[] = [];
    this.layers.forEach((w, l) => {
      if (dropoutSeed !== undefined && this.spec.dropout > 0 && l > 0) x = tf.dropout(x!, this.spec.dropout, undefined, dropoutSeed + l) as tf.Tensor3D;
      const r = l === 0 ? runSequenceFromIds(this.cell, w, this.embedding as unknown as tf.Tensor2D, ids, state[0]!) : runSequence(this.cell, w, x!, state[l]!);
      x = r.outputs;
      next.push(r.state);
    });
    const outRate = this.spec.outputDropout ?? 0;
    if (dropoutSeed !== undefined && outRate > 0) x = tf.dropout(x!, outRate, undefined, dropoutSeed + this.layers.length) as tf.Tensor3D;
    const logits = tf.add(tf.matMul(tf.reshape(x!, [B * T, this.spec.hidden]), this.outKernel), this.outBias) as tf.Tensor2D;
    return { logits, state: next };
  }

  /** One step for a batch of single characters (sampling): logits [B, V] and the next state. */
  step(ids: tf.Tensor1D, state: LayerState[]): { logits: tf.Tensor2D; state: LayerState[] } {
    if (this.gpt) return gptStep(this.gpt, gptShape(this.spec), ids, state);
    let x: tf.Tensor2D | null = null;
    const next: LayerState[] = [];
    this.layers.forEach((w, l) => {
      // Fused where the backend has kernels (layer 0: a row of the cached embedding·kernel table).
      const s = l === 0 ? runStepFromIds(this.cell, w, this.embedding as unknown as tf.Tensor2D, ids, state[0]!) : runStep(this.cell, w, x!, state[l]!);
      next.push(s);
      x = s[0]!;
    });
    return { logits: tf.add(tf.matMul(x!, this.outKernel), this.outBias) as tf.Tensor2D, state: next };
  }

  /**
   * Run ids [B, T] from the start: the logits of the last position [B, V] and the state to step
   * on from (the RNNs' hidden state; the Transformer's key/value cache). The Transformer keeps
   * the window a stream of T characters would have (windowStart), so T may exceed its context.
   */
  prefill(ids: tf.Tensor2D): { logits: tf.Tensor2D; state: LayerState[] } {
    const [B, T] = ids.shape;
    const V = this.spec.vocabSize;
    const lastRow = (logits: tf.Tensor2D, n: number) => tf.reshape(tf.slice(tf.reshape(logits, [B, n, V]), [0, n - 1, 0], [B, 1, V]), [B, V]) as tf.Tensor2D;
    if (this.gpt) {
      const start = windowStart(T - 1, this.spec.blockSize!);
      const window = start > 0 ? (tf.slice(ids, [0, start], [B, T - start]) as tf.Tensor2D) : ids;
      const f = gptForward(this.gpt, gptShape(this.spec), window);
      return { logits: lastRow(f.logits, T - start), state: prefillState(f, window) };
    }
    const r = this.forward(ids, this.zeroState(B));
    return { logits: lastRow(r.logits, T), state: r.state };
  }

  dispose(): void {
    this.net.dispose();
  }
}

export function gatesOf(spec: ModelSpec): number {
  return spec.cell === 'transformer' ? 0 : gateCount(spec.cell);
}
