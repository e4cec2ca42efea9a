/**
 * The shapes of the names features, as plain declarations: a name card (what the Generate view and
 * the Gallery show about a generated name), the US baby-name subset filter, and their parts. The
 * engine builds them (src/engine/namecard.ts, namedata.ts), the store keeps cards with samples, the
 * renderer draws them.
 */
import type { Novelty } from './enums.ts';

export type NameKind = 'baby' | 'brand' | 'list';

export interface KnownNameCard {
  name: string;
  /** Births of both sexes, 1880-2024. */
  births: number;
  /** The sex with more births. */
  sex: Sex;
  peakYear: number;
  firstYear: number;
  lastYear: number;
  split: { F: number; M: number };
  /** Births per decade, each sex. */
  decades: Array<{ decade: string; F: number; M: number }>;
}

export interface NameCard {
  text: string;
  kind: NameKind;
  /** Relative to the model's own training list (null when unknown). */
  novelty: Novelty | null;
  /** The category the name was generated for. */
  category: Record<string, string> | null;
  known: KnownNameCard | null;
  /** For a name that is not known: the nearest known names. */
  nearest: { spelling: Neighbour[]; sound: Neighbour[] } | null;
  /** Brand models: the nearest brands and the warning ("close to Stripe"). */
  brands: { nearest: BrandMatch[]; warning: string | null } | null;
  length: number;
  syllables: number;
  /** The model's log-probability per character (nats), or null without a model or with characters it never saw. */
  likelihood: { perChar: Array<{ char: string; logprob: number }>; meanLogprob: number; perplexity: number } | null;
}

export type Sex = 'F' | 'M';

export interface BabyNameFilter {
  sex?: Sex;
  /** First year counted (inclusive). */
  since?: number;
  /** Last year counted (inclusive). */
  until?: number;
  /** Least births in the years counted. */
  minBirths?: number;
}

export interface Neighbour {
  name: string;
  distance: number;
  /** Births over all years (baby names); absent for brands. */
  births?: number;
  sex?: Sex;
}

export interface BrandMatch {
  name: string;
  distance: number;
  soundsAlike: boolean;
}

/** A corpus that ships with Charmer (src/engine/builtin-corpora.ts lists them), as the Library shows it. */
export interface BuiltinCorpusInfo {
  id: string;
  name: string;
  mode: 'lines';
  description: string;
  source: string;
  licence: string;
  url: string;
  /** Category columns it can be trained with. */
  categoryColumns: string[];
}
