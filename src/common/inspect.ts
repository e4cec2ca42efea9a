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
