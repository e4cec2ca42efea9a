/**
 * Name cards: what a parent or a founder wants to know about a generated name. Is it real (a known
 * US baby name: births per decade, sex split, peak year) or new (then the nearest known names by
 * spelling and by sound, with their popularity)? Length and syllables; how likely the model finds
 * it per character; for a brand model the nearest existing brands, with a warning when one is
 * within two edits or sounds the same. Plain data, so it travels to the UI and into the database.
 */
import { syllable } from 'syllable';
import type { CharModel } from './model.ts';
import type { Novelty } from './sample.ts';
import { scoreLine } from './sample.ts';
import { FIRST_DECADE, lookupName, nearestBrands, nearestKnownNames } from './namedata.ts';
import type { KnownNameCard, NameCard, NameKind } from '../common/names.ts';

export type { KnownNameCard, NameCard, NameKind };

export function knownCard(text: string): KnownNameCard | null {
  const k = lookupName(text);
  if (!k) return null;
  const n = (k.F ?? k.M)!.decades.length;
  const decades = Array.from({ length: n }, (_, d) => ({ decade: `${FIRST_DECADE + d * 10}s`, F: k.F?.decades[d] ?? 0, M: k.M?.decades[d] ?? 0 }));
  const recs = [k.F, k.M].filter(Boolean) as NonNullable<typeof k.F>[];
  return {
    name: k.name,
    births: k.births,
    sex: k.sex,
    peakYear: k.peakYear,
    firstYear: Math.min(...recs.map((r) => r.firstYear)),
    lastYear: Math.max(...recs.map((r) => r.lastYear)),
    split: { F: k.F?.births ?? 0, M: k.M?.births ?? 0 },
    decades,
  };
}

/** The kind of names a model writes: brands for the startup corpus, baby names otherwise when they are people's names. */
export function nameKindOf(model: CharModel | null): NameKind {
  const b = model?.meta.builtinCorpus;
  if (b === 'startup-names') return 'brand';
  if (b === 'us-baby-names' || b === 'names') return 'baby';
  return model?.meta.categories?.columns.some((c) => c.name === 'sex') ? 'baby' : 'list';
}

export interface NameCardOptions {
  model?: CharModel | null;
  kind?: NameKind;
  novelty?: Novelty | null;
  category?: Record<string, string> | null;
  items?: { train: string[]; val: string[] };
}

export async function buildNameCard(text: string, opts: NameCardOptions = {}): Promise<NameCard> {
  const name = text.trim();
  const kind = opts.kind ?? nameKindOf(opts.model ?? null);
  const known = kind === 'brand' ? null : knownCard(name);
  let likelihood: NameCard['likelihood'] = null;
  const model = opts.model;
  if (model && model.meta.mode === 'lines' && model.vocab.unknown(name).length === 0 && name) {
    const cats = Object.entries(opts.category ?? {}).map(([col, v]) => `${col}=${v}`);
    const s = await scoreLine(model, name, cats).catch(() => null);
    if (s)
      likelihood = {
        perChar: [...name, '⏎'].map((char, i) => ({ char, logprob: s.perChar[i]! })),
        meanLogprob: s.meanLogprob,
        perplexity: Math.exp(-s.meanLogprob),
      };
  }
  let novelty = opts.novelty ?? null;
  if (novelty === null && opts.items) novelty = opts.items.train.includes(name) ? 'train' : opts.items.val.includes(name) ? 'val' : 'new';
  return {
    text: name,
    kind,
    novelty,
    category: opts.category ?? null,
    known,
    nearest: known || kind === 'brand' ? null : nearestKnownNames(name),
    brands: kind === 'brand' ? nearestBrands(name) : null,
    length: [...name].length,
    syllables: name ? syllable(name) : 0,
    likelihood,
  };
}
