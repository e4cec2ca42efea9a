/**
 * Names in the library (real SQLite, real files): CSV/TSV lists with category columns, the built-in
 * corpora and baby-name subsets, and bad input that must leave the library as it was. Figures are
 * checked against the shipped data read independently (the gzipped TSV), never hard-coded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../src/services/index.ts';
import { tempDir } from '../store/helpers.ts';
import { openStore } from '../../src/store/store.ts';
import { loadLibraryCorpus } from '../../src/services/library.ts';
import { loadBuiltinCorpus } from '../../src/engine/builtin-corpora.ts';
import { corpusItems, splitCorpus, type Corpus } from '../../src/engine/corpus.ts';
import { stripCategoryTokens } from '../../src/engine/categories.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
async function services(d = tempDir()): Promise<{ s: Services; d: string }> {
  const s = await createServices({ dataDir: d });
  cleanup.push(() => s.close());
  return { s, d };
}
function file(d: string, name: string, text: string): string {
  const p = path.join(d, '..', `${path.basename(d)}-${name}`);
  fs.writeFileSync(p, text);
  cleanup.push(() => fs.rmSync(p, { force: true }));
  return p;
}
/** Corpus rows and files in the library: what "nothing half-made" is checked against. */
function snapshot(d: string, list: Array<{ id: number }>) {
  const dir = path.join(d, 'corpora');
  return { rows: list.map((c) => c.id), files: fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [] };
}

/** The shipped baby-name rows, read straight from the resource file. */
function babyRows(): Array<{ name: string; sex: string; births: number; first: number; last: number; decades: number[] }> {
  const text = gunzipSync(fs.readFileSync(path.resolve(__dirname, '../../resources/names/us-baby-names.tsv.gz'))).toString('utf8');
  return text
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => {
      const [name, sex, births, first, last, , dec] = l.split('\t');
      return { name: name!, sex: sex!, births: +births!, first: +first!, last: +last!, decades: dec!.split(',').map(Number) };
    });
}

const FOLK = 'name,kind,home\nAelin,elf,woods\nBorin,dwarf,hills\nCelia,elf,woods\nDurgan,dwarf,mines\nElna,elf,coast\n';

describe('lists with categories in the library', () => {
  it('imports a CSV with a chosen category column as a table, and previews its columns first', async () => {
    const { s, d } = await services();
    const src = file(d, 'folk.csv', FOLK);
    const preview = await s.library.previewTable({ path: src });
    expect(preview.header).toEqual(['name', 'kind', 'home']);
    expect(preview.distinct).toEqual([5, 2, 4]);
    const r = await s.library.importCorpus({ path: src }, { categories: ['kind'] });
    expect(r.corpus.mode).toBe('lines');
    expect(r.corpus.categories).toEqual([{ name: 'kind', values: ['dwarf', 'elf'] }]);
    const detail = await s.library.getCorpus(r.corpus.id);
    expect(fs.readFileSync(detail.path, 'utf8')).toBe('name\tkind\nAelin\telf\nBorin\tdwarf\nCelia\telf\nDurgan\tdwarf\nElna\telf\n');
    // The same list and columns again: the same corpus.
    expect((await s.library.importCorpus({ text: FOLK, name: 'again' }, { categories: ['kind'] })).existed).toBe(true);
  });

  const bad: Array<[string, string, string[], string, RegExp]> = [
    ['a CSV without the chosen column', FOLK, ['race'], 'MISSING_COLUMN', /has no column "race".*"name", "kind", "home"/],
    ['an empty category', 'name,kind\nAelin,elf\nBorin,\n', ['kind'], 'EMPTY_CATEGORY', /Line 3 of .*\("Borin"\) has no value in the category column "kind"/],
    ['an empty column name', FOLK, [' '], 'BAD_OPTION', /category column name is empty/],
  ];
  for (const [what, text, categories, code, message] of bad) {
    it(`refuses ${what} with a clear message and leaves nothing in the library`, async () => {
      const { s, d } = await services();
      const before = snapshot(d, await s.library.listCorpora());
      const src = file(d, 'bad.csv', text);
      await expect(s.library.importCorpus({ path: src }, { categories })).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
      expect(snapshot(d, await s.library.listCorpora())).toEqual(before);
    });
  }
});

