/**
 * What inspecting a model over a text gives, as plain declarations: the engine computes it
 * (src/engine/inspect.ts), the model thread streams it in chunks, the Inspect view draws it.
 */
import type { CellType } from './enums.ts';

export type ActivationKind = 'h' | 'c';

export interface LayerActivations {
  /** 0-based recurrent layer. */
  layer: number;
  /** 'h': the hidden output; 'c': the LSTM cell state after tanh. */
  kind: ActivationKind;
  /** For people: "layer 1 h", "layer 1 tanh(c)". */
  label: string;
  /** [chars x hidden], row-major: values[i * hidden + cell]; each in [-1, 1]. */
  values: Float32Array;
}

export interface Guess {
  char: string;
  /** Softmax probability at temperature 1. */
  p: number;
}

export interface InspectChunk {
  /** Position of this chunk's first character among the characters inspected (code points; skipped ones not counted). */
  start: number;
  /** The characters of this chunk, one code point each. */
  chars: string[];
  /** −ln p(char | everything before it), nats; the first character is predicted from the start marker. */
  loss: Float32Array;
  /** Per character: the k likeliest next characters after reading it, likeliest first. */
  guesses: Guess[][];
  cell: CellType;
  hidden: number;
  /** Per layer, in order: h (and for LSTM then tanh(c)). */
  activations: LayerActivations[];
}

/** Chunks joined into one record (see collectInspection). */
export interface InspectResult extends Omit<InspectChunk, 'start'> {
  /** Mean of loss (nats/char); NaN for an empty text. */
  meanLoss: number;
}

export type TextFeature = 'inQuotes' | 'inBrackets' | 'linePosition' | 'afterNewline' | 'inWord';

export interface CellMatch {
  layer: number;
  kind: ActivationKind;
  cell: number;
  feature: TextFeature;
  /** Pearson correlation between the cell's activation and the feature (sign kept). */
  correlation: number;
}

/** What a Transformer head is scored on (src/engine/attention.ts defines each as a set of earlier positions). */
export type HeadPattern = 'previous' | 'sameChar' | 'wordStart' | 'matching';

export const HEAD_PATTERNS: Readonly<Record<HeadPattern, string>> = Object.freeze({
  previous: 'previous character',
  sameChar: 'same character earlier',
  wordStart: 'start of the word',
  matching: 'matching quote or bracket',
});

export interface HeadScore {
  /** 0-based. */
  layer: number;
  head: number;
  pattern: HeadPattern;
  /** Mean attention mass on the pattern's targets, over the positions where it applies (0 to 1). */
  score: number;
  /** What uniform attention over the visible positions would score. */
  chance: number;
  /** Positions the mean is over. */
  positions: number;
}

export interface HeadRanking {
  layers: number;
  heads: number;
  /** Each head once, with the pattern it tracks best (largest score above chance), best first. */
  ranked: HeadScore[];
  /** Every head for every pattern that applies at MIN_PATTERN_POSITIONS or more positions, best first. */
  all: HeadScore[];
  /** Positions each pattern applies at. */
  positions: Record<HeadPattern, number>;
}

/** One position's attention in every head: weights[layer * heads + head][j - from] for keys from..position. */
export interface PositionAttention {
  position: number;
  from: number;
  weights: Float32Array[];
}
