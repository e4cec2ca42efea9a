/**
 * The training loop, as an async generator of TrainEvents: the caller decides what to do with them
 * (progress bar, JSON lines, database rows, a chart), and pausing is simply not asking for the
 * next event. Stopping: abort the signal; the loop finishes its step, writes `latest`, and ends.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from './backend.ts';
import type { Batch, TextLayout } from './batches.ts';
import { linesItersPerEpoch, linesBatch, linesTrainBatch, randomWindows, textBatch, textEvalBatches, textLayout } from './batches.ts';
import type { CheckpointData, TrainerState } from './checkpoint.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import type { TrainConfig } from './config.ts';
import { DEFAULT_CONFIG, LEGACY_CONFIG, RESUMABLE_OPTIONS, configProblem } from './config.ts';
import type { Corpus, Split } from './corpus.ts';
import { splitCorpus } from './corpus.ts';
import { CharmerError } from './errors.ts';
import type { TrainEvent } from './events.ts';
import { CharModel, specFromConfig, type CharmerMetadata, type ModelSpec } from './model.ts';
import { softmaxCrossEntropy } from './fused/loss.ts';
import { ngramBaseline } from './ngram.ts';
import { Optimizer } from './optimizer.ts';
import { DataParallel, type LocalStep } from './parallel/pool.ts';
import type { LayerState } from './recurrent.ts';
import { Rng } from './rng.ts';
import { learningRateAt } from './schedule.ts';
import { sampleLines, sampleTextAll } from './sample.ts';
import { stripCategoryTokens } from './categories.ts';

export interface TrainOptions {
  corpus: Corpus;
  /** Overrides of DEFAULT_CONFIG (on resume: only the limits and bookkeeping options apply). */
  config?: Partial<TrainConfig>;
  /** Checkpoints go to out/best and out/latest. */
  out: string;
  /** Continue exactly from out/latest. */
  resume?: boolean;
  /** Fine-tune from this checkpoint directory; characters it lacks get new rows. */
  initFrom?: string;
  signal?: AbortSignal;
  /** Compute the n-gram baseline for the start event (default true). */
  baseline?: boolean;
}

/**
 * The defaults with the overrides applied, each option checked against its declaration
 * (src/common/options.ts); the first problem is refused with a sentence naming its flag.
 */
export function resolveConfig(overrides: Partial<TrainConfig> = {}, base: TrainConfig = DEFAULT_CONFIG): TrainConfig {
  const c = { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) } as TrainConfig;
  const problem = configProblem(c);
  if (problem) throw new CharmerError('BAD_OPTION', problem);
  if (c.model === 'transformer') checkTransformerOptions(c);
  return c;
}

/** The Transformer's shape: heads must split the width evenly; sizes within what fits. */
function checkTransformerOptions(c: TrainConfig): void {
  if (c.nEmbd % c.nHead !== 0) {
    const near = [c.nEmbd - (c.nEmbd % c.nHead), c.nEmbd - (c.nEmbd % c.nHead) + c.nHead].filter((w) => w > 0);
    throw new CharmerError('BAD_OPTION', `n-head ${c.nHead} does not divide n-embd ${c.nEmbd}: every head takes an equal share of the width. Use an n-embd that is a multiple of ${c.nHead} (such as ${near.join(' or ')}), or another n-head.`);
  }
}

/** Characters per training row: the Transformer's context (block size), or the RNNs' BPTT length. */
export function windowLength(c: Pick<TrainConfig, 'model' | 'seqLength' | 'blockSize'>): number {
  return c.model === 'transformer' ? c.blockSize : c.seqLength;
}

/**
 * A Transformer reads at most blockSize characters at once, so in lines mode each item with its
 * start marker (and category tokens) must fit: refused with the block size that would fit.
 */
