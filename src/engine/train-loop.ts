/**
 * Running a prepared run (./train-prepare.ts): the start event, then steps until the budget, the
 * time limit or the signal ends it, with evaluation, checkpoints (`best` when the validation loss
 * improves, `latest` at every evaluation and at a stop) and samples along the way, then `done`.
 * The model, optimizer and data-parallel workers are released however the generator ends.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './batches.ts';
import { linesTrainBatch, randomWindows, textBatch } from './batches.ts';
import { windowLength } from './transformer/training.ts';
import type { TrainerState } from './checkpoint.ts';
import { saveCheckpoint } from './checkpoint.ts';
import type { TrainConfig } from './config.ts';
import type { Split } from './corpus.ts';
import type { BackendInfo, DoneEvent, TrainEvent } from './events.ts';
import type { CharModel } from './model.ts';
import { DataParallel } from './parallel/pool.ts';
import type { LayerState } from './recurrent.ts';
import { sampleTextAll } from './sample.ts';
import { sampleLines } from './sample-lines.ts';
import { learningRateAt } from './schedule.ts';
import type { PreparedRun } from './train-prepare.ts';
import { disposeState, evaluate, shardGradients } from './train-step.ts';

type StopReason = DoneEvent['reason'];

export async function* runTraining(p: PreparedRun, signal?: AbortSignal): AsyncGenerator<TrainEvent, void> {
  const run = new TrainingRun(p);
  // Every core: data-parallel workers when threads != 1 on a CPU backend (src/engine/parallel).
  // Started before the start event, so the device it names says how many threads really train.
  run.parallel = await DataParallel.create(p.model, p.config.threads, p.backend.backend, p.config.batchSize);
  let startSeen = false;
  try {
    yield run.startEvent();
    startSeen = true;
  } finally {
    // The caller stopped at the start event: nothing below runs, so release what it would have.
    if (!startSeen) run.dispose();
  }
  try {
    yield* run.steps(signal);
  } finally {
    run.dispose();
  }
}

/** The mutable state of a run between its steps, and what each part of a step does with it. */
class TrainingRun {
  parallel: DataParallel | null = null;
  private iteration: number;
  private bestValLoss: number | null;
  private firstLoss: number | null;
  private carry: LayerState[] | null;
  private lastEvalIteration: number;
  private lastTrainLoss = NaN;
  private readonly startedAt = performance.now();
  private readonly startIteration: number;
  private readonly config: TrainConfig;
  private readonly model: CharModel;

  constructor(private readonly p: PreparedRun) {
    this.config = p.config;
    this.model = p.model;
    this.iteration = p.iteration;
    this.bestValLoss = p.bestValLoss;
    this.firstLoss = p.firstLoss;
    this.carry = p.carry;
    this.startIteration = p.iteration;
    this.lastEvalIteration = p.resumed ? p.iteration : -1;
  }

  private elapsed(): number {
    return this.p.elapsedBefore + (performance.now() - this.startedAt) / 1000;
  }

  startEvent(): TrainEvent {
    const { p } = this;
    const backend = p.backend;
    const threadsUsed = this.parallel?.threads ?? 1;
    const shownBackend: BackendInfo =
      backend.backend === 'wasm' || backend.backend === 'cpu'
        ? {
            ...backend,
            threads: threadsUsed,
            device: `CPU (${backend.backend === 'wasm' ? 'WebAssembly' : 'JavaScript'}, ${threadsUsed} thread${threadsUsed === 1 ? '' : 's'})`,
          }
        : backend;
    return {
      type: 'start',
      config: this.config,
      backend: shownBackend,
      vocabSize: p.vocab.size,
      params: this.model.params,
      trainChars: p.trainChars,
      valChars: p.valChars,
      itersPerEpoch: p.itersPerEpoch,
      totalIters: p.totalIters,
      startIteration: this.startIteration,
      baselineValLoss: p.baselineValLoss,
      baselineOrder: p.baselineOrder,
    };
  }