describe('built-in corpora and baby-name subsets', () => {
  it('makes a subset (girls since 2000, at least 500 births) that matches the data, with its source and licence', async () => {
    const { s } = await services();
    const r = await s.library.builtinCorpus({ id: 'us-baby-names', categories: ['sex', 'decade'], filter: { sex: 'F', since: 2000, minBirths: 500 } });
    expect(r.corpus.builtinId).toBe('us-baby-names');
    expect(r.corpus.categories![0]).toEqual({ name: 'sex', values: ['F'] });
    // Independently: girls' names with at least 500 births in 2000-2024 (whole decades 2000s-2020s).
    const expected = babyRows().filter((x) => x.sex === 'F' && x.decades.slice(12).reduce((a, b) => a + b, 0) >= 500);
    expect(r.corpus.lines).toBe(expected.length);
    const counted = await s.library.countBabyNames({ sex: 'F', since: 2000, minBirths: 500 });
    expect(counted.items).toBe(expected.length);
    const list = await s.library.listCorpora();
    const row = list.find((c) => c.id === r.corpus.id)!;
    expect(row.origin).toMatchObject({ id: 'us-baby-names', licence: expect.stringContaining('MIT') });
    expect(row.origin!.source).toMatch(/Social Security/);
  });

  it('lists a name under a sex only where that sex holds at least a third of its births', async () => {
    const { s } = await services();
    const r = await s.library.builtinCorpus({ id: 'us-baby-names', categories: ['sex', 'decade'] });
    // Independently from the data file: pairs whose sex has at least a third of the name's births.
    const rows = babyRows();
    const total = new Map<string, number>();
    for (const x of rows) total.set(x.name, (total.get(x.name) ?? 0) + x.births);
    const expected = rows.filter((x) => 3 * x.births >= total.get(x.name)!);
    expect(expected.length).toBeLessThan(rows.length);
    expect(r.corpus.lines).toBe(expected.length);
    const mary = rows.filter((x) => x.name === 'Mary');
    expect(mary.map((x) => x.sex).sort()).toEqual(['F', 'M']);
    expect(expected.filter((x) => x.name === 'Mary').map((x) => x.sex)).toEqual(['F']);
  });

  it('trains a baby name as often as its births say, from the data and the library copy alike; validation sees each once', async () => {
    const { s, d } = await services();
    const r = await s.library.builtinCorpus({ id: 'us-baby-names', categories: ['sex', 'decade'] });
    const store = openStore(d);
    cleanup.push(() => store.close());
    const births = new Map(babyRows().map((x) => [`${x.name}\t${x.sex}`, x.births]));
    const weightsByBirths = (c: Corpus) => {
      const sex = c.categories!.columns.find((col) => col.name === 'sex')!;
      return corpusItems(c).map((it, i) => {
        const text = c.vocab.decode(it);
        const s = sex.values[sex.tokens.findIndex((t) => text.includes(t))]!;
        return { key: text, births: births.get(`${stripCategoryTokens(text)}\t${s}`)!, weight: c.weights![i]! };
      });
    };
    const fromData = loadBuiltinCorpus('us-baby-names', { categories: ['sex', 'decade'] });
    const fromLibrary = await loadLibraryCorpus(store, r.corpus);
    const a = weightsByBirths(fromData);
    expect(new Map(weightsByBirths(fromLibrary).map((x) => [x.key, x.weight]))).toEqual(new Map(a.map((x) => [x.key, x.weight])));
    // More births never mean fewer repeats; the rarest names train once, the most given more often.
    a.sort((x, y) => x.births - y.births);
    for (let i = 1; i < a.length; i++)
      if (a[i]!.weight < a[i - 1]!.weight) expect.fail(`${a[i]!.key} (${a[i]!.births} births) weighs less than ${a[i - 1]!.key}`);
    expect(a[0]!.weight).toBe(1);
    expect(a.at(-1)!.weight).toBeGreaterThan(1);
    // The training split repeats each of its items by weight; validation holds each of its items once.
    const items = corpusItems(fromData);
    const { train, val } = splitCorpus(fromData, 0.03, 123);
    const count = new Map<Uint16Array, number>();
    for (const it of train.mode === 'lines' ? train.items : []) count.set(it, (count.get(it) ?? 0) + 1);
    const valItems = val.mode === 'lines' ? val.items : [];
    expect(count.size + valItems.length).toBe(items.length);
    items.forEach((it, i) => {
      if (count.has(it) && count.get(it) !== fromData.weights![i]) expect.fail(`item ${i} trains ${count.get(it)} times, weight ${fromData.weights![i]}`);
    });
    expect(new Set(valItems).size).toBe(valItems.length);
    expect(valItems.some((it) => count.has(it))).toBe(false);
  });

  it('refuses an impossible filter with a clear message and leaves nothing in the library', async () => {
    const { s, d } = await services();
    const before = snapshot(d, await s.library.listCorpora());
    const most = Math.max(...babyRows().map((x) => x.births));
    await expect(s.library.builtinCorpus({ id: 'us-baby-names', filter: { sex: 'M', minBirths: most + 1 } })).rejects.toMatchObject({
      code: 'EMPTY_SUBSET',
      message: expect.stringMatching(/No baby name matches boys, ≥[\d,]+ births\. Lower the minimum births/),
    });
    await expect(s.library.countBabyNames({ since: 1990, until: 1980 })).rejects.toMatchObject({
      code: 'BAD_OPTION',
      message: expect.stringContaining('since (1990) is after until (1980)'),
    });
    expect(snapshot(d, await s.library.listCorpora())).toEqual(before);
  });

  it('keeps a name with its category and card, and lists it in the shortlist after a restart', async () => {
    const d = tempDir();
    const { s } = await services(d);
    const card = {
      text: 'Mirela',
      kind: 'baby' as const,
      novelty: 'new' as const,
      category: { sex: 'F' },
      known: null,
      nearest: { spelling: [], sound: [] },
      brands: null,
      length: 6,
      syllables: 3,
      likelihood: null,
    };
    await s.gallery.saveSample({ runId: null, mode: 'lines', text: 'Mirela', category: { sex: 'F' }, card, favorite: true });
    await s.gallery.saveSample({ runId: null, mode: 'lines', text: 'no card' });
    await s.close();
    const again = await createServices({ dataDir: d });
    cleanup.push(() => again.close());
    const { items } = await again.gallery.listSamples({ shortlist: true });
    expect(items.map((i) => [i.text, i.category, i.card?.syllables])).toEqual([['Mirela', { sex: 'F' }, 3]]);
    const csv = await again.gallery.exportSamples(
      items.map((i) => i.id),
      'csv',
    );
    expect(csv.split('\r\n')[0]).toContain('category');
    expect(csv).toContain('sex=F');
  });
});
