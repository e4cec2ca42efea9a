/**
 * Training configuration: the defaults as one commented block (nanoGPT style), grouped as
 * char-rnn's train.lua groups them. Presets in ./presets override a few of these; the command
 * line and the UI override any of them with typed values.
 */
export type CorpusMode = 'text' | 'lines';
/** The recurrent cells (the fused recurrent kernels take one of these). */
export type CellType = 'lstm' | 'gru' | 'rnn';
/** Every model type: the recurrent cells and the GPT-style Transformer (src/engine/transformer). */
export type ModelType = CellType | 'transformer';
export type OptimizerName = 'adam' | 'rmsprop';
export type LrSchedule = 'cosine' | 'step';
export type CellNorm = 'none' | 'layer';
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export interface TrainConfig {
  // --- data ---
  /** text: one continuous stream (truncated BPTT); lines: one item per line (names). */
  mode: CorpusMode;
  /** Fraction of the corpus held out for validation (text: the tail; lines: a seeded random subset). */
  valFraction: number;
  // --- model ---
  /** Model type: lstm, gru, rnn (vanilla tanh RNN) or transformer (GPT-style decoder). */
  model: ModelType;
  /** Hidden units per recurrent layer. */
  rnnSize: number;
  /** Number of recurrent layers. */
  numLayers: number;
  /** Size of the character embedding (0: same as rnnSize). */
  embeddingSize: number;
  /** Dropout between recurrent layers (0 = none); Transformer: after embeddings and each residual branch. */
  dropout: number;
  /** Layer normalisation inside the recurrent cells (Ba et al. 2016): 'layer', or 'none'. */
  cellNorm: CellNorm;
  /** Transformer: blocks (n_layer). */
  nLayer: number;
  /** Transformer: attention heads per block (n_head); must divide nEmbd. */
  nHead: number;
  /** Transformer: width of the residual stream (n_embd). */
  nEmbd: number;
  /** Transformer: context length in characters (block size); text mode trains on windows this long. */
  blockSize: number;
  // --- optimization ---
  optimizer: OptimizerName;
  learningRate: number;
  /** cosine: warm up, then a cosine from learningRate down to minLrFraction of it over the run's budget (iterations or time); step: char-rnn's decay per epoch. */
  lrSchedule: LrSchedule;
  /** Iterations of linear learning-rate warm-up from near 0 (0 = none). */
  warmupIters: number;
  /** Where the cosine ends, as a fraction of learningRate (nanoGPT: 0.1). */
  minLrFraction: number;
  /** Decoupled weight decay (AdamW, Loshchilov & Hutter) on the weight matrices; not on biases, gains or the embedding. 0 = off. */
  weightDecay: number;
  /** Multiply the learning rate by this every decayEvery iterations (char-rnn: after decayAfter epochs). */
  learningRateDecay: number;
  /** Epoch after which decay starts (char-rnn's learning_rate_decay_after). */
  decayAfter: number;
  /** Clip the global gradient norm to this (0 = no clipping). */
  gradClip: number;
  batchSize: number;
  /** Characters per row per step (truncated BPTT length; in lines mode the longest item allowed). */
  seqLength: number;
  maxEpochs: number;
  /** 0 = no limit. */
  maxIters: number;
  /** Wall-clock budget in seconds (0 = no limit). */
  maxTime: number;
  /** Stop if the training loss exceeds this many times the first loss (exploding). */
  explodeFactor: number;
  // --- bookkeeping ---
  seed: number;
  /** Evaluate on the full validation split every N iterations. */
  evalEvery: number;
  /** Emit a sample every N iterations (0 = never). */
  sampleEvery: number;
  /** Characters per sample event in text mode (items in lines mode). */
  sampleLength: number;
  /** Force a backend, or 'auto'. */
  backend: BackendName | 'auto';
  /** Parallel CPU workers for data-parallel training (0 = one per core). */
  threads: number;
}

export const DEFAULT_CONFIG: Readonly<TrainConfig> = Object.freeze({
  mode: 'text',
  valFraction: 0.1,
  model: 'lstm',
  rnnSize: 128,
  numLayers: 2,
  embeddingSize: 0,
  dropout: 0,
  cellNorm: 'none',
  nLayer: 4,
  nHead: 4,
  nEmbd: 128,
  blockSize: 64,
  optimizer: 'adam',
  learningRate: 2e-3,
  lrSchedule: 'cosine',
  warmupIters: 100,
  minLrFraction: 0.1,
  weightDecay: 0.1,
  learningRateDecay: 0.97,
  decayAfter: 10,
  gradClip: 5,
  batchSize: 50,
  seqLength: 50,
  maxEpochs: 50,
  maxIters: 0,
  maxTime: 0,
  explodeFactor: 3,
  seed: 123,
  evalEvery: 200,
  sampleEvery: 200,
  sampleLength: 200,
  backend: 'auto',
  threads: 0,
});

