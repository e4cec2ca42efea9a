/**
 * Benchmark harness: one training configuration measured the way src/engine/train.ts steps
 * (embedding -> recurrent layers -> dense -> softmax cross-entropy, tf.variableGrads, global-norm
 * clipping, Adam), and the stateful batched sampling step. Used by `charmer bench` (src/bench/run.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_CONFIG } from '../engine/config.ts';
import type { BenchCell } from './measure.ts';
import { CharModel, type CharmerMetadata, type ModelSpec } from '../engine/model.ts';
import { Optimizer } from '../engine/optimizer.ts';
import type { LayerState } from '../engine/recurrent.ts';
import { Rng } from '../engine/rng.ts';
import { maskedLoss } from '../engine/train.ts';
import { Vocabulary } from '../engine/vocabulary.ts';

export interface BenchConfig {
  cell: BenchCell;
  /** Attention heads (transformer; default 4). */
  heads?: number;
  layers: number;
  hidden: number;
  batch: number;
  seq: number;
  vocab: number;
}

export function benchModel(c: BenchConfig, seed = 1): CharModel {
  const chars = Array.from({ length: c.vocab }, (_, i) => String.fromCodePoint(33 + i));
  const vocab = new Vocabulary(chars);
  // The Transformer: width --hidden, --layers blocks, --heads heads, context --seq (nanoGPT's names in the config).
  const spec: ModelSpec = {
    cell: c.cell,
    vocabSize: vocab.size,
    embeddingSize: c.hidden,
    hidden: c.hidden,
    layers: c.layers,
    dropout: 0,
    ...(c.cell === 'transformer' ? { heads: c.heads ?? 4, blockSize: c.seq } : {}),
  };
  const meta = {
    format: 'charmer-1',
    vocab: vocab.chars,
    mode: 'text',
    config: {
      ...DEFAULT_CONFIG,
      model: c.cell,
      rnnSize: c.hidden,
      numLayers: c.layers,
      nEmbd: c.hidden,
      nLayer: c.layers,
      nHead: c.heads ?? 4,
      blockSize: c.seq,
    },
    iteration: 0,
    epoch: 0,
    valLoss: null,
    bestValLoss: null,
    history: [],
    baselineValLoss: null,
    corpusName: 'bench',
    corpusHash: '',
    createdAt: new Date(0).toISOString(),
  } as unknown as CharmerMetadata;
  return CharModel.create(spec, vocab, meta, seed);
}

/** One training step like train.ts's (state carried between batches, as in text mode). */
export function trainStepper(model: CharModel, c: BenchConfig) {
  const opt = new Optimizer('adam', model.variables);
  const rng = new Rng(7);
  let carry: LayerState[] = model.zeroState(c.batch);
  const step = (): number => {
    const n = c.batch * c.seq;
    const xs = new Int32Array(n);
    const ys = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      xs[i] = Math.floor(rng.next() * c.vocab);
      ys[i] = Math.floor(rng.next() * c.vocab);
    }
    const x = tf.tensor2d(xs, [c.batch, c.seq], 'int32');
    const y = tf.tensor1d(ys, 'int32');
    let next: LayerState[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const r = model.forward(x, carry);
      next = r.state.map((l) => l.map((s) => tf.keep(s)));
      return maskedLoss(r.logits, y, null, n); // train.ts's loss
    }, model.variables);
    opt.apply(
      model.variables.map((v) => grads[v.name]!),
      2e-3,
      5,
    );
    tf.dispose([x, y, ...Object.values(grads)]);
    for (const l of carry) tf.dispose(l);
    carry = next;
    const v = value.dataSync()[0]!;
    value.dispose();
    return v;
  };
  const dispose = () => {
    for (const l of carry) tf.dispose(l);
    opt.dispose();
  };
  return { step, dispose };
}

/** Run `fn` for about `seconds` after `warmup` calls; returns calls per second. */
export function timeIt(fn: () => unknown, seconds: number, warmup = 1, minCalls = 2): { perS: number; calls: number } {
  for (let i = 0; i < warmup; i++) fn();
  const t0 = performance.now();
  let calls = 0;
  while (calls < minCalls || performance.now() - t0 < seconds * 1000) {
    fn();
    calls++;
  }
  return { perS: calls / ((performance.now() - t0) / 1000), calls };
}

/** Characters per second of batched stateful sampling (one step = one character per row). */
export function sampleStepper(model: CharModel, rows: number) {
  let state: LayerState[] = model.zeroState(rows);
  const rng = new Rng(3);
  let ids = new Int32Array(rows);
  const V = model.vocab.size;
  const step = () => {
    const out = tf.tidy(() => {
      const r = model.step(tf.tensor1d(ids, 'int32'), state);
      return { state: r.state, p: tf.softmax(r.logits) };
    });
    for (const l of state) tf.dispose(l);
    state = out.state as LayerState[];
    const p = out.p.dataSync();
    out.p.dispose();
    const next = new Int32Array(rows);
    for (let b = 0; b < rows; b++) {
      let u = rng.next();
      let k = 0;
      for (; k < V - 1; k++) {
        u -= p[b * V + k]!;
        if (u <= 0) break;
      }
      next[b] = k;
    }
    ids = next;
  };
  const dispose = () => {
    for (const l of state) tf.dispose(l);
  };
  return { step, dispose };
}
