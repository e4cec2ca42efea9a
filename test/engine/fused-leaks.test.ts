/**
 * No leaks: the tensor count stays flat over 2,000 training steps (fused layers, single
 * thread; data-parallel: 60) and 10,000 sampled characters (through the StreamSampler, and again
 * through the fused model.step that lines mode and the fallback use): the issue's
 * figures, with a tiny model (counts do not depend on its size; about 15 s in all here).
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { benchModel } from '../../src/bench/harness.ts';
import { chooseBackend } from '../../src/engine/backend.ts';
import { releaseFusedCaches } from '../../src/engine/fused/sequence.ts';
import type { CellType } from '../../src/engine/config.ts';
import type { CharModel } from '../../src/engine/model.ts';
import { Optimizer } from '../../src/engine/optimizer.ts';
import { DataParallel, type ShardBatch } from '../../src/engine/parallel/pool.ts';
import type { LayerState } from '../../src/engine/recurrent.ts';
import { sampleText } from '../../src/engine/sample.ts';
import { shardGradients } from '../../src/engine/train.ts';

const B = 8;
const T = 10;
const V = 20;

function batch(i: number): ShardBatch {
  const x = Int32Array.from({ length: B * T }, (_, k) => (k * 7 + i) % V);
  const y = Int32Array.from({ length: B * T }, (_, k) => (k * 3 + i) % V);
  return { x, y, mask: null, rows: B, steps: T, count: B * T };
}

const local = (model: CharModel) => shardGradients(model);

async function trainSteps(model: CharModel, opt: Optimizer, steps: number, pool: DataParallel | null, carry: { s: LayerState[] }): Promise<void> {
  for (let i = 0; i < steps; i++) {
    const r = pool ? await pool.step(batch(i), carry.s, local(model)) : local(model)(batch(i), carry.s);
    opt.apply(
      model.variables.map((v) => r.grads[v.name]!),
      1e-3,
      5,
    );
    pool?.syncWeights();
    tf.dispose([r.value, ...Object.values(r.grads), ...carry.s.flat()]);
    carry.s = r.next;
  }
}

describe('no leaks', () => {
  for (const cell of ['lstm', 'gru'] as CellType[]) {
    it(`${cell}: tensor count flat over 2,000 training steps and 10,000 sampled characters (wasm; the issue's figures)`, async () => {
      await chooseBackend('wasm');
      const model = benchModel({ cell, layers: 2, hidden: 16, batch: B, seq: T, vocab: V });
      const opt = new Optimizer('adam', model.variables);
      const carry = { s: model.zeroState(B) };
      await trainSteps(model, opt, 10, null, carry); // warm-up: optimizer slots, kernels
      const before = tf.memory().numTensors;
      const dataBefore = tf.engine().backend.numDataIds(); // backend buffers too (direct kernel calls)
      await trainSteps(model, opt, 2000, null, carry);
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.engine().backend.numDataIds()).toBe(dataBefore);

      const sample = async (length: number) => {
        const gen = sampleText(model, { length, temperature: 1, seed: 1 });
        let n = 0;
        while (!(await gen.next()).done) n++;
        expect(n).toBe(length);
      };
      // The stream off, the fused model.step still installed (lines mode and the fallback use it).
      const viaStep = async (length: number) => {
        process.env.CHARMER_FUSED = '0';
        try {
          await sample(length);
        } finally {
          delete process.env.CHARMER_FUSED;
        }
      };
      await sample(100);
      await viaStep(100); // warm-up: model.step keeps the first layer's table and the GRU's kernel blocks
      const afterWarmup = tf.memory().numTensors;
      expect(afterWarmup - before).toBeLessThanOrEqual(8);
      await sample(10000); // through the StreamSampler (no tensors at all)
      expect(tf.memory().numTensors).toBe(afterWarmup);
      await viaStep(10000);
      expect(tf.memory().numTensors).toBe(afterWarmup);
      releaseFusedCaches();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(carry.s);
      opt.dispose();
      model.dispose();
    });
  }

  it('transformer (fused attention, LayerNorm, GELU): flat over 200 training steps, 600 sampled characters and 20 data-parallel steps', async () => {
    await chooseBackend('wasm');
    const model = benchModel({ cell: 'transformer', layers: 2, hidden: 16, heads: 4, batch: B, seq: T, vocab: V });
    const opt = new Optimizer('adam', model.variables);
    const carry = { s: model.zeroState(B) };
    await trainSteps(model, opt, 5, null, carry);
    const before = tf.memory().numTensors;
    const dataBefore = tf.engine().backend.numDataIds();
    await trainSteps(model, opt, 200, null, carry);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
    const gen = sampleText(model, { length: 600, temperature: 1, seed: 1 }); // far past the context: the window slides
    let n = 0;
    while (!(await gen.next()).done) n++;
    expect(n).toBe(600);
    expect(tf.memory().numTensors).toBe(before);
    const pool = await DataParallel.create(model, 2, 'wasm', B);
    expect(pool).not.toBeNull();
    await trainSteps(model, opt, 3, pool, carry);
    const poolBefore = tf.memory().numTensors;
    const workerBefore = [...pool!.workerTensors];
    await trainSteps(model, opt, 20, pool, carry);
    expect(tf.memory().numTensors).toBe(poolBefore);
    expect(pool!.workerTensors, 'the worker thread').toEqual(workerBefore);
    pool!.dispose();
    opt.dispose();
    model.dispose();
  });

  it('data-parallel steps (2 threads) leave the count flat too, in the worker as well', async () => {
    await chooseBackend('wasm');
    const model = benchModel({ cell: 'lstm', layers: 2, hidden: 16, batch: B, seq: T, vocab: V });
    const opt = new Optimizer('adam', model.variables);
    const pool = await DataParallel.create(model, 2, 'wasm', B);
    expect(pool).not.toBeNull();
    const carry = { s: model.zeroState(B) };
    await trainSteps(model, opt, 5, pool, carry);
    const before = tf.memory().numTensors;
    const workerBefore = [...pool!.workerTensors];
    expect(workerBefore).toHaveLength(1);
    await trainSteps(model, opt, 60, pool, carry);
    expect(tf.memory().numTensors).toBe(before);
    expect(pool!.workerTensors, 'the worker thread').toEqual(workerBefore);
    pool!.dispose();
    tf.dispose(carry.s);
    opt.dispose();
    model.dispose();
  });
});
