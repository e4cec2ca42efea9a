import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharmerError,
  chooseBackend,
  corpusFromString,
  loadCheckpoint,
  ngramBaseline,
  sampleLines,
  sampleText,
  sampleTextAll,
  splitCorpus,
  train,
  type Corpus,
  type TrainConfig,
  type TrainEvent,
} from '../../src/engine/index.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'charmer-train-'));
const SHAKESPEARE = resolve(__dirname, '../../../shared/data/tinyshakespeare.txt');

async function run(
  corpus: Corpus,
  out: string,
  config: Partial<TrainConfig>,
  extra: { resume?: boolean; initFrom?: string; signal?: AbortSignal } = {},
): Promise<TrainEvent[]> {
  const events: TrainEvent[] = [];
  for await (const ev of train({ corpus, out, config: { backend: 'wasm', ...config }, baseline: false, ...extra })) events.push(ev);
  return events;
}

const losses = (events: TrainEvent[]) => events.flatMap((e) => (e.type === 'progress' ? [[e.iteration, e.trainLoss] as const] : []));

const SMALL: Partial<TrainConfig> = { rnnSize: 32, numLayers: 1, batchSize: 8, seqLength: 16, learningRate: 0.01, sampleEvery: 0, evalEvery: 1000 };

beforeAll(async () => {
  await chooseBackend('wasm');
});

