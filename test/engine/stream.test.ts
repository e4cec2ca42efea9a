/**
 * The StreamSampler (src/engine/fused/stream.ts) against model.step: the same logits, step after
 * step, within 1e-4 relative, for every cell, on one thread and on two (hidden 12 splits 4 + 8
 * units, so an uneven split and more than one 8-column panel per gate are both covered), from zero
 * state and from a loaded one; and sampleText through it gives the text the model.step path gives.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { benchModel } from '../../src/bench/harness.ts';
import { chooseBackend } from '../../src/engine/backend.ts';
import { backendOrSkip } from './backend-or-skip.ts';
import type { CellType } from '../../src/engine/config.ts';
import { installFusedLayers } from '../../src/engine/fused/index.ts';
import { StreamSampler, streamSupported } from '../../src/engine/fused/stream.ts';
import type { CharModel } from '../../src/engine/model.ts';
import type { LayerState } from '../../src/engine/recurrent.ts';
import { sampleTextAll } from '../../src/engine/sample.ts';

const V = 23;

/** A model with weights of a size that keeps the gates away from saturation (so differences show). */
function randomModel(cell: CellType, hidden: number): CharModel {
  const model = benchModel({ cell, layers: 2, hidden, batch: 1, seq: 1, vocab: V });
  model.variables.forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 1.5 / Math.sqrt(hidden), 'float32', 11 + i)));
  return model;
}

function relErr(got: Float32Array, want: Float32Array): number {
  let d = 0;
  let scale = 1e-6;
  for (let j = 0; j < want.length; j++) {
    d = Math.max(d, Math.abs(got[j]! - want[j]!));
    scale = Math.max(scale, Math.abs(want[j]!));
  }
  return d / scale;
}

/** model.step from `state` (left to the caller), fed `ids`: the logits after each. */
function reference(model: CharModel, ids: number[], state: LayerState[]): Float32Array[] {
  let s = state;
  const out: Float32Array[] = [];
  for (const id of ids) {
    const r = tf.tidy(() => model.step(tf.tensor1d([id], 'int32'), s));
    if (s !== state) tf.dispose(s.flat());
    s = r.state;
    out.push(r.logits.dataSync() as Float32Array);
    r.logits.dispose();
  }
  if (s !== state) tf.dispose(s.flat());
  return out;
}

describe('StreamSampler', () => {
  afterAll(() => {
    delete process.env.CHARMER_FUSED;
  });

  const ids = Array.from({ length: 25 }, (_, i) => (i * 7 + 3) % V);
  for (const cell of ['lstm', 'gru', 'rnn'] as CellType[]) {
    for (const [hidden, threads] of [
      [8, 1],
      [12, 2],
      [12, 1],
    ] as const) {
      it(`${cell} ${hidden} units, ${threads} thread(s): the logits of model.step, step after step`, async () => {
        await chooseBackend('wasm');
        installFusedLayers();
        const model = randomModel(cell, hidden);
        expect(streamSupported(model)).toBe(true);
        const stream = (await StreamSampler.open(model, { threads }))!;
        expect(stream.threads).toBe(threads);
        const zero = model.zeroState(1);
        const want = reference(model, ids, zero);
        tf.dispose(zero.flat());
        ids.forEach((id, i) => expect(relErr(stream.step(id), want[i]!), `step ${i}`).toBeLessThan(1e-4));

        // From a given state: load() it, and reset() goes back to zero.
        const start = model
          .zeroState(1)
          .map((l) => l.map((t, k) => tf.tidy(() => tf.add(t, tf.randomNormal(t.shape, 0, 0.5, 'float32', 3 + k)))) as LayerState);
        stream.load(start.map((l) => l.map((t) => t.dataSync() as Float32Array)));
        const fromStart = reference(model, ids.slice(0, 5), start);
        ids.slice(0, 5).forEach((id, i) => expect(relErr(stream.step(id), fromStart[i]!), `loaded, step ${i}`).toBeLessThan(1e-4));
        stream.reset();
        expect(relErr(stream.step(ids[0]!), want[0]!)).toBeLessThan(1e-4);
        tf.dispose(start.flat());
        expect(() => stream.step(V)).toThrow(/outside the vocabulary/);
        stream.dispose();
        stream.dispose(); // twice is harmless
        expect(() => stream.step(0)).toThrow(/disposed/);
        model.dispose();
      });
    }
  }

  it('sampleText through it gives the text model.step gives (same seed), with a prime, and leaves no tensors', async () => {
    await chooseBackend('wasm');
    installFusedLayers();
    const model = randomModel('lstm', 12);
    const opts = { length: 200, temperature: 0.8, seed: 5, prime: '!#%' };
    const before = tf.memory().numTensors;
    const fast = await sampleTextAll(model, opts);
    expect(tf.memory().numTensors).toBe(before);
    process.env.CHARMER_FUSED = '0'; // the stream only: the fused step stays installed
    expect(streamSupported(model)).toBe(false);
    const slow = await sampleTextAll(model, opts);
    delete process.env.CHARMER_FUSED;
    expect(fast.text).toHaveLength(200);
    expect(fast.text).toBe(slow.text);
    expect(fast.logprob).toBeCloseTo(slow.logprob, 2);
    model.dispose();
  });

  it('runs on the cpu backend too, and not for widths that are not a multiple of 4 (model.step samples those)', async () => {
    await chooseBackend('cpu');
    const odd = benchModel({ cell: 'gru', layers: 1, hidden: 10, batch: 1, seq: 1, vocab: V });
    expect(streamSupported(odd)).toBe(false);
    expect(await StreamSampler.open(odd)).toBeNull();
    const even = benchModel({ cell: 'gru', layers: 1, hidden: 8, batch: 1, seq: 1, vocab: V });
    expect(streamSupported(even)).toBe(true);
    odd.dispose();
    even.dispose();
  });

  it('runs on the tensorflow backend (tfjs-node, where installed) with the logits of its model.step', async (ctx) => {
    if (!(await backendOrSkip('tensorflow', ctx))) return;
    installFusedLayers();
    for (const cell of ['lstm', 'gru'] as CellType[]) {
      const model = randomModel(cell, 12);
      const stream = (await StreamSampler.open(model, { threads: 2 }))!;
      expect(stream).not.toBeNull();
      const zero = model.zeroState(1);
      const want = reference(model, ids, zero);
      tf.dispose(zero.flat());
      ids.forEach((id, i) => expect(relErr(stream.step(id), want[i]!), `${cell} step ${i}`).toBeLessThan(1e-4));
      stream.dispose();
      model.dispose();
    }
  });
});
