import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend, loadCheckpoint, sampleLines, train, type TrainEvent } from '../../src/engine/index.ts';
import { isCategoryToken, loadTableCorpus, parseTable, tableItems } from '../../src/engine/categories.ts';
import { scoreLine } from '../../src/engine/sample.ts';
import { DWARF, ELF, twoKindCsv } from './folk.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'charmer-cat-'));

const share = (names: string[], letters: string) => names.filter((n) => [...n.toLowerCase()].every((c) => letters.includes(c))).length / names.length;

let ckDir: string;

beforeAll(async () => {
  await chooseBackend('wasm');
  const dir = tmp();
  const file = join(dir, 'folk.csv');
  writeFileSync(file, twoKindCsv());
  const corpus = await loadTableCorpus(file, { categories: ['kind'] });
  const out = join(dir, 'run');
  const events: TrainEvent[] = [];
  for await (const ev of train({
    corpus,
    out,
    config: { backend: 'wasm', rnnSize: 48, numLayers: 1, batchSize: 32, learningRate: 0.01, maxIters: 400, evalEvery: 400, sampleEvery: 0, threads: 1 },
    baseline: false,
  }))
    events.push(ev);
  expect(events.at(-1)!.type).toBe('done');
  ckDir = join(out, 'best');
});

describe('one model, generation by category', () => {
  it('writes each kind in its own alphabet, with the category it was asked for and no reserved token in the text', async () => {
    const { model, items } = await loadCheckpoint(ckDir);
    try {
      expect(model.meta.categories?.columns.map((c) => [c.name, c.values])).toEqual([['kind', ['dwarf', 'elf']]]);
      const elves = await sampleLines(model, { count: 60, temperature: 0.8, seed: 1, categories: ['elf'], items });
      const dwarves = await sampleLines(model, { count: 60, temperature: 0.8, seed: 2, categories: ['kind=dwarf'], items });
      expect(elves.length).toBe(60);
      expect(dwarves.length).toBe(60);
      for (const s of [...elves, ...dwarves]) expect([...s.text].some(isCategoryToken)).toBe(false);
      expect(elves.every((s) => s.category?.kind === 'elf')).toBe(true);
      expect(dwarves.every((s) => s.category?.kind === 'dwarf')).toBe(true);
      expect(
        share(
          elves.map((s) => s.text),
          ELF,
        ),
      ).toBeGreaterThan(0.9);
      expect(
        share(
          dwarves.map((s) => s.text),
          DWARF,
        ),
      ).toBeGreaterThan(0.9);
      // Nothing asked: the model draws the kind itself, and both come out.
      const mixed = await sampleLines(model, { count: 80, temperature: 1, seed: 3, items });
      expect(new Set(mixed.map((s) => s.category?.kind))).toEqual(new Set(['elf', 'dwarf']));
    } finally {
      model.dispose();
    }
  });

  it('keeps the novelty list free of category tokens, so a known name is tagged as such', async () => {
    const { model, items } = await loadCheckpoint(ckDir);
    try {
      const all = [...items!.train, ...items!.val];
      expect(all.some((n) => [...n].some(isCategoryToken))).toBe(false);
      const some = await sampleLines(model, { count: 100, temperature: 0.5, seed: 4, categories: ['elf'], items });
      for (const s of some) expect(s.novelty === 'new').toBe(!all.some((n) => n.toLowerCase() === s.text.toLowerCase()));
    } finally {
      model.dispose();
    }
  });

  it('scores a name per character, and finds an elf name likelier as an elf than as a dwarf', async () => {
    const { model } = await loadCheckpoint(ckDir);
    try {
      const asElf = await scoreLine(model, 'Lanie', ['elf']);
      const asDwarf = await scoreLine(model, 'Lanie', ['dwarf']);
      expect(asElf.perChar.length).toBe('Lanie'.length + 1);
      expect(asElf.perChar.every((x) => x < 0)).toBe(true);
      expect(asElf.meanLogprob).toBeGreaterThan(asDwarf.meanLogprob);
    } finally {
      model.dispose();
    }
  });

  it('refuses a category the model never saw, an empty one, and categories for a model without any', async () => {
    const { model } = await loadCheckpoint(ckDir);
    try {
      await expect(sampleLines(model, { count: 5, categories: ['hobbit'] })).rejects.toMatchObject({
        code: 'UNKNOWN_CATEGORY',
        message: expect.stringMatching(/never saw the category "hobbit".*dwarf, elf/),
      });
      await expect(sampleLines(model, { count: 5, categories: [''] })).rejects.toMatchObject({ code: 'EMPTY_CATEGORY' });
      await expect(sampleLines(model, { count: 5, categories: ['colour=elf'] })).rejects.toMatchObject({
        code: 'UNKNOWN_CATEGORY',
        message: expect.stringContaining('no category column "colour"'),
      });
    } finally {
      model.dispose();
    }
  });
});

describe('tables', () => {
  it('reads CSV with quotes and TSV, and names a missing column with the columns there are', () => {
    const t = parseTable('name,"kind, of"\n"Smith, Jr",a\nBob,b\n', 'x.csv');
    expect(t.header).toEqual(['name', 'kind, of']);
    expect(t.rows[0]).toEqual(['Smith, Jr', 'a']);
    const tsv = parseTable('title\tgenre\nFoo\tfintech\n', 'y.tsv');
    expect(tableItems(tsv, { categories: ['genre'] }).columns).toEqual([{ name: 'genre', values: ['fintech'] }]);
    expect(() => tableItems(t, { categories: ['race'] })).toThrow(/x\.csv has no column "race".*"name", "kind, of"/);
  });

  it('refuses an empty category cell, naming the line, and a column with too many values', async () => {
    const dir = tmp();
    const file = join(dir, 'holes.csv');
    writeFileSync(file, 'name,kind\nAra,elf\nBorin,\nCeli,elf\n');
    await expect(loadTableCorpus(file, { categories: ['kind'] })).rejects.toMatchObject({
      code: 'EMPTY_CATEGORY',
      message: expect.stringMatching(/Line 3 of holes\.csv \("Borin"\) has no value in the category column "kind"/),
    });
    const many = ['name,id', ...Array.from({ length: 300 }, (_, i) => `N${i},${i}`)].join('\n');
    writeFileSync(file, many);
    await expect(loadTableCorpus(file, { categories: ['id'] })).rejects.toMatchObject({ code: 'TOO_MANY_CATEGORY_VALUES' });
    expect(readFileSync(file, 'utf8')).toBe(many);
  });
});