export function checkItemsFitContext(corpus: Corpus, c: Pick<TrainConfig, 'model' | 'blockSize'>): void {
  if (c.model !== 'transformer' || !corpus.items) return;
  const o = corpus.items.offsets;
  let longest = 0;
  for (let i = 0; i + 1 < o.length; i++) longest = Math.max(longest, o[i + 1]! - o[i]!);
  if (longest + 1 > c.blockSize) {
    throw new CharmerError('BAD_OPTION', `The longest item has ${longest} characters (with its category tokens) but a Transformer with block-size ${c.blockSize} reads at most ${c.blockSize - 1} besides the start of the line. Use --block-size ${longest + 1} or more.`);
  }
}

/**
 * Whether a corpus split this way can train: one text batch of batchSize x seqLength, a validation
 * split of at least 2 characters, or at least 2 training items. The advice in the message is worked
 * out by the same arithmetic as splitCorpus and checked before it is given, so following it works.
 */
export function checkCorpusFits(corpus: Corpus, config: Pick<TrainConfig, 'valFraction' | 'batchSize' | 'seqLength' | 'seed'> & Partial<Pick<TrainConfig, 'model' | 'blockSize'>>): void {
  const gpt = config.model === 'transformer';
  if (corpus.text) {
    const n = corpus.text.length;
    const fits = (b: number, t: number, f: number) => {
      const nVal = Math.max(1, Math.round(n * f));
      return nVal >= 2 && textLayout(n - nVal, b, t).itersPerEpoch >= 1;
    };
    const { batchSize: B, valFraction: f } = config;
    const T = gpt ? config.blockSize! : config.seqLength;
    if (fits(B, T, f)) return;
    const nVal = Math.max(1, Math.round(n * f));
    const flags: string[] = [];
    let f2 = f;
    if (nVal < 2) {
      f2 = Math.ceil((1.5 / n) * 100) / 100;
      if (Math.max(1, Math.round(n * f2)) < 2 || f2 > 0.5) f2 = NaN;
      else flags.push(`--val-fraction ${f2}`);
    }
    const nTrain = n - Math.max(1, Math.round(n * (Number.isNaN(f2) ? f : f2)));
    let b2 = B;
    let t2 = T;
    if (textLayout(nTrain, B, T).itersPerEpoch < 1) {
      const maxBatch = Math.floor((nTrain - 1) / T);
      const maxSeq = Math.floor((nTrain - 1) / B);
      if (maxBatch >= 1) b2 = maxBatch;
      else if (maxSeq >= 2) t2 = maxSeq;
      else {
        b2 = 1;
        t2 = Math.max(1, nTrain - 1);
      }
    }
    if (b2 !== B) flags.unshift(`--batch-size ${b2}`);
    if (t2 !== T) flags.splice(b2 !== B ? 1 : 0, 0, `${gpt ? '--block-size' : '--seq-length'} ${t2}`);
    const works = !Number.isNaN(f2) && fits(b2, t2, f2);
    const what =
      nVal < 2
        ? `The text has ${n.toLocaleString('en-US')} characters, so a validation fraction of ${f} holds out ${nVal} (at least 2 are needed)`
        : `The training text has ${(n - nVal).toLocaleString('en-US')} characters, too few for batches of ${B} x ${T} (needs at least ${(B * T + 1).toLocaleString('en-US')})`;
    throw new CharmerError(
      'CORPUS_TOO_SMALL',
      `${what}. ` + (works ? `Use a longer text, or ${flags.join(' ')} would fit.` : 'Use a longer text (a few thousand characters at least).'),
      { characters: n, advice: works ? flags : null },
    );
  }
  const items = corpus.items ? corpus.items.offsets.length - 1 : 0;
  const nVal = Math.max(1, Math.round(items * config.valFraction));
  if (items - nVal < 2) {
    throw new CharmerError('CORPUS_TOO_SMALL', `The list has ${items} item(s), too few to hold out ${nVal} for validation and train on at least 2; lines mode needs at least 3 (a few hundred to learn much).`);
  }
}

/**
 * Everything train() would refuse before its first step, without writing anything: the options,
 * the corpus mode, the backend, the corpus size, and a checkpoint to fine-tune from (loaded in full,
 * so a damaged one is found here). The command line calls this before it creates a library run.
 */
