/**
 * Weight averaging (--ema-decay) and dropout before the softmax (--output-dropout): the saved and
 * evaluated weights are the moving average of the trained ones (computed here by hand from an
 * unaveraged run's weights), training itself is unchanged, checkpoints carry the trained weights,
 * and a resumed run keeps the average; the output dropout zeroes the last layer's units.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/engine/config.ts';
import { chooseBackend, corpusFromString, loadCheckpoint, train, type TrainConfig, type TrainEvent } from '../../src/engine/index.ts';
import { releaseFusedCaches } from '../../src/engine/fused/sequence.ts';
import { CharModel, specFromConfig, type CharmerMetadata } from '../../src/engine/model.ts';
import { Vocabulary } from '../../src/engine/vocabulary.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'charmer-average-'));
const corpus = corpusFromString("Shall I compare thee to a summer's day? Thou art more lovely and more temperate.\n".repeat(20));
const CFG: Partial<TrainConfig> = {
  backend: 'wasm',
  rnnSize: 16,
  numLayers: 2,
  dropout: 0.2,
  outputDropout: 0.2,
  batchSize: 8,
  seqLength: 16,
  learningRate: 0.01,
  sampleEvery: 0,
  evalEvery: 1,
  threads: 1,
};

const flat = (vars: tf.Variable[]) => vars.flatMap((v) => Array.from(v.dataSync()));

interface Trace {
  /** The model weights of `latest` after each step (index = iteration). */
  saved: number[][];
  /** The trained weights `latest` carries after each step (with averaging). */
  trained: number[][];
  losses: number[];
  evals: number[];
}

/** Trains, reading `latest` after every checkpoint event (the generator waits while we read). */
async function trace(out: string, config: Partial<TrainConfig>, resume = false): Promise<Trace> {
  const t: Trace = { saved: [], trained: [], losses: [], evals: [] };
  for await (const ev of train({ corpus, out, config: { ...CFG, ...config }, baseline: false, resume }) as AsyncGenerator<TrainEvent>) {
    if (ev.type === 'progress') t.losses[ev.iteration] = ev.trainLoss;
    if (ev.type === 'eval') t.evals[ev.iteration] = ev.valLoss;
    if (ev.type === 'checkpoint' && ev.kind === 'latest') {
      const c = await loadCheckpoint(join(out, 'latest'), true);
      t.saved[ev.iteration] = flat(c.model.variables);
      if (c.trainer?.trained) t.trained[ev.iteration] = c.trainer.trained.flatMap((a) => Array.from(a));
      c.model.dispose();
    }
  }
  return t;
}

function expectClose(got: number[], want: number[], tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst, what).toBeLessThan(tol);
}

beforeAll(async () => {
  await chooseBackend('wasm');
});

