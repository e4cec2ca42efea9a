/**
 * One stream of sampled text: the StreamSampler (src/engine/fused/stream.ts) on one and on two
 * threads against TF.js's model.step (the fused gate kernels), per cell and width, 2 layers,
 * vocabulary 65. The three run in turn, three rounds, best window of each; chars/s and the time
 * to open a sampler (weights packed; a worker started), one JSON line per configuration. This is
 * where stream.ts's threadsFor rule (when a worker thread pays off) comes from.
 *
 *   npx tsx bench/stream.ts [--hidden 64,128,256,512] [--cells lstm,gru,rnn]
 */
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from '../src/engine/backend.ts';
import type { CellType } from '../src/engine/config.ts';
import { installFusedLayers } from '../src/engine/fused/index.ts';
import { StreamSampler } from '../src/engine/fused/stream.ts';
import type { LayerState } from '../src/engine/recurrent.ts';
import { benchModel } from '../src/bench/harness.ts';

const arg = (name: string, fallback: string): string[] => {
  const i = process.argv.indexOf(`--${name}`);
  return (i > 0 ? process.argv[i + 1]! : fallback).split(',');
};

/** Characters per second: the best of `windows` windows of `ms` each. */
function rate(step: (i: number) => void, ms = 300, windows = 3): number {
  let best = 0;
  for (let w = 0; w < windows; w++) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < ms) step(n++);
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}

await chooseBackend('wasm');
installFusedLayers();
for (const cell of arg('cells', 'lstm,gru,rnn') as CellType[]) {
  for (const hidden of arg('hidden', '64,128,256,512').map(Number)) {
    const model = benchModel({ cell, layers: 2, hidden, vocab: 65, batch: 1, seq: 1 });
    const timed = async (threads: number) => {
      const t0 = performance.now();
      const s = (await StreamSampler.open(model, { threads }))!;
      return { s, ms: performance.now() - t0 };
    };
    await (await timed(1)).s.dispose(); // compiles the modules
    const [{ s: one, ms: openOne }, { s: two, ms: openTwo }] = [await timed(1), await timed(2)];
    let state: LayerState[] = model.zeroState(1);
    const tfjsStep = (i: number) => {
      const next = tf.tidy(() => {
        const r = model.step(tf.tensor1d([i % 65], 'int32'), state);
        r.logits.dataSync();
        return r.state;
      });
      tf.dispose(state.flat());
      state = next as LayerState[];
    };
    const best = { tfjs: 0, one: 0, two: 0 };
    for (let round = 0; round < 3; round++) {
      best.tfjs = Math.max(best.tfjs, rate(tfjsStep));
      best.one = Math.max(
        best.one,
        rate((i) => one.step(i % 65)),
      );
      best.two = Math.max(
        best.two,
        rate((i) => two.step(i % 65)),
      );
    }
    console.log(
      JSON.stringify({
        cell,
        layers: 2,
        hidden,
        tfjs_step_chars_per_s: Math.round(best.tfjs),
        stream_1_thread_chars_per_s: Math.round(best.one),
        stream_2_threads_chars_per_s: Math.round(best.two),
        threads_2_vs_1: +(best.two / best.one).toFixed(2),
        stream_vs_tfjs: +(Math.max(best.one, best.two) / best.tfjs).toFixed(2),
        open_1_thread_ms: +openOne.toFixed(1),
        open_2_threads_ms: +openTwo.toFixed(1),
      }),
    );
    one.dispose();
    two.dispose();
    tf.dispose(state.flat());
    model.dispose();
  }
}
