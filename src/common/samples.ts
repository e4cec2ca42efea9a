/**
 * What sampling takes and gives, as plain declarations: the engine samples (src/engine/sample.ts),
 * the model thread carries the options and results (src/common/model-protocol.ts), the services and
 * the renderer read them.
 */
import type { Novelty } from './enums.ts';

export interface SampleTextOptions {
  prime?: string;
  length: number;
  temperature?: number;
  topK?: number;
  seed?: number;
  skipUnknown?: boolean;
  signal?: AbortSignal;
}

export interface SampleResult {
  text: string;
  logprob: number;
}

export interface LineSample extends SampleResult {
  novelty: Novelty;
  /** Categorised models: the value of each category column this item was written for. */
  category?: Record<string, string>;
}

export interface SampleLinesOptions {
  count: number;
  temperature?: number;
  topK?: number;
  seed?: number;
  prefix?: string;
  contains?: string;
  suffix?: string;
  minLength?: number;
  maxLength?: number;
  newOnly?: boolean;
  /** Deduplicate (default true). */
  unique?: boolean;
  /**
   * Categorised models: the values asked for ("F", "1920s", or "sex=F"). Columns not named are
   * drawn by the model; several values of one column are a mix (the model picks among them).
   */
  categories?: string[];
  /**
   * Categorised models, a category asked for: how strongly each character is pushed towards the
   * asked values and away from the others (classifier-free guidance, src/engine/sample-lines.ts);
   * 0 = none, the model as learned. Default DEFAULT_GUIDANCE.
   */
  guidance?: number;
  /** The corpus items, for the novelty tag (a checkpoint's items.json). */
  items?: { train: Iterable<string>; val: Iterable<string> };
  signal?: AbortSignal;
}

/** The guidance sampleLines uses when none is given (measured: docs/NAMES.md, "Guidance"). */
export const DEFAULT_GUIDANCE = 1.5;
/** The strongest guidance accepted: far past it the names are the model's caricature of a category. */
export const MAX_GUIDANCE = 10;