describe('weight averaging (--ema-decay)', () => {
  const decay = 0.3;
  let plain: Trace;
  let averaged: Trace;
  let initial: number[];

  beforeAll(async () => {
    plain = await trace(tmp(), { maxIters: 4 });
    averaged = await trace(tmp(), { maxIters: 4, emaDecay: decay });
    // The weights before the first step: the same seeded initialisation a run makes.
    const config = { ...DEFAULT_CONFIG, ...CFG } as TrainConfig;
    const m = CharModel.create(
      specFromConfig(config, corpus.vocab.size),
      corpus.vocab,
      { vocab: corpus.vocab.chars } as unknown as CharmerMetadata,
      config.seed,
    );
    initial = flat(m.variables);
    m.dispose();
  });

  it('training is unchanged: the same losses, and the checkpoint carries the same trained weights', () => {
    expect(averaged.losses).toEqual(plain.losses);
    for (let it = 1; it <= 4; it++) expectClose(averaged.trained[it]!, plain.saved[it]!, 1e-7, `trained weights after step ${it}`);
  });

  it('the saved and evaluated weights are the moving average, with the warm-up decay min(d, (1+n)/(10+n))', () => {
    let avg = initial;
    for (let n = 1; n <= 4; n++) {
      const d = Math.min(decay, (1 + n) / (10 + n));
      const w = plain.saved[n]!;
      avg = avg.map((a, i) => d * a + (1 - d) * w[i]!);
      expectClose(averaged.saved[n]!, avg, 1e-6, `average after step ${n}`);
      // The average is not the trained weights (so the evaluation below saw something else).
      expect(Math.max(...avg.map((a, i) => Math.abs(a - w[i]!)))).toBeGreaterThan(1e-4);
      expect(averaged.evals[n]).not.toBe(plain.evals[n]);
    }
  });

  it('leaves no tensors behind, with or without it (the average, the held trained weights and the masks are released)', async () => {
    const leftBy = async (config: Partial<TrainConfig>) => {
      const before = tf.memory().numTensors;
      for await (const ev of train({ corpus, out: tmp(), config: { ...CFG, maxIters: 3, sampleEvery: 2, ...config }, baseline: false })) void ev;
      releaseFusedCaches();
      return tf.memory().numTensors - before;
    };
    // A plain LSTM run too: TF.js's LSTM layer once left 4 tensors a layer behind at every model build.
    expect(await leftBy({})).toBe(0);
    expect(await leftBy({ outputDropout: 0 })).toBe(0);
    expect(await leftBy({ emaDecay: decay })).toBe(0);
  });

  it('a resumed run keeps the average: the same weights, trained and averaged, as an uninterrupted one', async () => {
    const out = tmp();
    await trace(out, { maxIters: 2, emaDecay: decay });
    const resumed = await trace(out, { maxIters: 4 }, true);
    expect(resumed.losses.slice(3)).toEqual(averaged.losses.slice(3));
    expectClose(resumed.trained[4]!, averaged.trained[4]!, 1e-7, 'trained weights');
    expectClose(resumed.saved[4]!, averaged.saved[4]!, 1e-7, 'averaged weights');
  });
});

describe('dropout before the softmax (--output-dropout)', () => {
  it("drops the last layer's units (scaled by 1/(1-p)) only while training; --dropout alone does not touch a 1-layer model", async () => {
    const V = 9;
    const H = 6;
    const vocab = Vocabulary.fromList('abcdefghi'.split(''));
    const meta = { vocab: vocab.chars } as unknown as CharmerMetadata;
    const ids = tf.tensor2d([0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 2, 4, 6, 8, 1, 3, 5, 7], [2, 9], 'int32');
    const logitsOf = (m: CharModel, seed?: number) =>
      tf.tidy(() => {
        const r = m.forward(ids, m.zeroState(2), seed);
        return Array.from(r.logits.dataSync());
      });
    // An output layer that copies unit j to logit j, so the logits show the units themselves.
    const identityHead = (m: CharModel) => {
      m.outKernel.assign(tf.tidy(() => tf.concat([tf.eye(H), tf.zeros([H, V - H])], 1)));
      m.outBias.assign(tf.zeros([V]));
    };
    const p = 0.5;
    const dropped = CharModel.create({ cell: 'lstm', vocabSize: V, embeddingSize: 4, hidden: H, layers: 1, dropout: 0, outputDropout: p }, vocab, meta, 3);
    identityHead(dropped);
    const clean = logitsOf(dropped);
    const train = logitsOf(dropped, 11);
    let zeros = 0;
    let kept = 0;
    for (let r = 0; r < 18; r++)
      for (let j = 0; j < H; j++) {
        const [c, t] = [clean[r * V + j]!, train[r * V + j]!];
        if (t === 0) zeros++;
        else {
          expect(Math.abs(t - c / (1 - p)), `row ${r} unit ${j}`).toBeLessThan(1e-5);
          kept++;
        }
      }
    expect(zeros).toBeGreaterThan(18);
    expect(kept).toBeGreaterThan(18);
    dropped.dispose();

    const between = CharModel.create({ cell: 'lstm', vocabSize: V, embeddingSize: 4, hidden: H, layers: 1, dropout: p }, vocab, meta, 3);
    identityHead(between);
    expect(logitsOf(between, 11)).toEqual(logitsOf(between));
    between.dispose();
    ids.dispose();
  });
});