describe('training', () => {
  it('learns a synthetic pattern to near-zero loss and argmax samples it back exactly', async () => {
    const corpus = corpusFromString('the cat sat on the mat.\n'.repeat(60));
    const out = tmp();
    const events = await run(corpus, out, { ...SMALL, maxIters: 300, evalEvery: 100 });
    const done = events.at(-1)!;
    expect(done.type).toBe('done');
    expect(done.type === 'done' && done.bestValLoss).toBeLessThan(0.05);
    const { model } = await loadCheckpoint(join(out, 'best'));
    const s = await sampleTextAll(model, { prime: 'the cat ', length: 40, temperature: 0 });
    expect(s.text).toBe('sat on the mat.\nthe cat sat on the mat.\n');
    expect(s.logprob).toBeGreaterThan(-1);
    model.dispose();
  });

  it('temperature 0 equals argmax of a full forward pass at every step', async () => {
    const corpus = corpusFromString('abracadabra, said the wizard; abracadabra!\n'.repeat(20));
    const out = tmp();
    await run(corpus, out, { ...SMALL, maxIters: 40 });
    const { model } = await loadCheckpoint(join(out, 'latest'));
    const sampled = await sampleTextAll(model, { prime: 'abra', length: 25, temperature: 0 });
    let text = 'abra';
    for (let i = 0; i < 25; i++) {
      const ids = model.vocab.encode(text);
      const next = tf.tidy(() => {
        const r = model.forward(tf.tensor2d(Int32Array.from(ids), [1, ids.length], 'int32'), model.zeroState(1));
        return tf.argMax(tf.slice(r.logits, [ids.length - 1, 0], [1, -1]), 1).dataSync()[0]!;
      });
      text += model.vocab.chars[next];
    }
    expect(sampled.text).toBe(text.slice(4));
    model.dispose();
  });

  it('save -> load gives identical predictions, as an ordinary TF.js LayersModel too', async () => {
    const corpus = corpusFromString('To be, or not to be: that is the question.\n'.repeat(30));
    const out = tmp();
    await run(corpus, out, { ...SMALL, model: 'gru', numLayers: 2, maxIters: 10 });
    const a = await loadCheckpoint(join(out, 'latest'));
    const b = await loadCheckpoint(join(out, 'latest'));
    const ids = tf.tensor2d(Int32Array.from(a.model.vocab.encode('To be, or not')), [1, 13], 'int32');
    const la = tf.tidy(() => a.model.forward(ids, a.model.zeroState(1)).logits.arraySync());
    const lb = tf.tidy(() => b.model.forward(ids, b.model.zeroState(1)).logits.arraySync());
    expect(lb).toEqual(la);
    // The stock graph (tf.layers.gru etc.) computes the same softmax from the same weights.
    const stock = tf.tidy(() => tf.reshape(b.model.net.predict(ids) as tf.Tensor, [13, -1]).arraySync() as number[][]);
    const ours = tf.tidy(() => tf.softmax(tf.tensor2d(la)).arraySync());
    stock.forEach((row, i) => row.forEach((p, j) => expect(p).toBeCloseTo(ours[i]![j]!, 5)));
    const json = JSON.parse(readFileSync(join(out, 'latest', 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.userDefinedMetadata.charmer.vocab).toEqual(a.model.vocab.chars);
    expect(json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name)).toEqual(['InputLayer', 'Embedding', 'GRU', 'GRU', 'Dense']);
    ids.dispose();
    a.model.dispose();
    b.model.dispose();
  });

  it('resume continues exactly: the next losses match an uninterrupted run (text mode, dropout)', async () => {
    const corpus = corpusFromString("Shall I compare thee to a summer's day? Thou art more lovely and more temperate.\n".repeat(20));
    const cfg = { ...SMALL, numLayers: 2, dropout: 0.2, evalEvery: 6 };
    const straight = losses(await run(corpus, tmp(), { ...cfg, maxIters: 12 }));
    const out = tmp();
    const first = losses(await run(corpus, out, { ...cfg, maxIters: 6 }));
    const second = await run(corpus, out, { ...cfg, maxIters: 12 }, { resume: true });
    const start = second.find((e) => e.type === 'start');
    expect(start?.type === 'start' && start.startIteration).toBe(6);
    const resumed = losses(second);
    expect(first).toEqual(straight.slice(0, 6));
    expect(resumed.map(([i]) => i)).toEqual([7, 8, 9, 10, 11, 12]);
    expect(resumed).toEqual(straight.slice(6));
  });

  it('stopping finishes the step and writes latest', async () => {
    const corpus = corpusFromString('stop me if you can\n'.repeat(50));
    const out = tmp();
    const controller = new AbortController();
    const events: TrainEvent[] = [];
    for await (const ev of train({ corpus, out, config: { ...SMALL, backend: 'wasm', maxIters: 1000 }, signal: controller.signal, baseline: false })) {
      events.push(ev);
      if (ev.type === 'progress' && ev.iteration === 3) controller.abort();
    }
    const done = events.at(-1)!;
    expect(done).toMatchObject({ type: 'done', reason: 'stopped', iteration: 3 });
    const { model } = await loadCheckpoint(join(out, 'latest'));
    expect(model.meta.iteration).toBe(3);
    model.dispose();
    expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a diverging run stops with a clear message and keeps the last good checkpoint', async () => {
    const corpus = corpusFromString('diverge diverge diverge\n'.repeat(40));
    const out = tmp();
    const events = await run(corpus, out, { ...SMALL, optimizer: 'rmsprop', learningRate: 9, gradClip: 0, evalEvery: 1, maxIters: 50 });
    const err = events.find((e) => e.type === 'error');
    expect(err).toMatchObject({ type: 'error', code: 'TRAINING_DIVERGED' });
    expect(err?.type === 'error' && err.message).toMatch(/diverged at iteration \d+.*lower learning rate/);
    const { model } = await loadCheckpoint(join(out, 'latest'));
    expect(model.meta.iteration).toBeLessThan((err as { iteration: number }).iteration);
    model.dispose();
  });

  it('a corpus too small for the batch says what would fit', async () => {
    const e = await run(corpusFromString('tiny text\n'.repeat(10)), tmp(), { batchSize: 50, seqLength: 50 }).catch((x) => x);
    expect(e).toBeInstanceOf(CharmerError);
    expect(e.code).toBe('CORPUS_TOO_SMALL');
    expect(e.message).toMatch(/--batch-size 1 would fit/);
  });

  it('lines mode: names sampled in a batch are unique and tagged train / val / new by exact lookup', async () => {
    const names = [
      'Anna',
      'Anne',
      'Annie',
      'Hanna',
      'Hannah',
      'Johanna',
      'Joanna',
      'Jo',
      'Joan',
      'Joanne',
      'Ann',
      'Anita',
      'Ana',
      'Annika',
      'Janna',
      'Jana',
      'Hana',
      'Nina',
      'Nona',
      'Nana',
    ];
    const corpus = corpusFromString(names.join('\n') + '\n', { mode: 'lines' });
    const out = tmp();
    await run(corpus, out, { ...SMALL, mode: 'lines', batchSize: 6, maxIters: 120, learningRate: 0.02 });
    const ck = await loadCheckpoint(join(out, 'latest'));
    expect(ck.items!.train.length + ck.items!.val.length).toBe(names.length);
    const all = await sampleLines(ck.model, { count: 30, temperature: 1, seed: 5, items: ck.items, maxLength: 12 });
    expect(new Set(all.map((s) => s.text)).size).toBe(all.length);
    for (const s of all) {
      expect(s.novelty).toBe(ck.items!.train.includes(s.text) ? 'train' : ck.items!.val.includes(s.text) ? 'val' : 'new');
      expect(s.logprob).toBeLessThan(0);
      expect(s.text.length).toBeLessThanOrEqual(12);
    }
    expect(all.some((s) => s.novelty === 'train')).toBe(true);
    const fresh = await sampleLines(ck.model, { count: 10, temperature: 1.2, seed: 6, items: ck.items, newOnly: true, prefix: 'J', minLength: 3 });
    for (const s of fresh) {
      expect(names).not.toContain(s.text);
      expect(s.text.startsWith('J')).toBe(true);
      expect(s.text.length).toBeGreaterThanOrEqual(3);
    }
    ck.model.dispose();
  });

  it('fine-tunes from a checkpoint: new characters get new rows, old rows are kept', async () => {
    const base = tmp();
    await run(corpusFromString('hello world\n'.repeat(40)), base, { ...SMALL, maxIters: 5 });
    const src = await loadCheckpoint(join(base, 'latest'));
    const out = tmp();
    const events = await run(
      corpusFromString('hello wörld?\n'.repeat(40)),
      out,
      { ...SMALL, maxIters: 1, learningRate: 1e-9 },
      { initFrom: join(base, 'latest') },
    );
    expect(events.at(-1)?.type).toBe('done');
    const tuned = await loadCheckpoint(join(out, 'latest'));
    expect(tuned.model.vocab.chars.slice(0, src.model.vocab.size)).toEqual(src.model.vocab.chars);
    expect(tuned.model.vocab.chars.slice(src.model.vocab.size)).toEqual(['?', 'ö']);
    const oldRows = src.model.embedding.arraySync() as number[][];
    const newRows = (tuned.model.embedding.arraySync() as number[][]).slice(0, oldRows.length);
    newRows.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(oldRows[i]![j]!, 5)));
    src.model.dispose();
    tuned.model.dispose();
  });

  it.skipIf(!existsSync(SHAKESPEARE))(
    'beats the bigram baseline on 200k characters of tiny-shakespeare within 400 steps',
    async () => {
      const text = [...readFileSync(SHAKESPEARE, 'utf8')].slice(0, 200_000).join('');
      const corpus = corpusFromString(text, { name: 'tinyshakespeare-200k' });
      const { train: tr, val } = splitCorpus(corpus, 0.1);
      const bigram = ngramBaseline({
        mode: 'text',
        vocabSize: corpus.vocab.size,
        train: (tr as { data: Uint16Array }).data,
        val: (val as { data: Uint16Array }).data,
      })
        .table.filter((t) => t.order === 1)
        .reduce((m, t) => Math.min(m, t.valLoss), Infinity);
      expect(bigram).toBeGreaterThan(2.3);
      const out = tmp();
      const controller = new AbortController();
      let best = Infinity;
      let at = 0;
      for await (const ev of train({
        corpus,
        out,
        signal: controller.signal,
        baseline: false,
        config: { backend: 'wasm', rnnSize: 128, numLayers: 1, batchSize: 32, seqLength: 32, learningRate: 5e-3, maxIters: 400, evalEvery: 50, sampleEvery: 0 },
      })) {
        if (ev.type === 'eval' && ev.valLoss < best) {
          best = ev.valLoss;
          at = ev.iteration;
          if (best < bigram - 0.05) controller.abort();
        }
      }
      expect(best).toBeLessThan(bigram - 0.05);
      expect(at).toBeLessThanOrEqual(400);
    },
    600_000,
  );
});

describe('sampling', () => {
  it('names unknown prime characters, or skips them on request', async () => {
    const out = tmp();
    await run(corpusFromString('abc abc abc\n'.repeat(30)), out, { ...SMALL, maxIters: 2 });
    const { model } = await loadCheckpoint(join(out, 'latest'));
    const gen = sampleText(model, { prime: 'abz🙂', length: 5 });
    await expect(gen.next()).rejects.toThrow(/never seen these characters: "z" \(U\+007A\), "🙂" \(U\+1F642\)/);
    const ok = await sampleTextAll(model, { prime: 'abz🙂', length: 5, skipUnknown: true, seed: 1 });
    expect([...ok.text]).toHaveLength(5);
    const again = await sampleTextAll(model, { prime: 'abz🙂', length: 5, skipUnknown: true, seed: 1 });
    expect(again).toEqual(ok);
    model.dispose();
  });
});
