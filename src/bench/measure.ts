/**
 * One benchmark measurement, run in a child process of its own (`charmer bench --child JSON`) so
 * each configuration gets a fresh backend and its own peak resident memory.
 *   impl 'charmer-fused': the engine's path (fused layers, data-parallel over `threads` cores);
 *   impl 'tfjs-stock':    the same model as a stock tf.layers graph (tf.layers.lstm/gru), one thread.
 * Both train like src/engine/train.ts (Adam, clipping 5, softmax cross-entropy over vocabulary 65).
 */
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from '../engine/backend.ts';
import type { BackendName, CellType } from '../engine/config.ts';
import { StreamSampler } from '../engine/fused/stream.ts';
import { GptStream } from '../engine/transformer/stream.ts';
import { DataParallel } from '../engine/parallel/pool.ts';
import type { CharModel } from '../engine/model.ts';
import type { LayerState } from '../engine/recurrent.ts';
import { Optimizer } from '../engine/optimizer.ts';
import { shardGradients } from '../engine/train.ts';
import { Rng } from '../engine/rng.ts';
import { benchModel, type BenchConfig } from './harness.ts';

/** A recurrent cell, or the Transformer (nanoGPT's decoder: --hidden is its width, --seq its context). */
export type BenchCell = CellType | 'transformer';

/** The model's shape as the harness builds it (the vocabulary comes from the bench's text), and how to run it. */
export interface MeasureRequest extends Omit<BenchConfig, 'vocab'> {
  impl: 'charmer-fused' | 'tfjs-stock';
  backend: BackendName;
  seconds: number;
  threads: number;
}

export interface MeasureResult extends Omit<MeasureRequest, 'seconds'> {
  device: string;
  train_chars_per_s: number;
  ms_per_step: number;
  steps: number;
  /** One stream, one character per step (stateful: no window re-run). */
  sample_chars_per_s: number;
  /** `batch` streams at once (names: many items per step). */
  sample_batch_chars_per_s: number;
  params: number;
  train_flops_per_char: number;
  peak_rss_mb: number;
}

/**
 * Matrix-product FLOPs per training character: forward products x 3 (forward + two backward).
 * A Transformer block's products per character: q, k, v and the output projection 2·4C², the MLP
 * 2·8C², and the attention's two T×T products 2·2·T·C (counted in full, as PyTorch computes them;
 * the causal half is zeros).
 */
export function trainFlopsPerChar(c: { cell: BenchCell; layers: number; hidden: number; vocab?: number; seq?: number }): number {
  const H = c.hidden;
  if (c.cell === 'transformer') return 3 * (c.layers * (24 * H * H + 4 * (c.seq ?? 64) * H) + 2 * H * (c.vocab ?? 65));
  const G = c.cell === 'lstm' ? 4 : c.cell === 'gru' ? 3 : 1;
  const fwd = c.layers * 2 * (H + H) * G * H + 2 * H * (c.vocab ?? 65);
  return 3 * fwd;
}

function randomBatch(rng: Rng, c: BenchConfig) {
  const n = c.batch * c.seq;
  const x = new Int32Array(n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = Math.floor(rng.next() * c.vocab);
    y[i] = Math.floor(rng.next() * c.vocab);
  }
  return { x, y, mask: null, rows: c.batch, steps: c.seq, count: n };
}

/**
 * Calls per second over about `seconds` after a warm-up call, as the best of three windows: this
 * machine is shared, and the fastest window is the one least disturbed by other processes (the
 * PyTorch peer is measured the same way in src/bench/run.ts).
 */
async function timeLoop(step: () => Promise<unknown> | unknown, seconds: number): Promise<{ perS: number; calls: number }> {
  await step(); // warm-up (kernels compiled, XNNPACK operators packed)
  let best = 0;
  let calls = 0;
  for (let w = 0; w < 3; w++) {
    const t0 = performance.now();
    let n = 0;
    while (n < 1 || performance.now() - t0 < (seconds * 1000) / 3) {
      await step();
      n++;
    }
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
    calls += n;
  }
  return { perS: best, calls };
}

/**
 * Sampling characters per second by the stateful single step (model.step) over `rows` streams at once.
 * The Transformer steps from a key/value cache, so it starts from a one-character prefill.
 */
async function batchSampleRate(model: CharModel, c: BenchConfig, rng: Rng, rows: number, seconds: number): Promise<number> {
  const gpt = c.cell === 'transformer';
  let state: LayerState[] = gpt ? tf.tidy(() => model.prefill(tf.zeros([rows, 1], 'int32') as tf.Tensor2D).state) : model.zeroState(rows);
  let ids = new Int32Array(rows);
  const r = await timeLoop(() => {
    const out = tf.tidy(() => {
      const s = model.step(tf.tensor1d(ids, 'int32'), state);
      return { state: s.state, logits: s.logits };
    });
    tf.dispose(state.flat());
    state = out.state as LayerState[];
    const logits = out.logits.dataSync();
    out.logits.dispose();
    ids = new Int32Array(rows);
    for (let b = 0; b < rows; b++) {
      let best = 0;
      for (let k = 1; k < c.vocab; k++) if (logits[b * c.vocab + k]! > logits[b * c.vocab + best]!) best = k;
      ids[b] = (best + Math.floor(rng.next() * 3)) % c.vocab;
    }
  }, seconds);
  tf.dispose(state.flat());
  return r.perS * rows;
}

