/**
 * Guidance at sampling (src/engine/sample-lines.ts): a model trained on two kinds of name that
 * share one alphabet, asked for one kind, writes more of that kind's letters with guidance than
 * the model as learned; nothing changes when no category is asked.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend, loadCheckpoint, sampleLines, train, type CharModel } from '../../src/engine/index.ts';
import { loadTableCorpus } from '../../src/engine/categories.ts';
import { DWARF, ELF, leaningKindCsv } from './folk.ts';

/** The share of an item list's letters that belong to `letters`. */
const letterShare = (names: string[], letters: string) => {
  const all = names.flatMap((n) => [...n.toLowerCase()]);
  return all.filter((c) => letters.includes(c)).length / all.length;
};

let model: CharModel;
let items: { train: string[]; val: string[] } | undefined;

beforeAll(async () => {
  await chooseBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'charmer-guidance-'));
  const file = join(dir, 'folk.csv');
  writeFileSync(file, leaningKindCsv());
  const corpus = await loadTableCorpus(file, { categories: ['kind', 'size'] });
  const out = join(dir, 'run');
  let last = '';
  for await (const ev of train({
    corpus,
    out,
    config: { backend: 'wasm', rnnSize: 48, numLayers: 1, batchSize: 32, learningRate: 0.01, maxIters: 300, evalEvery: 300, sampleEvery: 0, threads: 1 },
    baseline: false,
  }))
    last = ev.type;
  expect(last).toBe('done');
  ({ model, items } = await loadCheckpoint(join(out, 'best')));
});

afterAll(() => model?.dispose());

describe('guidance towards the category asked for', () => {
  it('writes more of the asked kind with guidance than without, for each kind, and keeps the category asked', async () => {
    for (const [kind, own] of [
      ['elf', ELF],
      ['dwarf', DWARF],
    ] as const) {
      const plain = await sampleLines(model, { count: 150, temperature: 1, seed: 5, categories: [kind], guidance: 0, items });
      const guided = await sampleLines(model, { count: 150, temperature: 1, seed: 5, categories: [kind], guidance: 2, items });
      expect(guided.length).toBe(150);
      expect(guided.every((s) => s.category?.kind === kind)).toBe(true);
      const before = letterShare(
        plain.map((s) => s.text),
        own,
      );
      const after = letterShare(
        guided.map((s) => s.text),
        own,
      );
      // The data leans 70/30, so the model as learned stays near that; guidance must clearly move it.
      expect(before).toBeLessThan(0.85);
      expect(after).toBeGreaterThan(before + 0.08);
    }
  });

  it('leaves a column that was not asked for to the model, the same in the item and its contrasting row', async () => {
    const guided = await sampleLines(model, { count: 120, temperature: 1, seed: 6, categories: ['elf'], guidance: 2, items });
    expect(new Set(guided.map((s) => s.category?.size))).toEqual(new Set(['tall', 'short']));
    // Asking for every value of a column leaves nothing to contrast: the model as learned.
    const all = await sampleLines(model, { count: 60, temperature: 1, seed: 7, categories: ['elf', 'dwarf'], guidance: 3, items });
    const none = await sampleLines(model, { count: 60, temperature: 1, seed: 7, categories: ['elf', 'dwarf'], guidance: 0, items });
    expect(all).toEqual(none);
  });

  it('changes nothing when no category is asked, and refuses a guidance out of range', async () => {
    const a = await sampleLines(model, { count: 40, temperature: 1, seed: 8, guidance: 0, items });
    const b = await sampleLines(model, { count: 40, temperature: 1, seed: 8, guidance: 4, items });
    expect(b).toEqual(a);
    await expect(sampleLines(model, { count: 5, categories: ['elf'], guidance: -1 })).rejects.toThrow(/guidance must be between 0 \(none\) and 10/);
    await expect(sampleLines(model, { count: 5, categories: ['elf'], guidance: 11 })).rejects.toThrow(/guidance must be between 0/);
  });
});