/** One-line help per option, in char-rnn's groups; used by --help and the Advanced section of the UI. */
export const CONFIG_HELP: Record<'data' | 'model' | 'optimization' | 'bookkeeping', Partial<Record<keyof TrainConfig, string>>> = {
  data: {
    mode: 'text: one continuous stream; lines: one item per line (names, titles)',
    valFraction: 'fraction held out for validation (text: the tail; lines: a seeded random subset)',
  },
  model: {
    model: 'model type: lstm, gru, rnn or transformer',
    rnnSize: 'hidden units per recurrent layer',
    numLayers: 'number of recurrent layers',
    embeddingSize: 'character embedding size (0: same as rnn size)',
    dropout: 'dropout between recurrent layers (0 = none); transformer: on embeddings and residual branches',
    nLayer: 'transformer: number of blocks',
    nHead: 'transformer: attention heads per block (must divide n-embd)',
    nEmbd: 'transformer: width (embedding and residual stream)',
    blockSize: 'transformer: context length in characters (text mode trains on windows this long)',
    cellNorm: 'layer: layer normalisation inside the recurrent cells (Ba et al. 2016; slower: not in the fused kernels); none: off',
  },
  optimization: {
    optimizer: 'adam or rmsprop',
    learningRate: 'step size (the peak, with warm-up and cosine)',
    lrSchedule: 'cosine: warm up, then cosine decay over the budget (iterations, or time with max-time); step: char-rnn\'s decay per epoch',
    warmupIters: 'steps of linear learning-rate warm-up (0 = none)',
    minLrFraction: 'the cosine ends at this fraction of the learning rate',
    weightDecay: 'decoupled weight decay (AdamW) on weight matrices, not biases or the embedding (0 = off)',
    learningRateDecay: 'step schedule: multiply the learning rate by this each epoch after decay-after',
    decayAfter: 'step schedule: epoch after which the learning rate starts to decay',
    gradClip: 'clip the global gradient norm to this (0 = off)',
    batchSize: 'sequences per step',
    seqLength: 'characters per sequence (truncated BPTT length)',
    maxEpochs: 'stop after this many passes over the training data',
    maxIters: 'stop after this many steps (0 = no limit)',
    maxTime: 'stop after this many seconds (0 = no limit)',
    explodeFactor: 'stop as diverged when the loss exceeds this many times the first loss',
  },
  bookkeeping: {
    seed: 'random seed (initialisation, batches, dropout, samples)',
    evalEvery: 'evaluate on the whole validation split every N steps',
    sampleEvery: 'print a sample every N steps (0 = never)',
    sampleLength: 'characters (text) or items (lines) per training sample',
    backend: 'auto, tensorflow, webgpu, wasm or cpu',
    threads: 'CPU worker threads for data-parallel training (0 = one per core)',
  },
};

/** The choices of the string options (select boxes, --help). */
export const CONFIG_CHOICES: Partial<Record<keyof TrainConfig, readonly string[]>> = {
  mode: ['text', 'lines'],
  model: ['lstm', 'gru', 'rnn', 'transformer'],
  optimizer: ['adam', 'rmsprop'],
  lrSchedule: ['cosine', 'step'],
  cellNorm: ['none', 'layer'],
  backend: ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'],
};

/** Options that must be whole numbers. */
export const INTEGER_OPTIONS: ReadonlySet<keyof TrainConfig> = new Set<keyof TrainConfig>([
  'rnnSize', 'numLayers', 'embeddingSize', 'nLayer', 'nHead', 'nEmbd', 'blockSize', 'decayAfter', 'warmupIters', 'batchSize', 'seqLength', 'maxIters', 'seed', 'evalEvery', 'sampleEvery', 'sampleLength', 'threads',
]);

/**
 * What a checkpoint written before these options existed trained with: char-rnn's step decay, no
 * warm-up, no weight decay, no cell normalisation. Resuming one fills its missing options from here,
 * so it continues as it started.
 */
export const LEGACY_CONFIG: Readonly<Pick<TrainConfig, 'cellNorm' | 'lrSchedule' | 'warmupIters' | 'minLrFraction' | 'weightDecay'>> = Object.freeze({
  cellNorm: 'none',
  lrSchedule: 'step',
  warmupIters: 0,
  minLrFraction: 0.1,
  weightDecay: 0,
});