/**
 * One stream's characters per second the way sampleText takes it: the StreamSampler where it runs
 * (the fused engine on a CPU backend), else null (the caller falls back to model.step).
 * A Transformer's is GptStream, from a one-character prime; the window slides as in sampleText.
 */
async function streamSampleRate(model: CharModel, c: BenchConfig, rng: Rng, seconds: number): Promise<number | null> {
  const stream = c.cell === 'transformer' ? await GptStream.open(model) : await StreamSampler.open(model);
  if (!stream) return null;
  if (stream instanceof GptStream) stream.prime(Uint16Array.of(0));
  let id = 0;
  const r = await timeLoop(() => {
    const logits = stream.step(id);
    let best = 0;
    for (let k = 1; k < c.vocab; k++) if (logits[k]! > logits[best]!) best = k;
    id = (best + Math.floor(rng.next() * 3)) % c.vocab;
  }, seconds);
  stream.dispose();
  return r.perS;
}

export async function measure(req: MeasureRequest): Promise<MeasureResult> {
  if (req.impl === 'tfjs-stock') process.env.CHARMER_FUSED = '0';
  const info = await chooseBackend(req.backend);
  const c: BenchConfig = {
    cell: req.cell,
    layers: req.layers,
    hidden: req.hidden,
    batch: req.batch,
    seq: req.seq,
    vocab: 65,
    ...(req.heads ? { heads: req.heads } : {}),
  };
  const gpt = req.cell === 'transformer';
  const model = benchModel(c);
  const opt = new Optimizer('adam', model.variables);
  const rng = new Rng(1);
  let threads = 1;
  let trainStep: () => Promise<void> | void;
  // The Transformer's stock path is the same model through plain TF.js ops (CHARMER_FUSED=0: the
  // reference attention, LayerNorm, GELU), one thread; the recurrent cells' is a tf.layers graph.
  if (req.impl === 'charmer-fused' || gpt) {
    const pool = req.impl === 'charmer-fused' ? await DataParallel.create(model, req.threads, info.backend, c.batch) : null;
    threads = pool?.threads ?? 1;
    let carry: LayerState[] = model.zeroState(c.batch);
    const local = shardGradients(model);
    trainStep = async () => {
      const b = randomBatch(rng, c);
      const r = pool ? await pool.step(b, carry, local) : local(b, carry);
      opt.apply(
        model.variables.map((v) => r.grads[v.name]!),
        2e-3,
        5,
      );
      pool?.syncWeights();
      tf.dispose([...Object.values(r.grads), ...carry.flat()]);
      carry = r.next;
      r.value.dataSync();
      r.value.dispose();
    };
  } else {
    // The stock graph: Embedding -> tf.layers.lstm/gru (unrolled per step by TF.js) -> Dense softmax.
    const net = model.net;
    const vars = net.trainableWeights.map((w) => w.read() as tf.Variable);
    trainStep = () => {
      const b = randomBatch(rng, c);
      const x = tf.tensor2d(b.x, [c.batch, c.seq], 'int32');
      const y = tf.tensor1d(b.y, 'int32');
      const { value, grads } = tf.variableGrads(() => {
        const p = tf.reshape(net.apply(x) as unknown as tf.Tensor, [-1, c.vocab]);
        return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(y, c.vocab), tf.log(tf.add(p, 1e-7))), 1))) as tf.Scalar;
      }, vars);
      opt.apply(
        vars.map((v) => grads[v.name]!),
        2e-3,
        5,
      );
      tf.dispose([x, y, ...Object.values(grads)]);
      value.dataSync();
      value.dispose();
    };
  }
  const train = await timeLoop(trainStep, req.seconds);

  const sampleSeconds = Math.min(2, req.seconds / 2);
  const sample1 = (await streamSampleRate(model, c, rng, sampleSeconds)) ?? (await batchSampleRate(model, c, rng, 1, sampleSeconds));
  const sampleB = await batchSampleRate(model, c, rng, c.batch, sampleSeconds);
  const result: MeasureResult = {
    impl: req.impl,
    backend: req.backend,
    device: info.device,
    threads,
    cell: req.cell,
    layers: req.layers,
    hidden: req.hidden,
    batch: req.batch,
    seq: req.seq,
    train_chars_per_s: Math.round(train.perS * c.batch * c.seq),
    ms_per_step: Math.round(10000 / train.perS) / 10,
    steps: train.calls,
    sample_chars_per_s: Math.round(sample1),
    sample_batch_chars_per_s: Math.round(sampleB),
    params: model.params,
    train_flops_per_char: trainFlopsPerChar(c),
    ...(gpt ? { heads: c.heads ?? 4 } : {}),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  return result;
}
