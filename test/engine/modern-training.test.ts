/**
 * Modern training (issue 19): the learning-rate schedule at given steps and times, AdamW's
 * decoupled weight decay against a hand-computed update, the layer-normalised cells against a
 * float64 reference, the LSTM forget-gate bias, and a normalised model through training, checkpoint
 * and reload.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/engine/backend.ts';
import { normCellStep } from '../../src/engine/cellnorm.ts';
import { DEFAULT_CONFIG, type CellType } from '../../src/engine/config.ts';
import { corpusFromString } from '../../src/engine/corpus.ts';
import { loadCheckpoint } from '../../src/engine/checkpoint.ts';
import { CharModel, type CharmerMetadata } from '../../src/engine/model.ts';
import { Optimizer } from '../../src/engine/optimizer.ts';
import { learningRateAt, type ScheduleConfig } from '../../src/engine/schedule.ts';
import { train, weightDecayMask } from '../../src/engine/train.ts';
import { Vocabulary } from '../../src/engine/vocabulary.ts';

afterEach(() => {
  delete process.env.CHARMER_FUSED;
});

const rand = (seed: number) => () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;

describe('learning-rate schedule', () => {
  const base: ScheduleConfig = {
    learningRate: 0.004,
    lrSchedule: 'cosine',
    warmupIters: 10,
    minLrFraction: 0.1,
    learningRateDecay: 0.5,
    decayAfter: 2,
    maxTime: 0,
  };
  const at = (c: ScheduleConfig, iteration: number, elapsedS = 0, totalIters = 110) =>
    learningRateAt(c, { iteration, elapsedS, totalIters, itersPerEpoch: 20 });

  it('warms up linearly from lr/(w+1) to the full rate, then follows a cosine down to the floor at the end of the iterations', () => {
    const lr = base.learningRate;
    expect(at(base, 0)).toBeCloseTo(lr / 11, 12);
    expect(at(base, 4)).toBeCloseTo((5 * lr) / 11, 12);
    for (let i = 1; i < 10; i++) expect(at(base, i)).toBeGreaterThan(at(base, i - 1));
    expect(at(base, 10)).toBeCloseTo(lr, 12);
    // Half way through the 100 steps after warm-up: half way between the peak and the floor.
    expect(at(base, 60)).toBeCloseTo((lr + lr * base.minLrFraction) / 2, 12);
    expect(at(base, 110)).toBeCloseTo(lr * base.minLrFraction, 12);
    expect(at(base, 500)).toBeCloseTo(lr * base.minLrFraction, 12);
    for (let i = 11; i <= 110; i++) expect(at(base, i)).toBeLessThan(at(base, i - 1));
  });

  it('with a time limit follows the elapsed time when that ends the run first', () => {
    const timed = { ...base, maxTime: 900 };
    const lr = base.learningRate;
    // 450 of 900 seconds gone after only 20 of 100 000 steps: the middle of the cosine.
    expect(at(timed, 20, 450, 100_000)).toBeCloseTo((lr + lr * base.minLrFraction) / 2, 12);
    expect(at(timed, 20, 900, 100_000)).toBeCloseTo(lr * base.minLrFraction, 12);
    expect(at(timed, 20, 225, 100_000)).toBeCloseTo(lr * base.minLrFraction + (lr - lr * base.minLrFraction) * 0.5 * (1 + Math.SQRT1_2), 12);
    // Warm-up is counted in steps even then.
    expect(at(timed, 3, 450, 100_000)).toBeCloseTo((4 * lr) / 11, 12);
  });

  it("step keeps char-rnn's decay per epoch after decay-after", () => {
    const step = { ...base, lrSchedule: 'step' as const, warmupIters: 0 };
    expect(at(step, 0)).toBe(base.learningRate);
    expect(at(step, 39)).toBe(base.learningRate); // epoch 1
    expect(at(step, 40)).toBe(base.learningRate * 0.5); // epoch 2 = decayAfter: the first decay
    expect(at(step, 65)).toBe(base.learningRate * 0.25);
  });
});

/** PyTorch's AdamW (torch.optim.AdamW): p *= 1 - lr*wd; then Adam with bias-corrected moments, in float64. */
function adamWByHand(w0: number[][], grads: number[][][], lrs: number[], wd: number, decays: boolean[]): number[][] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const w = w0.map((a) => [...a]);
  const m = w0.map((a) => a.map(() => 0));
  const v = w0.map((a) => a.map(() => 0));
  grads.forEach((gs, step) => {
    const t = step + 1;
    const lr = lrs[step]!;
    gs.forEach((g, i) =>
      g.forEach((gj, j) => {
        if (decays[i]) w[i]![j] = w[i]![j]! * (1 - lr * wd);
        m[i]![j] = b1 * m[i]![j]! + (1 - b1) * gj;
        v[i]![j] = b2 * v[i]![j]! + (1 - b2) * gj * gj;
        w[i]![j]! -= (lr * (m[i]![j]! / (1 - b1 ** t))) / (Math.sqrt(v[i]![j]! / (1 - b2 ** t)) + eps);
      }),
    );
  });
  return w;
}