  /** Steps until the end, then the last evaluation or checkpoint and `done` (or a divergence error). */
  async *steps(signal?: AbortSignal): AsyncGenerator<TrainEvent> {
    const { config, p } = this;
    const recent: number[] = [];
    let lastTime = performance.now();
    const historyEvery = Math.max(1, Math.floor(config.evalEvery / 10));
    let reason: StopReason = 'completed';
    while (this.iteration < p.totalIters) {
      if (signal?.aborted) {
        reason = 'stopped';
        break;
      }
      const { loss, lr, count } = await this.step();
      this.firstLoss ??= loss;
      if (!Number.isFinite(loss) || loss > config.explodeFactor * this.firstLoss) {
        yield this.divergence(loss);
        return;
      }
      this.lastTrainLoss = loss;
      const now = performance.now();
      recent.push((now - lastTime) / 1000 / count);
      lastTime = now;
      if (recent.length > 20) recent.shift();
      const secPerChar = recent.reduce((s, x) => s + x, 0) / recent.length;
      const itersLeft = p.totalIters - this.iteration;
      let etaS = itersLeft * secPerChar * count;
      if (config.maxTime > 0) etaS = Math.min(etaS, Math.max(0, config.maxTime - this.elapsed()));
      const iteration = this.iteration;
      if (iteration % historyEvery === 0) p.meta.history.push({ iteration, trainLoss: loss });
      yield {
        type: 'progress',
        iteration,
        epoch: iteration / p.itersPerEpoch,
        trainLoss: loss,
        lr,
        charsPerS: 1 / secPerChar,
        elapsedS: this.elapsed(),
        etaS,
        totalIters: p.totalIters,
      };
      if (iteration % config.evalEvery === 0 && iteration < p.totalIters) yield* this.evalAndSave();
      if (config.sampleEvery > 0 && iteration % config.sampleEvery === 0)
        yield await this.averaged(() => trainingSample(this.model, config, iteration, p.meta.valLoss));
      if (config.maxTime > 0 && this.elapsed() >= config.maxTime) {
        reason = 'max-time';
        break;
      }
    }
    if (reason === 'completed' && config.maxIters > 0 && this.iteration >= config.maxIters) reason = 'max-iters';
    if (reason !== 'stopped' || this.bestValLoss === null) {
      if (this.lastEvalIteration !== this.iteration) yield* this.evalAndSave();
    } else {
      await this.checkpoint(p.latestDir);
      yield { type: 'checkpoint', kind: 'latest', iteration: this.iteration, valLoss: p.meta.valLoss, path: p.latestDir };
    }
    yield { type: 'done', reason, iteration: this.iteration, bestValLoss: this.bestValLoss, elapsedS: this.elapsed() };
  }

  /** One optimizer step on the next batch; returns its loss, learning rate and character count. */
  private async step(): Promise<{ loss: number; lr: number; count: number }> {
    const { config, p, model } = this;
    const k = this.iteration % p.itersPerEpoch;
    let b: Batch;
    if (p.layout && p.trainSplit.mode === 'text') {
      if (k === 0 && this.carry) {
        disposeState(this.carry);
        this.carry = null;
      }
      // The Transformer starts each window afresh, so windows start anywhere (nanoGPT's batches):
      // a character is seen at a different position every epoch.
      b = model.recurrent
        ? textBatch(p.trainSplit.data, p.layout, k, config.seqLength)
        : randomWindows(p.trainSplit.data, config.batchSize, config.blockSize, p.rng);
    } else {
      b = linesTrainBatch(p.trainSplit as Split & { mode: 'lines' }, p.marker, config.batchSize, config.seed, this.iteration);
    }
    const lr = learningRateAt(config, { iteration: this.iteration, elapsedS: this.elapsed(), totalIters: p.totalIters, itersPerEpoch: p.itersPerEpoch });
    const dropoutSeed = config.dropout > 0 || config.outputDropout > 0 ? p.rng.seed() : undefined;
    const prev = p.layout ? (this.carry ?? model.zeroState(b.rows)) : model.zeroState(b.rows);
    // One thread's share (or all) of the step: loss, gradients and the state to carry.
    const localStep = shardGradients(model, dropoutSeed);
    const { value, grads, next } = this.parallel ? await this.parallel.step(b, prev, localStep, dropoutSeed) : localStep(b, prev);
    p.optimizer.apply(
      model.variables.map((v) => grads[v.name]!),
      lr,
      config.gradClip,
    );
    this.parallel?.syncWeights();
    p.average?.update();
    tf.dispose(Object.values(grads));
    disposeState(prev);
    if (p.layout) this.carry = next;
    else disposeState(next);
    const loss = (await value.data())[0]!;
    value.dispose();
    this.iteration++;
    return { loss, lr, count: b.count };
  }

