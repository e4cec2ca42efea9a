/**
 * Data-parallel training (src/engine/parallel): the batch split across the training thread and a
 * worker thread gives the same losses as one thread (up to float summation order), in text mode
 * with state carried between batches and in lines mode with masks; and a pool leaves no tensors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { corpusFromString, train, type Corpus, type TrainConfig } from '../../src/engine/index.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function losses(corpus: Corpus, config: Partial<TrainConfig>): Promise<number[]> {
  const out = mkdtempSync(join(tmpdir(), 'charmer-par-'));
  dirs.push(out);
  const got: number[] = [];
  for await (const ev of train({
    corpus,
    out,
    config: { backend: 'wasm', rnnSize: 24, numLayers: 2, batchSize: 6, seqLength: 12, maxIters: 8, evalEvery: 100, sampleEvery: 0, ...config },
    baseline: false,
  } as never)) {
    if (ev.type === 'progress') got.push(ev.trainLoss);
    if (ev.type === 'error') throw new Error(ev.message);
  }
  return got;
}

describe('data-parallel training', () => {
  it('text mode: two threads train like one (same losses, carried state)', async () => {
    const corpus = corpusFromString('It was the best of times, it was the worst of times.\n'.repeat(40));
    let before = tf.memory().numTensors;
    const one = await losses(corpus, { threads: 1 });
    const leftBySingle = tf.memory().numTensors - before; // whatever train() itself keeps
    before = tf.memory().numTensors;
    const two = await losses(corpus, { threads: 2 });
    expect(two.length).toBe(8);
    two.forEach((l, i) => expect(Math.abs(l - one[i]!)).toBeLessThan(1e-4 * Math.max(1, one[i]!)));
    expect(tf.memory().numTensors - before).toBe(leftBySingle); // the pool adds none
  });

  it('lines mode (masked, uneven shards): three threads train like one', async () => {
    const corpus = corpusFromString(['anna', 'bob', 'christopher', 'dee', 'eve', 'francesca', 'gil', 'hal', 'ida', 'jo'].join('\n').repeat(3), {
      mode: 'lines',
    });
    const one = await losses(corpus, { mode: 'lines', threads: 1, batchSize: 7, model: 'gru' });
    const three = await losses(corpus, { mode: 'lines', threads: 3, batchSize: 7, model: 'gru' });
    three.forEach((l, i) => expect(Math.abs(l - one[i]!)).toBeLessThan(1e-4 * Math.max(1, one[i]!)));
  });

  it("the start event names the threads that really train (the device label, not the backend's one thread)", async () => {
    const corpus = corpusFromString('It was the best of times, it was the worst of times.\n'.repeat(40));
    for (const threads of [1, 2, 3]) {
      const out = mkdtempSync(join(tmpdir(), 'charmer-par-'));
      dirs.push(out);
      for await (const ev of train({
        corpus,
        out,
        config: { backend: 'wasm', rnnSize: 8, numLayers: 1, batchSize: 6, seqLength: 12, maxIters: 1, evalEvery: 100, sampleEvery: 0, threads },
        baseline: false,
      })) {
        if (ev.type !== 'start') continue;
        expect(ev.backend.threads).toBe(threads);
        expect(ev.backend.device).toBe(`CPU (WebAssembly, ${threads} thread${threads === 1 ? '' : 's'})`);
      }
    }
  });
});
