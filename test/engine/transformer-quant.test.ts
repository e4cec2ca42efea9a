/**
 * Sampling a Transformer on 8-bit weights: the kernel's sums against the same integers summed in
 * JavaScript (odd shapes, the largest inputs), and a trained model's sampling stream on 8-bit
 * weights against the float32 stream, step by step, past the context (so the window slides).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend, corpusFromString, loadCheckpoint, sampleTextAll, train, type CharModel, type TrainConfig } from '../../src/engine/index.ts';
import { qmaxFor, quantModule, quantizeColumns, type QuantKernels } from '../../src/engine/fused/transformer-quant.ts';
import { GptStream } from '../../src/engine/transformer/stream.ts';
import { Rng } from '../../src/engine/rng.ts';

beforeAll(async () => {
  await chooseBackend('wasm');
});

/** Natural-log probabilities from logits. */
function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += Math.exp(logits[i]! - max);
  const lz = max + Math.log(z);
  return Float64Array.from(logits, (l) => l - lz);
}

describe('8-bit products (fused/transformer-quant.ts)', () => {
  it('qgemv equals t·s_n·Σ q·w + bias summed exactly in JS, on tail panels and at the largest inputs', () => {
    const k0 = quantModule();
    expect(k0).not.toBeNull();
    const rng = new Rng(5);
    for (const [K, N, extreme] of [
      [24, 40, false], // one panel of 32 columns and one of 8
      [16, 8, false],
      [384, 1152, false],
      [1536, 72, true], // the MLP's K at the largest 16-bit input and weight magnitudes: no int32 lane may overflow
    ] as const) {
      const W = Float32Array.from({ length: K * N }, () => (extreme ? (rng.next() < 0.5 ? -1 : 1) : rng.next() * 2 - 1));
      const { weights, scales } = quantizeColumns(W, K, N);
      const x = Float32Array.from({ length: K }, () => (extreme ? 3 : rng.next() * 4 - 2));
      const bias = Float32Array.from({ length: N }, () => rng.next());
      const memory = new WebAssembly.Memory({ initial: Math.ceil((K * N + 16 * (K + N) + 65536) / 65536) });
      const k = new WebAssembly.Instance(k0!, { env: { memory } }).exports as unknown as QuantKernels;
      const f = new Float32Array(memory.buffer);
      const [xA, qA, bA, sA, oA, wA] = [64, 64 + 4 * K, 64 + 6 * K, 64 + 6 * K + 4 * N, 64 + 6 * K + 8 * N, 64 + 6 * K + 12 * N];
      f.set(x, xA / 4);
      f.set(bias, bA / 4);
      f.set(scales, sA / 4);
      new Int8Array(memory.buffer).set(weights, wA);
      const Q = qmaxFor(K);
      const big = k.absMax(xA, K);
      expect(big).toBeCloseTo(Math.max(...x.map(Math.abs)), 6);
      k.quant16(xA, qA, K, Q / big);
      const q = new Int16Array(memory.buffer, qA, K);
      let rounding = 0;
      for (let i = 0; i < K; i++) rounding = Math.max(rounding, Math.abs(q[i]! - (x[i]! * Q) / big));
      expect(rounding).toBeLessThanOrEqual(0.501); // x·Q/big rounded in float32
      k.qgemv(qA, wA, sA, bA, oA, K, N, big / Q, 0);
      // The weight of column n and row i, read back from the panel layout.
      const wAt = (i: number, n: number) => {
        const full = N - (N % 32);
        const width = n < full ? 32 : 8;
        const n0 = n < full ? n - (n % 32) : full + (n - full - ((n - full) % 8));
        return weights[n0 * K + (i >> 1) * 2 * width + (n - n0) * 2 + (i & 1)]!;
      };
      let sums = 0;
      let steps = 0;
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let i = 0; i < K; i++) {
          sum += q[i]! * wAt(i, n);
          // and the integers are the weights to within half a step
          steps = Math.max(steps, Math.abs(wAt(i, n) * scales[n]! - W[i * N + n]!) / scales[n]!);
        }
        const want = (big / Q) * scales[n]! * sum + bias[n]!;
        sums = Math.max(sums, Math.abs(f[oA / 4 + n]! - want) / Math.max(1, Math.abs(want)));
      }
      expect(sums).toBeLessThanOrEqual(2e-6);
      expect(steps).toBeLessThanOrEqual(0.5001);
    }
  });

  it('absMax reports a NaN (so the stream falls back to float32 and carries it)', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const k = new WebAssembly.Instance(quantModule()!, { env: { memory } }).exports as unknown as QuantKernels;
    const f = new Float32Array(memory.buffer);
    f.set([1, -2, NaN, 0.5, 0, 0, 0, 0], 16);
    expect(k.absMax(64, 8)).toBeNaN();
  });
});