  private divergence(loss: number): TrainEvent {
    const { iteration, lastEvalIteration, config } = this;
    const first = this.firstLoss!;
    return {
      type: 'error',
      code: 'TRAINING_DIVERGED',
      message:
        `Training diverged at iteration ${iteration} (loss ${Number.isFinite(loss) ? loss.toFixed(2) : loss}, started at ${first.toFixed(2)}). ` +
        `The last good checkpoint${lastEvalIteration >= 0 ? ` (iteration ${lastEvalIteration})` : ''} is kept. Try a lower learning rate (--learning-rate ${(config.learningRate / 2).toPrecision(2)}) or stronger clipping.`,
      iteration,
    };
  }

  /** `f` with the averaged weights in the model when the run keeps an average (--ema-decay). */
  private averaged<T>(f: () => Promise<T>): Promise<T> {
    return this.p.average ? this.p.average.with(f) : f();
  }

  /** Writes a checkpoint: the model's weights are the average when there is one, the trained ones go with the trainer state. */
  private checkpoint(dir: string): Promise<void> {
    return this.averaged(() => this.writeCheckpoint(dir));
  }

  private async writeCheckpoint(dir: string): Promise<void> {
    const { p, model, iteration, carry } = this;
    p.meta.iteration = iteration;
    p.meta.epoch = iteration / p.itersPerEpoch;
    p.meta.bestValLoss = this.bestValLoss;
    const carryArrays = carry ? await Promise.all(carry.flat().map(async (t) => new Float32Array(await t.data()))) : [];
    const optState = await p.optimizer.getState();
    const state: TrainerState = {
      iteration,
      rng: p.rng.state,
      elapsedS: this.elapsed(),
      bestValLoss: this.bestValLoss,
      firstLoss: this.firstLoss,
      optimizer: {
        name: optState.name,
        step: optState.step,
        slotShapes: [...model.variables, ...(optState.name === 'adam' ? model.variables : [])].map((v) => v.shape),
      },
      carryShapes: carry ? carry.flat().map((t) => t.shape) : [],
      ...(p.average ? { average: { updates: p.average.updates, trainedShapes: model.variables.map((v) => v.shape) } } : {}),
    };
    const trained = p.average ? { trained: await p.average.trainedWeights() } : {};
    await saveCheckpoint(dir, { model, trainer: { state, optimizer: optState, carry: carryArrays, ...trained }, items: p.items });
  }

  private async *evalAndSave(): AsyncGenerator<TrainEvent> {
    const { p, iteration } = this;
    const valLoss = await this.averaged(() => evaluate(this.model, p.valSplit, this.config.batchSize, windowLength(this.config)));
    this.lastEvalIteration = iteration;
    p.meta.valLoss = valLoss;
    p.meta.history.push({ iteration, valLoss });
    const improved = Number.isFinite(valLoss) && (this.bestValLoss === null || valLoss < this.bestValLoss);
    if (improved) this.bestValLoss = valLoss;
    yield { type: 'eval', iteration, epoch: iteration / p.itersPerEpoch, valLoss, bestValLoss: this.bestValLoss ?? valLoss, trainLoss: this.lastTrainLoss };
    if (improved) {
      await this.checkpoint(p.bestDir);
      yield { type: 'checkpoint', kind: 'best', iteration, valLoss, path: p.bestDir };
    }
    await this.checkpoint(p.latestDir);
    yield { type: 'checkpoint', kind: 'latest', iteration, valLoss, path: p.latestDir };
  }

  dispose(): void {
    this.p.average?.dispose();
    this.parallel?.dispose();
    if (this.carry) disposeState(this.carry);
    this.p.optimizer.dispose();
    this.model.dispose();
  }
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
