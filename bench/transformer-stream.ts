/**
 * One stream of sampled text from a Transformer: the GptStream (src/engine/transformer/stream.ts)
 * on float32 weights (one and two threads) and on 8-bit weights (its default, ./quant-step.ts)
 * against the cached TF.js step (model.step), at the size by
 * default (4 layers, width 384, 4 heads, context 256, vocabulary 65). Each streams `--chars`
 * characters from a one-character prime, so the window fills and slides as a long sample's does;
 * wall and CPU time per character, one JSON line per implementation. Run it on an idle machine:
 * a loaded one measures the other processes (write down `uptime` beside the figure).
 *
 * With --rounds N each stream runs its characters N times (from the same prime) and the fastest round
 * is printed.
 *
 *   npx tsx bench/transformer-stream.ts [--width 384] [--layers 4] [--heads 4] [--context 256] [--chars 1000] [--rounds 1]
 */
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend } from '../src/engine/backend.ts';
import { DEFAULT_CONFIG } from '../src/engine/config.ts';
import { CharModel, specFromConfig } from '../src/engine/model.ts';
import type { LayerState } from '../src/engine/recurrent.ts';
import { GptStream } from '../src/engine/transformer/stream.ts';
import { Vocabulary } from '../src/engine/vocabulary.ts';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

async function main(): Promise<void> {
  await chooseBackend('wasm');
  const chars = arg('chars', 1000);
  const rounds = arg('rounds', 1);
  const vocab = Vocabulary.fromList(Array.from({ length: 65 }, (_, i) => String.fromCharCode(32 + i)));
  const config = {
    ...DEFAULT_CONFIG,
    model: 'transformer' as const,
    nLayer: arg('layers', 4),
    nHead: arg('heads', 4),
    nEmbd: arg('width', 384),
    blockSize: arg('context', 256),
  };
  const model = CharModel.create(specFromConfig(config, vocab.size), vocab, { config, vocab: vocab.chars, mode: 'text' } as never, 1);
  const shape = { layers: config.nLayer, width: config.nEmbd, heads: config.nHead, context: config.blockSize, params: model.params };
  const time = (run: () => void) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    const cpu = process.cpuUsage(c0);
    const wall = (performance.now() - t0) / 1000;
    return { chars_per_s: Math.round(chars / wall), cpu_ms_per_char: +((cpu.user + cpu.system) / 1000 / chars).toFixed(3) };
  };
  // float32 weights (before issue 19's 8-bit products) on one and two threads, then the 8-bit products (the default), twice
  // (the second open finds the quantised weights cached), and the float32 one thread again: alternated, so
  // a change in the machine's load shows as a difference between the two runs of one kind.
  const kinds = [
    { threads: 1, quant: false },
    { threads: 2, quant: false },
    { threads: 1, quant: true },
    { threads: 1, quant: true },
    { threads: 1, quant: false },
  ];
  for (const { threads, quant } of kinds) {
    const t0 = performance.now();
    const s = (await GptStream.open(model, { threads, quant }))!;
    const openMs = Math.round(performance.now() - t0);
    // Each round the same characters from the same prime; the fastest round is reported (on a shared
    // machine the others measure other processes too).
    let r = { chars_per_s: 0, cpu_ms_per_char: 0 };
    for (let round = 0; round < rounds; round++) {
      s.prime([0]);
      const t = time(() => {
        for (let i = 0; i < chars; i++) s.step((i * 7) % vocab.size);
      });
      if (t.chars_per_s > r.chars_per_s) r = t;
    }
    s.dispose();
    console.log(JSON.stringify({ impl: 'GptStream', weight_bits: s.weightBits, threads: s.threads, ...shape, chars, rounds, open_ms: openMs, ...r }));
  }
  // The cached TF.js step, for comparison (fewer characters: it is slow).
  const n = Math.min(chars, 200);
  let state: LayerState[] = tf.tidy(() => model.prefill(tf.tensor2d([[0]], [1, 1], 'int32')).state);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const next = tf.tidy(() => model.step(tf.tensor1d([(i * 7) % vocab.size], 'int32'), state));
    await next.logits.data();
    tf.dispose([next.logits, ...state.flat()]);
    state = next.state;
  }
  const cpu = process.cpuUsage(c0);
  console.log(
    JSON.stringify({
      impl: 'model.step',
      threads: 1,
      ...shape,
      chars: n,
      chars_per_s: Math.round(n / ((performance.now() - t0) / 1000)),
      cpu_ms_per_char: +((cpu.user + cpu.system) / 1000 / n).toFixed(3),
    }),
  );
}

await main();