export async function checkTraining(opts: Pick<TrainOptions, 'corpus' | 'config' | 'initFrom'>): Promise<TrainConfig> {
  let config = resolveConfig({ mode: opts.corpus.mode, ...opts.config });
  if (opts.initFrom) {
    const init = await loadCheckpoint(opts.initFrom, false);
    config = adoptShape(config, init.model.spec);
    init.model.dispose();
  }
  if (config.mode !== opts.corpus.mode) {
    throw new CharmerError('BAD_OPTION', `The corpus was loaded in ${opts.corpus.mode} mode but the run asks for ${config.mode} mode. Load it again with --mode ${config.mode}.`);
  }
  checkCorpusFits(opts.corpus, config);
  checkItemsFitContext(opts.corpus, config);
  await chooseBackend(config.backend);
  return config;
}

/** A config with the model shape of a checkpoint's spec (fine-tuning keeps the model it starts from). */
function adoptShape(config: TrainConfig, s: ModelSpec): TrainConfig {
  return s.cell === 'transformer'
    ? { ...config, model: s.cell, nEmbd: s.hidden, nLayer: s.layers, nHead: s.heads!, blockSize: s.blockSize! }
    : { ...config, model: s.cell, rnnSize: s.hidden, numLayers: s.layers, embeddingSize: s.embeddingSize, cellNorm: s.cellNorm ?? 'none' };
}

/** Re-express a split in another vocabulary (fine-tuning from a model whose indices differ). */
function remapSplit(split: Split, map: Uint16Array): Split {
  if (split.mode === 'text') return { mode: 'text', data: split.data.map((i) => map[i]!) };
  return { mode: 'lines', items: split.items.map((it) => it.map((i) => map[i]!)) };
}

export function maskedLoss(logits: tf.Tensor2D, y: tf.Tensor1D, mask: tf.Tensor1D | null, count: number): tf.Scalar {
  const nll = softmaxCrossEntropy(logits, y);
  return tf.div(tf.sum(mask ? tf.mul(nll, mask) : nll), count) as tf.Scalar;
}

function batchTensors(b: Batch): { x: tf.Tensor2D; y: tf.Tensor1D; mask: tf.Tensor1D | null } {
  return {
    x: tf.tensor2d(b.x, [b.rows, b.steps], 'int32'),
    y: tf.tensor1d(b.y, 'int32'),
    mask: b.mask ? tf.tensor1d(b.mask) : null,
  };
}

/**
 * One thread's part of a training step (src/engine/parallel): the loss, the gradient of every
 * variable and the next carried state for a batch or a shard of it. The trainer, the data-parallel
 * workers, the benchmark and the tests all step through this.
 */
export function shardGradients(model: CharModel, dropoutSeed?: number): LocalStep {
  return (sb, prev) => {
    const t = batchTensors(sb);
    let next: LayerState[] = [];
    const r = tf.variableGrads(() => {
      const f = model.forward(t.x, prev, dropoutSeed);
      next = f.state.map((l) => l.map((s) => tf.keep(s)));
      return maskedLoss(f.logits, t.y, t.mask, sb.count);
    }, model.variables);
    tf.dispose([t.x, t.y, ...(t.mask ? [t.mask] : [])]);
    return { ...r, next };
  };
}

function disposeState(s: LayerState[]): void {
  for (const l of s) for (const t of l) t.dispose();
}

