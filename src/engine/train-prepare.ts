/**
 * Preparing a run, everything before its first step: the options checked, the corpus split (in
 * the checkpoint's vocabulary when resuming or fine-tuning), the batch layout and budget, the
 * n-gram baseline, and the model, optimizer and random state, fresh or restored from `latest`.
 * Whatever would be refused is refused here, before anything is written; ./train-loop.ts runs
 * what this returns.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from './backend.ts';
import type { TextLayout } from './batches.ts';
import { linesItersPerEpoch, textLayout } from './batches.ts';
import type { CheckpointData } from './checkpoint.ts';
import { loadCheckpoint, readCheckpointMeta } from './checkpoint.ts';
import type { TrainConfig } from './config.ts';
import { DEFAULT_CONFIG, LEGACY_CONFIG, RESUMABLE_OPTIONS, configProblem } from './config.ts';
import { adoptShape, checkItemsFitContext, checkTransformerShape, copyGptWeights, windowLength } from './transformer/training.ts';
import type { Corpus, Split } from './corpus.ts';
import { splitCorpus } from './corpus.ts';
import { CharmerError } from './errors.ts';
import type { BackendInfo } from './events.ts';
import { CharModel, specFromConfig, type CharmerMetadata } from './model.ts';
import { ngramBaseline } from './ngram.ts';
import { Optimizer } from './optimizer.ts';
import { WeightAverage } from './averaging.ts';
import type { LayerState } from './recurrent.ts';
import { Rng } from './rng.ts';
import { stripCategoryTokens } from './categories.ts';
import type { Vocabulary } from './vocabulary.ts';

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
  // A checkpoint's options (base when resuming) lack any option declared after it was written: those take their defaults.
  const c = { ...DEFAULT_CONFIG, ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) } as TrainConfig;
  const problem = configProblem(c);
  if (problem) throw new CharmerError('BAD_OPTION', problem);
  checkTransformerShape(c);
  return c;
}

/**
 * Whether a corpus split this way can train: one text batch of batchSize x seqLength, a validation
 * split of at least 2 characters, or at least 2 training items. The advice in the message is worked
 * out by the same arithmetic as splitCorpus and checked before it is given, so following it works.
 */
export function checkCorpusFits(
  corpus: Corpus,
  config: Pick<TrainConfig, 'valFraction' | 'batchSize' | 'seqLength' | 'seed'> & Partial<Pick<TrainConfig, 'model' | 'blockSize'>>,
): void {
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
    throw new CharmerError(
      'CORPUS_TOO_SMALL',
      `The list has ${items} item(s), too few to hold out ${nVal} for validation and train on at least 2; lines mode needs at least 3 (a few hundred to learn much).`,
    );
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
    throw new CharmerError(
      'BAD_OPTION',
      `The corpus was loaded in ${opts.corpus.mode} mode but the run asks for ${config.mode} mode. Load it again with --mode ${config.mode}.`,
    );
  }
  checkCorpusFits(opts.corpus, config);
  checkItemsFitContext(opts.corpus, config);
  await chooseBackend(config.backend);
  return config;
}

/** A run ready for its first step: what ./train-loop.ts needs, fresh or restored. */
export interface PreparedRun {
  config: TrainConfig;
  backend: BackendInfo;
  latestDir: string;
  bestDir: string;
  vocab: Vocabulary;
  trainSplit: Split;
  valSplit: Split;
  /** Text mode's batch layout (null in lines mode). */
  layout: TextLayout | null;
  /** The end-of-item index in lines mode. */
  marker: number;
  itersPerEpoch: number;
  totalIters: number;
  trainChars: number;
  valChars: number;
  baselineValLoss: number | null;
  baselineOrder: number | null;
  meta: CharmerMetadata;
  model: CharModel;
  optimizer: Optimizer;
  /** The weights' moving average (--ema-decay), or null. */
  average: WeightAverage | null;
  rng: Rng;
  /** Where the run stands: 0 and nulls for a fresh run, the checkpoint's for a resumed one. */
  resumed: boolean;
  iteration: number;
  bestValLoss: number | null;
  firstLoss: number | null;
  carry: LayerState[] | null;
  elapsedBefore: number;
  /** Lines mode: the train/val items as strings, saved with the checkpoints for novelty tags. */
  items?: { train: string[]; val: string[] };
}