describe('AdamW', () => {
  const next = rand(7);
  const w0 = [Array.from({ length: 18 }, next), Array.from({ length: 6 }, next)];
  const grads = [0.3, 0.1, 0.2].map((size) => w0.map((a) => a.map(() => next() * size)));
  const lrs = [0.05, 0.03, 0.01];
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const fused of [true, false]) {
      it(`${backend}, ${fused ? 'fused' : 'op-by-op'}: three steps equal PyTorch's AdamW; the undecayed variable equals plain Adam`, async () => {
        await chooseBackend(backend);
        process.env.CHARMER_FUSED = fused ? '1' : '0';
        const vars = [tf.variable(tf.tensor2d(w0[0]!, [3, 6])), tf.variable(tf.tensor1d(w0[1]!))];
        const opt = new Optimizer('adam', vars, 0.5, [true, false]);
        for (const [s, g] of grads.entries()) {
          const ts = [tf.tensor2d(g[0]!, [3, 6]), tf.tensor1d(g[1]!)];
          opt.apply(ts, lrs[s]!, 0);
          tf.dispose(ts);
        }
        const want = adamWByHand(w0, grads, lrs, 0.5, [true, false]);
        const plain = adamWByHand(w0, grads, lrs, 0, [false, false]);
        const got = vars.map((v) => Array.from(v.dataSync()));
        // 1e-5: float32, and the engine's eps sits outside the bias correction (as TF.js's Adam).
        got.forEach((a, i) => a.forEach((x, j) => expect(Math.abs(x - want[i]![j]!), `weight ${i}.${j}`).toBeLessThan(1e-5)));
        // The decay moved the decayed weights measurably, and only them.
        expect(Math.max(...got[0]!.map((x, j) => Math.abs(x - plain[0]![j]!)))).toBeGreaterThan(1e-3);
        got[1]!.forEach((x, j) => expect(Math.abs(x - plain[1]![j]!)).toBeLessThan(1e-5));
        opt.dispose();
        tf.dispose(vars);
      });
    }
  }
});

function meta(): CharmerMetadata {
  return { vocab: ['a', 'b', 'c'] } as unknown as CharmerMetadata;
}

describe('model initialisation', () => {
  it('an LSTM starts with forget-gate bias 1 and the other gate biases 0; weight decay skips biases, gains and the embedding', async () => {
    await chooseBackend('cpu');
    for (const cellNorm of ['none', 'layer'] as const) {
      const H = 8;
      const model = CharModel.create(
        { cell: 'lstm', vocabSize: 3, embeddingSize: 5, hidden: H, layers: 2, dropout: 0, cellNorm },
        Vocabulary.fromList(['a', 'b', 'c']),
        meta(),
        1,
      );
      for (const w of model.layers) {
        const b = Array.from(w.bias.dataSync());
        b.forEach((x, i) => expect(x, `bias ${i}`).toBe(i >= H && i < 2 * H ? 1 : 0));
        if (cellNorm === 'layer')
          for (const g of [w.norm!.gainX, w.norm!.gainH, w.norm!.gainC!]) expect(Array.from(g.dataSync()).every((x) => x === 1)).toBe(true);
      }
      const mask = weightDecayMask(model);
      model.variables.forEach((v, i) => expect(mask[i], v.name).toBe(v.shape.length === 2 && v !== model.embedding));
      expect(mask.filter(Boolean).length).toBe(2 * 2 + 1);
      model.dispose();
    }
  });

  it('a Transformer decays its four matrices per block and the head, not embeddings, LayerNorm or biases', async () => {
    await chooseBackend('cpu');
    const model = CharModel.create(
      { cell: 'transformer', vocabSize: 3, embeddingSize: 8, hidden: 8, layers: 2, dropout: 0, heads: 2, blockSize: 6 },
      Vocabulary.fromList(['a', 'b', 'c']),
      meta(),
      1,
    );
    const mask = weightDecayMask(model);
    const g = model.gpt!;
    const decayed = new Set<tf.Tensor>([...g.blocks.flatMap((b) => [b.qkvKernel, b.projKernel, b.fcKernel, b.mlpKernel]), g.outKernel]);
    model.variables.forEach((v, i) => expect(mask[i], v.name).toBe(decayed.has(v)));
    model.dispose();
  });
});