/** Mean loss per character over the whole validation split (nats/char). */
export async function evaluate(model: CharModel, val: Split, batch: number, seq: number, signal?: AbortSignal): Promise<number> {
  const marker = model.vocab.indexOf('\n');
  const batches: Iterable<Batch> =
    val.mode === 'text'
      ? textEvalBatches(val.data, batch, seq)
      : (function* () {
          // Similar lengths together, so little of each batch is padding.
          const items = [...val.items].sort((a, b) => a.length - b.length);
          for (let i = 0; i < items.length; i += batch) yield linesBatch(items.slice(i, i + batch), marker);
        })();
  let total = tf.scalar(0);
  let count = 0;
  let state: LayerState[] | null = null;
  let n = 0;
  for (const b of batches) {
    if (signal?.aborted) break;
    const prev: LayerState[] = val.mode === 'text' && state ? state : model.zeroState(b.rows);
    const out = tf.tidy(() => {
      const t = batchTensors(b);
      const r = model.forward(t.x, prev);
      return { state: r.state, total: tf.add(total, tf.mul(maskedLoss(r.logits, t.y, t.mask, b.count), b.count)) };
    });
    disposeState(prev);
    // Lines mode starts every batch from zero: the state each batch ends with is not carried, so
    // it goes now (it used to stay, 64 tensors per evaluation of a 2-layer LSTM, found by the soak).
    if (val.mode === 'lines' && state) disposeState(state);
    total.dispose();
    total = out.total as tf.Scalar;
    state = out.state as LayerState[];
    count += b.count;
    if (++n % 8 === 0) await new Promise((r) => setImmediate(r));
  }
  if (state) disposeState(state);
  const sum = (await total.data())[0]!;
  total.dispose();
  return count > 0 ? sum / count : NaN;
}