export async function prepareRun(opts: TrainOptions): Promise<PreparedRun> {
  const { corpus, out } = opts;
  const latestDir = join(out, 'latest');
  const bestDir = join(out, 'best');
  const { config: asked, resumed } = await runConfig(opts, latestDir);
  let config = asked;
  const backend = await chooseBackend(config.backend);

  // Vocabulary: the corpus's own, the checkpoint's (resume), or the checkpoint's plus new characters (fine-tune).
  let vocab = corpus.vocab;
  let init: CheckpointData | null = null;
  if (resumed) {
    vocab = resumed.model.vocab;
  } else if (opts.initFrom) {
    init = await loadCheckpoint(opts.initFrom, false);
    vocab = init.model.vocab.extendedWith(corpus.vocab.chars).vocab;
    // The checkpoint's shape, before batches are sized (a Transformer's windows are its block size).
    config = adoptShape(config, init.model.spec);
  }
  const { trainSplit, valSplit } = splitsIn(corpus, config, vocab);
  const marker = vocab.indexOf('\n');
  checkCorpusFits(corpus, config);
  checkItemsFitContext(corpus, config);
  const size = splitSizes(trainSplit, valSplit, config);

  let baselineValLoss: number | null = resumed?.model.meta.baselineValLoss ?? null;
  let baselineOrder: number | null = null;
  if (opts.baseline !== false && baselineValLoss === null) {
    const b = computeBaseline(trainSplit, valSplit, vocab.size, marker);
    baselineValLoss = b.valLoss;
    baselineOrder = b.order;
  }

  const spec =
    resumed?.model.spec ??
    (init ? { ...init.model.spec, vocabSize: vocab.size, dropout: config.dropout, outputDropout: config.outputDropout } : specFromConfig(config, vocab.size));
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
  const average = config.emaDecay > 0 ? new WeightAverage(model.variables, config.emaDecay, resumed?.trainer?.state.average?.updates ?? 0) : null;
  const carry = resumed?.trainer ? restoreTrainer(resumed, model, optimizer, latestDir, average) : null;
  const state = resumed?.trainer?.state;
  return {
    config,
    backend,
    latestDir,
    bestDir,
    vocab,
    trainSplit,
    valSplit,
    marker,
    ...size,
    baselineValLoss,
    baselineOrder,
    meta,
    model,
    optimizer,
    average,
    rng,
    resumed: resumed !== null,
    iteration: state?.iteration ?? 0,
    bestValLoss: state?.bestValLoss ?? null,
    firstLoss: state?.firstLoss ?? null,
    carry,
    elapsedBefore: state?.elapsedS ?? 0,
    items: config.mode === 'lines' ? itemsForNovelty(corpus, config) : undefined,
  };
}

/** The run's options: the checkpoint's plus new limits when resuming, else the defaults plus the overrides. */
async function runConfig(opts: TrainOptions, latestDir: string): Promise<{ config: TrainConfig; resumed: CheckpointData | null }> {
  const { corpus, out } = opts;
  let resumed: CheckpointData | null = null;
  let config: TrainConfig;
  if (opts.resume) {
    const nothingToResume = (e: unknown): never => {
      if (e instanceof CharmerError) throw new CharmerError('BAD_CHECKPOINT', `Nothing to resume in ${out}: ${e.message}`);
      throw e;
    };
    // The backend before the weights: tensors made before it is chosen stay with the default (cpu)
    // backend and are moved at first use, one allocation each (on wasm a heap growth mid-step).
    const saved = await readCheckpointMeta(latestDir).catch(nothingToResume);
    await chooseBackend(opts.config?.backend ?? saved.config.backend);
    resumed = await loadCheckpoint(latestDir, true).catch(nothingToResume);
    const meta = resumed.model.meta;
    if (meta.corpusHash !== corpus.hash) {
      throw new CharmerError(
        'CHECKPOINT_MISMATCH',
        `The run in ${out} was trained on "${meta.corpusName}", not on ${corpus.name}. Resume with the same corpus, or fine-tune with --init-from.`,
      );
    }
    const limits = Object.fromEntries(RESUMABLE_OPTIONS.filter((k) => opts.config?.[k] !== undefined).map((k) => [k, opts.config![k]]));
    // Checkpoints from before the schedule and weight-decay options go on as they started.
    config = resolveConfig(limits, { ...DEFAULT_CONFIG, ...LEGACY_CONFIG, ...meta.config });
  } else {
    config = resolveConfig({ mode: corpus.mode, ...opts.config });
  }
  if (config.mode !== corpus.mode) {
    throw new CharmerError(
      'BAD_OPTION',
      `The corpus was loaded in ${corpus.mode} mode but the run asks for ${config.mode} mode. Load it again with --mode ${config.mode}.`,
    );
  }
  return { config, resumed };
}