/** x W, h U, LN over units with gain (and bias), in float64: the cell equations of Ba et al. 2016. */
function ln(x: number[], g: number[], b?: number[]): number[] {
  const mu = x.reduce((s, v) => s + v, 0) / x.length;
  const va = x.reduce((s, v) => s + (v - mu) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mu) / Math.sqrt(va + 1e-5)) * g[i]! + (b ? b[i]! : 0));
}
const matVec = (x: number[], W: number[], cols: number) => Array.from({ length: cols }, (_, j) => x.reduce((s, xi, i) => s + xi * W[i * cols + j]!, 0));
const sig = (z: number) => 1 / (1 + Math.exp(-z));

function normStepByHand(
  cell: CellType,
  x: number[],
  h: number[],
  c: number[],
  W: number[],
  U: number[],
  b: number[],
  gx: number[],
  gh: number[],
  gc: number[],
  bc: number[],
): number[] {
  const H = h.length;
  const G = cell === 'lstm' ? 4 : 3;
  const xn = ln(matVec(x, W, G * H), gx);
  if (cell === 'lstm') {
    const hn = ln(matVec(h, U, G * H), gh);
    const z = xn.map((v, k) => v + hn[k]! + b[k]!);
    const c2 = Array.from({ length: H }, (_, j) => sig(z[H + j]!) * c[j]! + sig(z[j]!) * Math.tanh(z[2 * H + j]!));
    const cn = ln(c2, gc, bc);
    return Array.from({ length: H }, (_, j) => sig(z[3 * H + j]!) * Math.tanh(cn[j]!));
  }
  const U1 = Array.from({ length: H }, (_, i) => U.slice(i * 3 * H, i * 3 * H + 2 * H)).flat();
  const U2 = Array.from({ length: H }, (_, i) => U.slice(i * 3 * H + 2 * H, (i + 1) * 3 * H)).flat();
  const hn = ln(matVec(h, U1, 2 * H), gh.slice(0, 2 * H));
  const zr = hn.map((v, k) => sig(xn[k]! + v + b[k]!));
  const rh = h.map((v, j) => zr[H + j]! * v);
  const cand = ln(matVec(rh, U2, H), gh.slice(2 * H));
  return Array.from({ length: H }, (_, j) => {
    const hh = Math.tanh(xn[2 * H + j]! + cand[j]! + b[2 * H + j]!);
    return zr[j]! * h[j]! + (1 - zr[j]!) * hh;
  });
}

