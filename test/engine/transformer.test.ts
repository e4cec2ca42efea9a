/**
 * The character Transformer: attention against a loop written from its definition, the model's own
 * forward against the TF.js LayersModel it saves (an ordinary model), the key/value-cached step
 * against full re-runs (past the context too), and real training through train(): loss falls,
 * resume continues exactly, fine-tuning keeps the weights, sentences for impossible shapes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharModel,
  attentionMaps,
  checkTraining,
  chooseBackend,
  corpusFromString,
  loadCheckpoint,
  sampleLines,
  sampleTextAll,
  train,
  windowStart,
  type Corpus,
  type TrainConfig,
  type TrainEvent,
} from '../../src/engine/index.ts';
import { DEFAULT_CONFIG } from '../../src/engine/config.ts';
import { countParams } from '../../src/api/training.ts';
import { specFromConfig } from '../../src/engine/model.ts';
import { referenceCausalSelfAttention } from '../../src/engine/transformer/attention.ts';
import { GptStream } from '../../src/engine/transformer/stream.ts';
import { Rng } from '../../src/engine/rng.ts';
import { Vocabulary } from '../../src/engine/vocabulary.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'charmer-gpt-'));
const SMALL: Partial<TrainConfig> = {
  model: 'transformer',
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  blockSize: 16,
  batchSize: 8,
  learningRate: 0.01,
  sampleEvery: 0,
  evalEvery: 1000,
  threads: 1,
};

async function run(corpus: Corpus, out: string, config: Partial<TrainConfig>, extra: { resume?: boolean; initFrom?: string } = {}): Promise<TrainEvent[]> {
  const events: TrainEvent[] = [];
  for await (const ev of train({ corpus, out, config: { backend: 'wasm', ...config }, baseline: false, ...extra })) events.push(ev);
  return events;
}
const losses = (events: TrainEvent[]) => events.flatMap((e) => (e.type === 'progress' ? [[e.iteration, e.trainLoss] as const] : []));

function smallModel(over: Partial<TrainConfig> = {}, seed = 3): CharModel {
  const vocab = Vocabulary.fromList([...'abcdefgh\n']);
  const config = { ...DEFAULT_CONFIG, ...SMALL, ...over } as TrainConfig;
  return CharModel.create(specFromConfig(config, vocab.size), vocab, { config, vocab: vocab.chars } as never, seed);
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? m : Infinity;
};

beforeAll(async () => {
  await chooseBackend('wasm');
});

describe('attention', () => {
  it('equals softmax(q·k/√hs) over earlier positions, head by head, written as loops', () => {
    const [B, T, H, C] = [2, 5, 3, 12];
    const hs = C / H;
    const rng = new Rng(7);
    const qkv = Float32Array.from({ length: B * T * 3 * C }, () => rng.next() * 2 - 1);
    const got = tf.tidy(() => referenceCausalSelfAttention(tf.tensor3d(qkv, [B, T, 3 * C]), H).dataSync());
    const want = new Float32Array(B * T * C);
    const at = (b: number, t: number, part: number, h: number, d: number) => qkv[((b * T + t) * 3 + part) * C + h * hs + d]!;
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < T; i++) {
          const s = Array.from({ length: i + 1 }, (_, j) => {
            let dot = 0;
            for (let d = 0; d < hs; d++) dot += at(b, i, 0, h, d) * at(b, j, 1, h, d);
            return dot / Math.sqrt(hs);
          });
          const mx = Math.max(...s);
          const e = s.map((x) => Math.exp(x - mx));
          const z = e.reduce((x, y) => x + y, 0);
          for (let d = 0; d < hs; d++) want[(b * T + i) * C + h * hs + d] = e.reduce((acc, p, j) => acc + (p / z) * at(b, j, 2, h, d), 0);
        }
    expect(maxDiff(got, want)).toBeLessThan(1e-5);
  });

  it('attentionMaps: every row a distribution over the positions up to it', async () => {
    const m = smallModel();
    const maps = await attentionMaps(m, [1, 2, 3, 4, 8, 0]);
    expect(maps.length).toBe(2);
    expect(maps[0]!.length).toBe(2);
    for (const layer of maps)
      for (const head of layer)
        for (let i = 0; i < 6; i++) {
          const row = head.subarray(i * 6, i * 6 + 6);
          expect(row.slice(0, i + 1).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
          expect(Math.max(...row.slice(i + 1), 0)).toBe(0);
        }
    await expect(attentionMaps(m, new Array(17).fill(1))).rejects.toThrow(/at most 16 characters/);
    m.dispose();
  });
});

describe('the Transformer model', () => {
  it('its forward pass equals the saved TF.js LayersModel, before and after a checkpoint round trip', async () => {
    const out = tmp();
    await run(corpusFromString('abcabd\nbadcab\n'.repeat(40)), out, { ...SMALL, maxIters: 3, dropout: 0.1 });
    const { model } = await loadCheckpoint(join(out, 'latest'));
    const ids = tf.tensor2d([[1, 2, 3, 1, 2, 4, 0, 3]], [1, 8], 'int32');
    const ours = tf.softmax(model.forward(ids, []).logits).dataSync();
    expect(maxDiff(ours, (model.net.predict(ids) as tf.Tensor).dataSync())).toBeLessThan(1e-5);
    // A plain tfl.loadLayersModel of the files (the custom layers are registered by the engine).
    const json = JSON.parse(readFileSync(join(out, 'latest', 'model.json'), 'utf8'));
    const bin = readFileSync(join(out, 'latest', 'weights.bin'));
    const net = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length),
      }),
    );
    expect(maxDiff(ours, (net.predict(ids) as tf.Tensor).dataSync())).toBeLessThan(1e-5);
    expect(json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name)).toContain('CharmerCausalSelfAttention');
    net.dispose();
    model.dispose();
  });

  it('the cached step equals a full re-run of the window within 1e-4, past the context length, two rows', () => {
    const m = smallModel({ blockSize: 8 });
    const V = m.vocab.size;
    const streams = [Array.from({ length: 30 }, (_, i) => (i * 7 + 3) % V), Array.from({ length: 30 }, (_, i) => (i * i + 1) % V)];
    let { logits, state } = m.prefill(
      tf.tensor2d(
        streams.map((s) => s.slice(0, 3)),
        [2, 3],
        'int32',
      ),
    );
    let worst = 0;
    let slides = 0;
    for (let n = 3; n < 30; n++) {
      const next = m.step(
        tf.tensor1d(
          streams.map((s) => s[n]!),
          'int32',
        ),
        state,
      );
      tf.dispose([logits, ...state.flat()]);
      ({ logits, state } = next);
      const start = windowStart(n, 8);
      if (start !== windowStart(n - 1, 8)) slides++;
      const window = streams.map((s) => s.slice(start, n + 1));
      const T = n + 1 - start;
      const full = tf.tidy(() =>
        tf.reshape(tf.slice(tf.reshape(m.forward(tf.tensor2d(window, [2, T], 'int32'), []).logits, [2, T, V]), [0, T - 1, 0], [2, 1, V]), [2, V]).dataSync(),
      );
      worst = Math.max(worst, maxDiff(logits.dataSync(), full));
    }
    expect(slides).toBeGreaterThanOrEqual(3);
    expect(worst).toBeLessThan(1e-4);
    // A prime longer than the context keeps the window a stream would have.
    const long = streams[0]!;
    const p = m.prefill(tf.tensor2d([long], [1, 30], 'int32'));
    const w = long.slice(windowStart(29, 8));
    const full = tf.tidy(() => tf.slice(m.forward(tf.tensor2d([w], [1, w.length], 'int32'), []).logits, [w.length - 1, 0], [1, V]).dataSync());
    expect(maxDiff(p.logits.dataSync(), full)).toBeLessThan(1e-4);
    m.dispose();
  });

  it('the sampling stream (packed caches, FMA GEMM; one and two threads) equals a full re-run within 1e-4, past the context', async () => {
    const m = smallModel({ nEmbd: 32, nHead: 2, blockSize: 12 });
    const V = m.vocab.size;
    const ids = Array.from({ length: 45 }, (_, i) => (i * 5 + 2) % V);
    for (const threads of [1, 2]) {
      const s = await GptStream.open(m, { threads, quant: false }); // float32 (the 8-bit products: transformer-quant.test.ts)
      expect(s).not.toBeNull();
      let logits = Float32Array.from(s!.prime(ids.slice(0, 20))); // a prime longer than the context
      let worst = 0;
      for (let n = 19; n < ids.length; n++) {
        if (n > 19) logits = Float32Array.from(s!.step(ids[n]!));
        const w = ids.slice(windowStart(n, 12), n + 1);
        const full = tf.tidy(() => tf.slice(m.forward(tf.tensor2d([w], [1, w.length], 'int32'), []).logits, [w.length - 1, 0], [1, V]).dataSync());
        worst = Math.max(worst, maxDiff(logits, full));
      }
      expect(worst).toBeLessThan(1e-4);
      s!.dispose();
    }
    m.dispose();
  });

  it('windowStart: windows never exceed the block and only jump when full', () => {
    for (const block of [1, 2, 3, 8, 64]) {
      let prev = 0;
      for (let n = 0; n < 500; n++) {
        const s = windowStart(n, block);
        expect(n - s + 1).toBeLessThanOrEqual(block);
        if (s !== prev) expect(n - prev).toBe(block); // the window was full: it slides
        prev = s;
      }
    }
  });
});

describe('training a Transformer', () => {
  it('learns a repeated text (loss falls far), samples it, and a prime longer than the context slides', async () => {
    const corpus = corpusFromString('the cat sat on the mat.\n'.repeat(80));
    const out = tmp();
    const events = await run(corpus, out, { ...SMALL, nEmbd: 32, maxIters: 150, evalEvery: 75 });
    const l = losses(events);
    expect(l[0]![1]).toBeGreaterThan(2);
    const done = events.at(-1)!;
    expect(done.type === 'done' && done.bestValLoss).toBeLessThan(0.3);
    const { model } = await loadCheckpoint(join(out, 'best'));
    const s = await sampleTextAll(model, { prime: 'the cat sat on the mat.\nthe cat ', length: 40, temperature: 0 });
    expect(s.text).toBe('sat on the mat.\nthe cat sat on the mat.\n');
    model.dispose();
  });

  it('lines mode: trains on a list and samples items; an item longer than the block is refused with the size that fits', async () => {
    const corpus = corpusFromString(
      ['anna', 'otto', 'bob', 'hannah', 'eve', 'ada', 'abba', 'elle', 'ava', 'nan'].join('\n').repeat(1).concat('\n').repeat(20),
      { mode: 'lines' },
    );
    const out = tmp();
    const events = await run(corpus, out, { ...SMALL, mode: 'lines', maxIters: 60, evalEvery: 30 });
    const l = losses(events);
    expect(l.at(-1)![1]).toBeLessThan(l[0]![1] * 0.7);
    const { model, items } = await loadCheckpoint(join(out, 'latest'));
    const names = await sampleLines(model, { count: 10, temperature: 0.5, seed: 1, items });
    expect(names.length).toBe(10);
    model.dispose();
    await expect(checkTraining({ corpus, config: { ...SMALL, mode: 'lines', blockSize: 5, backend: 'wasm' } })).rejects.toThrow(
      /longest item has 6 characters.*--block-size 7 or more/,
    );
  });

  it('two data-parallel threads train like one; the Train view counts its parameters as the model has them', async () => {
    const corpus = corpusFromString('to be or not to be, that is the question.\n'.repeat(30));
    const cfg = { ...SMALL, maxIters: 4, evalEvery: 100 };
    const one = losses(await run(corpus, tmp(), { ...cfg, threads: 1 }));
    const two = losses(await run(corpus, tmp(), { ...cfg, threads: 2 }));
    expect(two.length).toBe(4);
    two.forEach(([, l], i) => expect(Math.abs(l - one[i]![1])).toBeLessThan(1e-4 * Math.max(1, one[i]![1])));
    const m = smallModel({ nLayer: 3, nEmbd: 24, nHead: 3, blockSize: 10 });
    expect(countParams({ ...DEFAULT_CONFIG, model: 'transformer', nLayer: 3, nEmbd: 24, blockSize: 10 }, m.vocab.size)).toBe(m.params);
    m.dispose();
  });

  it('refuses heads that do not divide the width, in a sentence with widths that work', async () => {
    const corpus = corpusFromString('abc\n'.repeat(100));
    await expect(checkTraining({ corpus, config: { ...SMALL, nEmbd: 30, nHead: 4, backend: 'wasm' } })).rejects.toThrow(
      /n-head 4 does not divide n-embd 30.*28 or 32/,
    );
  });

  it('resume continues exactly (random windows, dropout) and fine-tuning keeps every weight', async () => {
    const corpus = corpusFromString("Shall I compare thee to a summer's day? Thou art more lovely and more temperate.\n".repeat(20));
    const cfg = { ...SMALL, dropout: 0.2, evalEvery: 4 };
    const straight = losses(await run(corpus, tmp(), { ...cfg, maxIters: 8 }));
    const out = tmp();
    const first = losses(await run(corpus, out, { ...cfg, maxIters: 4 }));
    const resumed = losses(await run(corpus, out, { ...cfg, maxIters: 8 }, { resume: true }));
    expect(first).toEqual(straight.slice(0, 4));
    expect(resumed).toEqual(straight.slice(4));
    // Fine-tune on a text with new characters: old weights copied, new rows added.
    const tunedOut = tmp();
    const events = await run(
      corpusFromString('Shall I compare thee? Ö!\n'.repeat(40)),
      tunedOut,
      { maxIters: 1, learningRate: 1e-9, sampleEvery: 0, threads: 1 },
      { initFrom: join(out, 'latest') },
    );
    expect(events.at(-1)?.type).toBe('done');
    const src = await loadCheckpoint(join(out, 'latest'));
    const tuned = await loadCheckpoint(join(tunedOut, 'latest'));
    expect(tuned.model.spec.cell).toBe('transformer');
    expect(tuned.model.vocab.chars.slice(src.model.vocab.size)).toEqual(['!', 'Ö']);
    const a = src.model.gpt!.blocks[1]!.fcKernel.dataSync();
    expect(maxDiff(tuned.model.gpt!.blocks[1]!.fcKernel.dataSync(), a)).toBeLessThan(1e-6);
    src.model.dispose();
    tuned.model.dispose();
  });
});