/** The corpus split as the config says, re-expressed in `vocab` when that is not the corpus's own. */
function splitsIn(corpus: Corpus, config: TrainConfig, vocab: Vocabulary): { trainSplit: Split; valSplit: Split } {
  let { train: trainSplit, val: valSplit } = splitCorpus(corpus, config.valFraction, config.seed);
  if (vocab !== corpus.vocab) {
    const map = Uint16Array.from(corpus.vocab.chars, (c) => vocab.indexOf(c));
    if (map.some((i) => i === 0xffff)) {
      throw new CharmerError(
        'CHECKPOINT_MISMATCH',
        `The corpus has characters the checkpoint's vocabulary lacks; fine-tune with --init-from instead of resuming.`,
      );
    }
    trainSplit = remapSplit(trainSplit, map);
    valSplit = remapSplit(valSplit, map);
  }
  return { trainSplit, valSplit };
}

/** The batch layout, steps per epoch, the step budget and the characters in each split. */
function splitSizes(
  trainSplit: Split,
  valSplit: Split,
  config: TrainConfig,
): Pick<PreparedRun, 'layout' | 'itersPerEpoch' | 'totalIters' | 'trainChars' | 'valChars'> {
  const B = config.batchSize;
  let layout: TextLayout | null = null;
  let itersPerEpoch: number;
  let trainChars: number;
  let valChars: number;
  if (trainSplit.mode === 'text' && valSplit.mode === 'text') {
    layout = textLayout(trainSplit.data.length, B, windowLength(config));
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
  const epochs = Math.ceil(config.maxEpochs * itersPerEpoch);
  const totalIters = Math.max(1, config.maxIters > 0 ? Math.min(config.maxIters, epochs) : epochs);
  return { layout, itersPerEpoch, totalIters, trainChars, valChars };
}

/** The optimizer's slots and the carried state from `latest`; refuses a trainer.json that does not fit the model. */
function restoreTrainer(
  resumed: CheckpointData,
  model: CharModel,
  optimizer: Optimizer,
  latestDir: string,
  average: WeightAverage | null,
): LayerState[] | null {
  const t = resumed.trainer!;
  const trained = t.trained ?? [];
  const averageFits = !average || (trained.length === model.variables.length && trained.every((w, i) => w.length === model.variables[i]!.size));
  const per = model.spec.cell === 'lstm' ? 2 : 1;
  const slotsFit =
    t.optimizer.slots.length === optimizer.slots.length && t.state.optimizer.slotShapes.every((s, i) => s.join() === optimizer.slots[i]!.shape.join());
  const carryFits =
    t.carry.length === 0 || (t.carry.length === model.layers.length * per && t.state.carryShapes.every((s) => s.length === 2 && s[1] === model.spec.hidden));
  if (!slotsFit || !carryFits || !averageFits) {
    average?.dispose();
    optimizer.dispose();
    model.dispose();
    throw new CharmerError(
      'BAD_CHECKPOINT',
      `${join(latestDir, 'trainer.json')} is damaged (its optimizer state does not fit the model in model.json). Resume from the run's other checkpoint, or fine-tune from this one with --init-from.`,
    );
  }
  optimizer.setState(t.optimizer);
  average?.restore(trained);
  const c = t.carry;
  if (!c.length) return null;
  return model.layers.map((_, l) => Array.from({ length: per }, (_, k) => tf.tensor2d(c[l * per + k]!, t.state.carryShapes[l * per + k] as [number, number])));
}

/** Re-express a split in another vocabulary (fine-tuning from a model whose indices differ). */
function remapSplit(split: Split, map: Uint16Array): Split {
  if (split.mode === 'text') return { mode: 'text', data: split.data.map((i) => map[i]!) };
  return { mode: 'lines', items: split.items.map((it) => it.map((i) => map[i]!)) };
}

/** The train/val items as strings, saved with lines-mode checkpoints for novelty tags. */
function itemsForNovelty(corpus: Corpus, config: TrainConfig): { train: string[]; val: string[] } | undefined {
  if (!corpus.items) return undefined;
  // Each item once (not as often as it is trained: Corpus.weights).
  const { train, val } = splitCorpus({ ...corpus, weights: undefined }, config.valFraction, config.seed);
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
      : ngramBaseline({
          mode: 'lines',
          vocabSize,
          boundary: marker,
          train: (train as Split & { mode: 'lines' }).items,
          val: (val as Split & { mode: 'lines' }).items,
        });
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
    copyGptWeights(src, dst);
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

/** Weight decay on weight matrices only: not biases, normalisation gains, or embeddings (nanoGPT). */
export function weightDecayMask(model: CharModel): boolean[] {
  const embeddings = new Set<tf.Tensor>([model.embedding, ...(model.gpt ? [model.gpt.positions] : [])]);
  return model.variables.map((v) => v.shape.length === 2 && !embeddings.has(v) && !/embedding/.test(v.name));
}