export async function* train(opts: TrainOptions): AsyncGenerator<TrainEvent, void> {
  const { corpus, out, signal } = opts;
  const latestDir = join(out, 'latest');
  const bestDir = join(out, 'best');
  let resumed: CheckpointData | null = null;
  let config: TrainConfig;
  if (opts.resume) {
    resumed = await loadCheckpoint(latestDir, true).catch((e) => {
      if (e instanceof CharmerError) throw new CharmerError('BAD_CHECKPOINT', `Nothing to resume in ${out}: ${e.message}`);
      throw e;
    });
    const meta = resumed.model.meta;
    if (meta.corpusHash !== corpus.hash) {
      throw new CharmerError('CHECKPOINT_MISMATCH', `The run in ${out} was trained on "${meta.corpusName}", not on ${corpus.name}. Resume with the same corpus, or fine-tune with --init-from.`);
    }
    const limits = Object.fromEntries(RESUMABLE_OPTIONS.filter((k) => opts.config?.[k] !== undefined).map((k) => [k, opts.config![k]]));
    // Checkpoints from before the schedule and weight-decay options go on as they started.
    config = resolveConfig(limits, { ...DEFAULT_CONFIG, ...LEGACY_CONFIG, ...meta.config });
  } else {
    config = resolveConfig({ mode: corpus.mode, ...opts.config });
  }
  if (config.mode !== corpus.mode) {
    throw new CharmerError('BAD_OPTION', `The corpus was loaded in ${corpus.mode} mode but the run asks for ${config.mode} mode. Load it again with --mode ${config.mode}.`);
  }
  const backend = await chooseBackend(config.backend);

  // Vocabulary: the corpus's own, the checkpoint's (resume), or the checkpoint's plus new characters (fine-tune).
  let vocab = corpus.vocab;
  let init: CheckpointData | null = null;
  if (resumed) {
    vocab = resumed.model.vocab;
  } else if (opts.initFrom) {
    init = await loadCheckpoint(opts.initFrom, false);
    vocab = init.model.vocab.extendedWith(corpus.vocab.chars).vocab;
    // The model's shape is the checkpoint's (before batches are sized: a Transformer's windows are its block size).
    config = adoptShape(config, init.model.spec);
  }
  let { train: trainSplit, val: valSplit } = splitCorpus(corpus, config.valFraction, config.seed);
  if (vocab !== corpus.vocab) {
    const map = Uint16Array.from(corpus.vocab.chars, (c) => vocab.indexOf(c));
    if (map.some((i) => i === 0xffff)) {
      throw new CharmerError('CHECKPOINT_MISMATCH', `The corpus has characters the checkpoint's vocabulary lacks; fine-tune with --init-from instead of resuming.`);
    }
    trainSplit = remapSplit(trainSplit, map);
    valSplit = remapSplit(valSplit, map);
  }

  const B = config.batchSize;
  const T = windowLength(config);
  const marker = vocab.indexOf('\n');
  let layout: TextLayout | null = null;
  let itersPerEpoch: number;
  let trainChars: number;
  let valChars: number;
  checkCorpusFits(corpus, config);
  checkItemsFitContext(corpus, config);
  if (trainSplit.mode === 'text' && valSplit.mode === 'text') {
    layout = textLayout(trainSplit.data.length, B, T);
    itersPerEpoch = layout.itersPerEpoch;
    trainChars = trainSplit.data.length;
    valChars = valSplit.data.length;
  } else if (trainSplit.mode === 'lines' && valSplit.mode === 'lines') {
    itersPerEpoch = linesItersPerEpoch(trainSplit.items.length, B);
    trainChars = trainSplit.items.reduce((s, it) => s + it.length + 1, 0);
    valChars = valSplit.items.reduce((s, it) => s + it.length + 1, 0);
  } else {
    throw new Error('split modes differ');
  }
  const totalIters = Math.max(1, config.maxIters > 0 ? Math.min(config.maxIters, Math.ceil(config.maxEpochs * itersPerEpoch)) : Math.ceil(config.maxEpochs * itersPerEpoch));

  let baselineValLoss: number | null = resumed?.model.meta.baselineValLoss ?? null;
  let baselineOrder: number | null = null;
  if (opts.baseline !== false && baselineValLoss === null) {
    const b = computeBaseline(trainSplit, valSplit, vocab.size, marker);
    baselineValLoss = b.valLoss;
    baselineOrder = b.order;
  }

  const spec = resumed?.model.spec ?? (init ? { ...init.model.spec, vocabSize: vocab.size, dropout: config.dropout } : specFromConfig(config, vocab.size));
  const meta: CharmerMetadata = resumed?.model.meta ?? {
    format: 'charmer-1',
    vocab: vocab.toJSON(),
    mode: config.mode,
    config,
    iteration: 0,
    epoch: 0,
    valLoss: null,
    bestValLoss: null,
    history: [],
    baselineValLoss,
    corpusName: corpus.name,
    corpusHash: corpus.hash,
    createdAt: new Date().toISOString(),
    ...(corpus.categories ? { categories: corpus.categories } : {}),
    ...(corpus.builtin ? { builtinCorpus: corpus.builtin } : {}),
  };
  meta.config = config;
  const model = resumed?.model ?? CharModel.create(spec, vocab, meta, config.seed);
  if (init) copyFineTuneWeights(init.model, model);
  init?.model.dispose();
  const optimizer = new Optimizer(config.optimizer, model.variables, config.weightDecay, weightDecayMask(model));
  const rng = resumed ? new Rng(resumed.trainer!.state.rng) : new Rng(config.seed);
  let iteration = resumed?.trainer?.state.iteration ?? 0;
  let bestValLoss = resumed?.trainer?.state.bestValLoss ?? null;
  let firstLoss = resumed?.trainer?.state.firstLoss ?? null;
  let carry: LayerState[] | null = null;
  if (resumed?.trainer) {
    const t = resumed.trainer;
    const per = model.spec.cell === 'lstm' ? 2 : 1;
    const slotsFit = t.optimizer.slots.length === optimizer.slots.length && t.state.optimizer.slotShapes.every((s, i) => s.join() === optimizer.slots[i]!.shape.join());
    const carryFits = t.carry.length === 0 || (t.carry.length === model.layers.length * per && t.state.carryShapes.every((s) => s.length === 2 && s[1] === model.spec.hidden));
    if (!slotsFit || !carryFits) {
      optimizer.dispose();
      model.dispose();
      throw new CharmerError('BAD_CHECKPOINT', `${join(latestDir, 'trainer.json')} is damaged (its optimizer state does not fit the model in model.json). Resume from the run's other checkpoint, or fine-tune from this one with --init-from.`);
    }
    optimizer.setState(t.optimizer);
    const c = t.carry;
    if (c.length) carry = model.layers.map((_, l) => Array.from({ length: per }, (_, k) => tf.tensor2d(c[l * per + k]!, t.state.carryShapes[l * per + k] as [number, number])));
  }
  const items = config.mode === 'lines' ? itemsForNovelty(corpus, config) : undefined;
  const startedAt = performance.now();
  const elapsedBefore = resumed?.trainer?.state.elapsedS ?? 0;
  const elapsed = () => elapsedBefore + (performance.now() - startedAt) / 1000;
  const startIteration = iteration;
  let lastEvalIteration = resumed ? iteration : -1;
  let lastTrainLoss = NaN;

  // Every core: data-parallel workers when threads != 1 on a CPU backend (src/engine/parallel).
  // Started before the start event, so the device it names says how many threads really train.
  const parallel = await DataParallel.create(model, config.threads, backend.backend, B);
  const threadsUsed = parallel?.threads ?? 1;
  const shownBackend =
    backend.backend === 'wasm' || backend.backend === 'cpu'
      ? { ...backend, threads: threadsUsed, device: `CPU (${backend.backend === 'wasm' ? 'WebAssembly' : 'JavaScript'}, ${threadsUsed} thread${threadsUsed === 1 ? '' : 's'})` }
      : backend;
  let startSeen = false;
  try {
    yield {
      type: 'start',
      config,
      backend: shownBackend,
      vocabSize: vocab.size,
      params: model.params,
      trainChars,
      valChars,
      itersPerEpoch,
      totalIters,
      startIteration,
      baselineValLoss,
      baselineOrder,
    };
    startSeen = true;
  } finally {
    // The caller stopped at the start event: nothing below runs, so release what it would have.
    if (!startSeen) {
      parallel?.dispose();
      if (carry) disposeState(carry);
      optimizer.dispose();
      model.dispose();
    }
  }

  const checkpoint = async (dir: string): Promise<void> => {
    meta.iteration = iteration;
    meta.epoch = iteration / itersPerEpoch;
    meta.bestValLoss = bestValLoss;
    const carryArrays = carry ? await Promise.all(carry.flat().map(async (t) => new Float32Array(await t.data()))) : [];
    const optState = await optimizer.getState();
    const state: TrainerState = {
      iteration,
      rng: rng.state,
      elapsedS: elapsed(),
      bestValLoss,
      firstLoss,
      optimizer: { name: optState.name, step: optState.step, slotShapes: [...model.variables, ...(optState.name === 'adam' ? model.variables : [])].map((v) => v.shape) },
      carryShapes: carry ? carry.flat().map((t) => t.shape) : [],
    };
    await saveCheckpoint(dir, { model, trainer: { state, optimizer: optState, carry: carryArrays }, items });
  };

  async function* evalAndSave(): AsyncGenerator<TrainEvent> {
    const valLoss = await evaluate(model, valSplit, B, T);
    lastEvalIteration = iteration;
    meta.valLoss = valLoss;
    meta.history.push({ iteration, valLoss });
    const improved = Number.isFinite(valLoss) && (bestValLoss === null || valLoss < bestValLoss);
    if (improved) bestValLoss = valLoss;
    yield { type: 'eval', iteration, epoch: iteration / itersPerEpoch, valLoss, bestValLoss: bestValLoss ?? valLoss, trainLoss: lastTrainLoss };
    if (improved) {
      await checkpoint(bestDir);
      yield { type: 'checkpoint', kind: 'best', iteration, valLoss, path: bestDir };
    }
    await checkpoint(latestDir);
    yield { type: 'checkpoint', kind: 'latest', iteration, valLoss, path: latestDir };
  }

  const recent: number[] = [];
  let lastTime = performance.now();
  const historyEvery = Math.max(1, Math.floor(config.evalEvery / 10));
  let reason: 'completed' | 'max-iters' | 'max-time' | 'stopped' = 'completed';
  try {
    while (iteration < totalIters) {
      if (signal?.aborted) {
        reason = 'stopped';
        break;
      }
      const k = iteration % itersPerEpoch;
      let b: Batch;
      if (layout && trainSplit.mode === 'text') {
        if (k === 0 && carry) {
          disposeState(carry);
          carry = null;
        }
        // The Transformer starts each window afresh, so windows start anywhere (nanoGPT's batches):
        // a character is seen at a different position every epoch.
        b = model.recurrent ? textBatch(trainSplit.data, layout, k, T) : randomWindows(trainSplit.data, B, T, rng);
      } else {
        b = linesTrainBatch(trainSplit as Split & { mode: 'lines' }, marker, B, config.seed, iteration);
      }
      const lr = learningRateAt(config, { iteration, elapsedS: elapsed(), totalIters, itersPerEpoch });
      const dropoutSeed = config.dropout > 0 ? rng.seed() : undefined;
      const prev = layout ? (carry ?? model.zeroState(b.rows)) : model.zeroState(b.rows);
      // One thread's share (or all) of the step: loss, gradients and the state to carry.
      const localStep = shardGradients(model, dropoutSeed);
      const { value, grads, next } = parallel ? await parallel.step(b, prev, localStep, dropoutSeed) : localStep(b, prev);
      optimizer.apply(model.variables.map((v) => grads[v.name]!), lr, config.gradClip);
      parallel?.syncWeights();
      tf.dispose(Object.values(grads));
      disposeState(prev);
      if (layout) carry = next;
      else disposeState(next);
      const loss = (await value.data())[0]!;
      value.dispose();
      iteration++;
      firstLoss ??= loss;
      if (!Number.isFinite(loss) || loss > config.explodeFactor * firstLoss) {
        yield {
          type: 'error',
          code: 'TRAINING_DIVERGED',
          message:
            `Training diverged at iteration ${iteration} (loss ${Number.isFinite(loss) ? loss.toFixed(2) : loss}, started at ${firstLoss.toFixed(2)}). ` +
            `The last good checkpoint${lastEvalIteration >= 0 ? ` (iteration ${lastEvalIteration})` : ''} is kept. Try a lower learning rate (--learning-rate ${(config.learningRate / 2).toPrecision(2)}) or stronger clipping.`,
          iteration,
        };
        return;
      }
      lastTrainLoss = loss;
      const now = performance.now();
      recent.push((now - lastTime) / 1000 / b.count);
      lastTime = now;
      if (recent.length > 20) recent.shift();
      const secPerChar = recent.reduce((s, x) => s + x, 0) / recent.length;
      const itersLeft = totalIters - iteration;
      let etaS = itersLeft * secPerChar * b.count;
      if (config.maxTime > 0) etaS = Math.min(etaS, Math.max(0, config.maxTime - elapsed()));
      if (iteration % historyEvery === 0) meta.history.push({ iteration, trainLoss: loss });
      yield { type: 'progress', iteration, epoch: iteration / itersPerEpoch, trainLoss: loss, lr, charsPerS: 1 / secPerChar, elapsedS: elapsed(), etaS, totalIters };
      if (iteration % config.evalEvery === 0 && iteration < totalIters) yield* evalAndSave();
      if (config.sampleEvery > 0 && iteration % config.sampleEvery === 0) yield await trainingSample(model, config, iteration, meta.valLoss);
      if (config.maxTime > 0 && elapsed() >= config.maxTime) {
        reason = 'max-time';
        break;
      }
    }
    if (reason === 'completed' && config.maxIters > 0 && iteration >= config.maxIters) reason = 'max-iters';
    if (reason !== 'stopped' || bestValLoss === null) {
      if (lastEvalIteration !== iteration) yield* evalAndSave();
    } else {
      await checkpoint(latestDir);
      yield { type: 'checkpoint', kind: 'latest', iteration, valLoss: meta.valLoss, path: latestDir };
    }
    yield { type: 'done', reason, iteration, bestValLoss, elapsedS: elapsed() };
  } finally {
    parallel?.dispose();
    if (carry) disposeState(carry);
    optimizer.dispose();
    model.dispose();
  }
}