describe('layer-normalised cells', () => {
  for (const cell of ['lstm', 'gru'] as const) {
    it(`${cell}: one step equals the float64 equations, with gains and biases away from their start`, async () => {
      await chooseBackend('cpu');
      const next = rand(cell === 'lstm' ? 3 : 5);
      const [I, H, G] = [5, 4, cell === 'lstm' ? 4 : 3];
      const v = (n: number, s = 1, o = 0) => Array.from({ length: n }, () => next() * s + o);
      const [x, h, c, W, U, b, gx, gh, gc, bc] = [
        v(I),
        v(H),
        v(H),
        v(I * G * H),
        v(H * G * H),
        v(G * H, 0.5),
        v(G * H, 0.5, 1),
        v(G * H, 0.5, 1),
        v(H, 0.5, 1),
        v(H, 0.5),
      ];
      const got = tf.tidy(() => {
        const xp = tf.matMul(tf.tensor2d(x, [1, I]), tf.tensor2d(W, [I, G * H]));
        const norm = { gainX: tf.tensor1d(gx), gainH: tf.tensor1d(gh), ...(cell === 'lstm' ? { gainC: tf.tensor1d(gc), biasC: tf.tensor1d(bc) } : {}) };
        const state = cell === 'lstm' ? [tf.tensor2d(h, [1, H]), tf.tensor2d(c, [1, H])] : [tf.tensor2d(h, [1, H])];
        return Array.from(normCellStep(cell, tf.tensor2d(U, [H, G * H]), tf.tensor1d(b), norm, xp as tf.Tensor2D, state)[0]!.dataSync());
      });
      const want = normStepByHand(cell, x, h, c, W, U, b, gx, gh, gc, bc);
      got.forEach((g, j) => expect(Math.abs(g - want[j]!), `unit ${j}`).toBeLessThan(1e-5));
    });
  }

  it('a normalised LSTM trains, keeps its gains in the checkpoint and gives the same logits after reloading', async () => {
    await chooseBackend('wasm');
    const corpus = corpusFromString('abcabd abcabd abcabe\n'.repeat(40));
    const out = mkdtempSync(join(tmpdir(), 'charmer-ln-'));
    let last = NaN;
    let first = NaN;
    const config = {
      ...DEFAULT_CONFIG,
      backend: 'wasm' as const,
      cellNorm: 'layer' as const,
      rnnSize: 16,
      numLayers: 2,
      batchSize: 4,
      seqLength: 12,
      learningRate: 0.01,
      warmupIters: 0,
      maxIters: 40,
      evalEvery: 40,
      sampleEvery: 0,
      threads: 1,
    };
    for await (const ev of train({ corpus, out, config, baseline: false })) {
      if (ev.type === 'progress') {
        if (Number.isNaN(first)) first = ev.trainLoss;
        last = ev.trainLoss;
      }
    }
    expect(last).toBeLessThan(first * 0.6);
    const { model } = await loadCheckpoint(join(out, 'latest'));
    expect(model.spec.cellNorm).toBe('layer');
    // The gains trained away from 1, and they came back from the file.
    const gains = Array.from(model.layers[0]!.norm!.gainH.dataSync());
    expect(gains.some((g) => Math.abs(g - 1) > 1e-3)).toBe(true);
    const ids = tf.tensor2d([[0, 1, 2, 0]], [1, 4], 'int32');
    const full = tf.tidy(() => Array.from(model.forward(ids, model.zeroState(1)).logits.dataSync()));
    // Step by step from the same start: the cell used by sampling and Inspect agrees with the sequence.
    let state = model.zeroState(1);
    const stepped: number[] = [];
    for (const id of [0, 1, 2, 0]) {
      const r = model.step(tf.tensor1d([id], 'int32'), state);
      stepped.push(...r.logits.dataSync());
      state = r.state;
    }
    stepped.forEach((x, i) => expect(Math.abs(x - full[i]!)).toBeLessThan(1e-4));
    model.dispose();
  });
});

describe('checkpoints from before these options', () => {
  it("resume with char-rnn's schedule: the options they lack are filled, the rate stays as it was", async () => {
    await chooseBackend('wasm');
    const corpus = corpusFromString('abcabd abcabd abcabe\n'.repeat(40));
    const out = mkdtempSync(join(tmpdir(), 'charmer-legacy-'));
    const config = {
      backend: 'wasm' as const,
      rnnSize: 8,
      numLayers: 1,
      batchSize: 4,
      seqLength: 8,
      learningRate: 0.01,
      maxIters: 3,
      evalEvery: 3,
      sampleEvery: 0,
      threads: 1,
    };
    for await (const ev of train({ corpus, out, config: { ...config, lrSchedule: 'cosine', warmupIters: 5, weightDecay: 0.1 }, baseline: false })) void ev;
    // What an older Charmer wrote: none of the new options in the saved settings.
    const file = join(out, 'latest', 'model.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    const saved = json.userDefinedMetadata.charmer.config;
    for (const k of ['lrSchedule', 'warmupIters', 'minLrFraction', 'weightDecay', 'cellNorm']) delete saved[k];
    writeFileSync(file, JSON.stringify(json));
    const rates: number[] = [];
    for await (const ev of train({ corpus, out, resume: true, config: { maxIters: 6 }, baseline: false })) if (ev.type === 'progress') rates.push(ev.lr);
    expect(rates.length).toBe(3);
    // No warm-up and no cosine: the step schedule's rate before decay-after, at every step.
    for (const r of rates) expect(r).toBe(config.learningRate);
  });
});