describe('a trained Transformer sampled on 8-bit weights', () => {
  let model: CharModel;
  const text = 'to be, or not to be, that is the question:\nwhether tis nobler in the mind to suffer\n'.repeat(30);
  beforeAll(async () => {
    const out = mkdtempSync(join(tmpdir(), 'charmer-quant-'));
    const config: Partial<TrainConfig> = {
      model: 'transformer',
      nLayer: 2,
      nHead: 2,
      nEmbd: 32,
      blockSize: 16,
      batchSize: 8,
      learningRate: 0.01,
      maxIters: 80,
      sampleEvery: 0,
      evalEvery: 1000,
      threads: 1,
      backend: 'wasm',
    };
    for await (const ev of train({ corpus: corpusFromString(text), out, config, baseline: false })) void ev;
    model = (await loadCheckpoint(join(out, 'latest'))).model;
  });

  it('gives every step log-probabilities within 0.05 nats of the float32 stream, and the text within 0.005 nats/char', async () => {
    const q = (await GptStream.open(model))!;
    const f = (await GptStream.open(model, { quant: false }))!;
    expect(q.weightBits).toBe(8);
    expect(f.weightBits).toBe(32);
    const ids = Array.from(model.vocab.encode(text.slice(0, 90)));
    let lq = logSoftmax(q.prime(ids.slice(0, 3)));
    let lf = logSoftmax(f.prime(ids.slice(0, 3)));
    let worst = 0;
    let lossQ = 0;
    let lossF = 0;
    let slides = 0;
    for (let n = 3; n < ids.length; n++) {
      for (let c = 0; c < lq.length; c++) if (lf[c]! > Math.log(1e-3)) worst = Math.max(worst, Math.abs(lq[c]! - lf[c]!));
      lossQ -= lq[ids[n]!]!;
      lossF -= lf[ids[n]!]!;
      const before = q.position;
      lq = logSoftmax(q.step(ids[n]!));
      lf = logSoftmax(f.step(ids[n]!));
      if (q.position < before) slides++;
    }
    const steps = ids.length - 3;
    expect(slides).toBeGreaterThanOrEqual(4);
    expect(lossF / steps).toBeLessThan(1.5); // the model learned the text: the comparison is on trained weights
    expect(worst).toBeGreaterThan(0); // the two streams really differ in how they compute
    expect(worst).toBeLessThan(0.05);
    expect(Math.abs(lossQ - lossF) / steps).toBeLessThan(0.005);
    q.dispose();
    f.dispose();
  });

  it('quantises the weights as they are now: after an update the stream follows the new weights', async () => {
    const kernel = model.gpt!.blocks[1]!.fcKernel;
    const before = kernel.clone();
    const prime = Array.from(model.vocab.encode('whether tis'));
    const space = model.vocab.indexOf(' ');
    /** The log-probabilities after the prime and one step (the step runs the one-character products). */
    const after = async (quant: boolean) => {
      const s = (await GptStream.open(model, { quant }))!;
      expect(s.weightBits).toBe(quant ? 8 : 32);
      s.prime(prime);
      const l = logSoftmax(s.step(space));
      s.dispose();
      return l;
    };
    const old = await after(true); // quantises (and caches) the weights as they are
    kernel.assign(tf.tidy(() => tf.mul(kernel, -1.5)));
    const [q, f] = [await after(true), await after(false)];
    const gap = (a: Float64Array, b: Float64Array) => {
      let m = 0;
      for (let c = 0; c < a.length; c++) if (b[c]! > Math.log(1e-3)) m = Math.max(m, Math.abs(a[c]! - b[c]!));
      return m;
    };
    expect(gap(old, f)).toBeGreaterThan(0.2); // the update changed what the model says...
    expect(gap(q, f)).toBeLessThan(0.05); // ...and the 8-bit stream says it too, not the cached old weights
    kernel.assign(before);
    before.dispose();
  });

  it('sampleText runs on the 8-bit stream and, greedy, writes what the float32 stream writes for a learned text', async () => {
    const prime = 'to be, or not to be, that is ';
    const quant = await sampleTextAll(model, { prime, length: 60, temperature: 0 });
    process.env.CHARMER_SAMPLE_QUANT = '0';
    try {
      const plain = await sampleTextAll(model, { prime, length: 60, temperature: 0 });
      expect(quant.text).toBe(plain.text);
      expect(quant.logprob).not.toBe(plain.logprob); // sampleText took the 8-bit stream (it rounds differently)...
      expect(Math.abs(quant.logprob - plain.logprob) / 60).toBeLessThan(0.005); // ...and stayed close
    } finally {
      delete process.env.CHARMER_SAMPLE_QUANT;
    }
  });
});