/** Weight decay on weight matrices only: not biases, normalisation gains, or embeddings (nanoGPT). */
export function weightDecayMask(model: CharModel): boolean[] {
  const embeddings = new Set<tf.Tensor>([model.embedding, ...(model.gpt ? [model.gpt.positions] : [])]);
  return model.variables.map((v) => v.shape.length === 2 && !embeddings.has(v) && !/embedding/.test(v.name));
}

async function trainingSample(model: CharModel, config: TrainConfig, iteration: number, valLoss: number | null): Promise<TrainEvent> {
  const temperature = 0.8;
  const seed = config.seed + iteration;
  const text =
    config.mode === 'lines'
      ? (await sampleLines(model, { count: Math.max(1, Math.min(50, config.sampleLength)), temperature, seed, unique: false })).map((s) => s.text).join('\n')
      : (await sampleTextAll(model, { length: config.sampleLength, temperature, seed })).text;
  return { type: 'sample', iteration, text, valLoss, temperature };
}

/** The train/val items as strings, saved with lines-mode checkpoints for novelty tags. */
function itemsForNovelty(corpus: Corpus, config: TrainConfig): { train: string[]; val: string[] } | undefined {
  if (!corpus.items) return undefined;
  const { train, val } = splitCorpus(corpus, config.valFraction, config.seed);
  // Novelty is about the name, whatever category it was listed under: the tokens are dropped.
  const dec = (s: Split) => (s.mode === 'lines' ? s.items.map((it) => stripCategoryTokens(corpus.vocab.decode(it))) : []);
  return { train: dec(train), val: dec(val) };
}

/**
 * Baseline on the same split. Very large corpora are counted on their last 20M training
 * characters: the figure changes little and the count stays a few seconds.
 */
function computeBaseline(train: Split, val: Split, vocabSize: number, marker: number): { valLoss: number; order: number } {
  const cap = 20_000_000;
  const r =
    train.mode === 'text' && val.mode === 'text'
      ? ngramBaseline({ mode: 'text', vocabSize, train: train.data.subarray(Math.max(0, train.data.length - cap)), val: val.data })
      : ngramBaseline({ mode: 'lines', vocabSize, boundary: marker, train: (train as Split & { mode: 'lines' }).items, val: (val as Split & { mode: 'lines' }).items });
  return { valLoss: r.valLoss, order: r.order };
}

/**
 * Fine-tuning: copy every weight of the source model; rows (embedding) and columns (output layer)
 * for characters the source never saw keep their fresh initialisation, with a low output bias so
 * the model starts by (almost) never producing them.
 */
function copyFineTuneWeights(src: CharModel, dst: CharModel): void {
  const oldV = src.vocab.size;
  tf.tidy(() => {
    dst.embedding.assign(tf.concat([src.embedding, tf.slice(dst.embedding, [oldV, 0], [-1, -1])], 0));
    // The Transformer's other weights do not depend on the vocabulary: copied in model order.
    const vocabSized = new Set<tf.Variable>([src.embedding, src.outKernel, src.outBias]);
    if (src.gpt) src.variables.forEach((v, i) => vocabSized.has(v) || dst.variables[i]!.assign(v));
    src.layers.forEach((w, l) => {
      const d = dst.layers[l]!;
      (d.kernel as unknown as tf.Variable).assign(w.kernel);
      (d.recurrentKernel as unknown as tf.Variable).assign(w.recurrentKernel);
      (d.bias as unknown as tf.Variable).assign(w.bias);
      if (w.norm && d.norm) {
        const [from, to] = [w.norm, d.norm];
        for (const k of ['gainX', 'gainH', 'gainC', 'biasC'] as const) if (from[k] && to[k]) (to[k] as unknown as tf.Variable).assign(from[k]);
      }
    });
    dst.outKernel.assign(tf.concat([src.outKernel, tf.slice(dst.outKernel, [0, oldV], [-1, -1])], 1));
    dst.outBias.assign(tf.concat([src.outBias, tf.fill([dst.vocab.size - oldV], -5)], 0));
  });
}

