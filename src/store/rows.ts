/**
 * What a row of each library table looks like to the rest of the app (services, shells, the
 * renderer through the contract): plain serialisable data, times in milliseconds since the Unix
 * epoch, ids as integers. The store owns these shapes (its table modules turn SQLite rows into them);
 * this file holds declarations only, so the renderer's type check can read it without Node.
 */
import type { TrainConfig } from '../common/options.ts';
import type { CorpusMode, Novelty, RunStatus, SampleSort } from '../common/enums.ts';
import type { NameCard } from '../common/names.ts';

/** A category column of a list corpus and the values it takes. */
export interface CategoryColumnSummary {
  name: string;
  values: string[];
}

/** Where a built-in corpus comes from, shown in the Library. */
export interface CorpusOrigin {
  id: string;
  source: string;
  licence: string;
  url: string;
  description: string;
}

// ------------------------------------------------------------------------------------------ library

export interface CorpusSummary {
  id: number;
  name: string;
  mode: CorpusMode;
  /** Size of the file in bytes. */
  bytes: number;
  /** Characters (code points). */
  chars: number;
  vocabSize: number;
  lines: number;
  /** sha256 hex of the file's bytes; the copy lives at corpora/<hash>.txt in the data directory. */
  hash: string;
  /** Where it was imported from (null for pasted text and the built-in corpus). */
  sourcePath: string | null;
  /** True for the built-in corpora (names, us-baby-names, startup-names and subsets of them). */
  builtin: boolean;
  /** The built-in corpus it was made from (us-baby-names, startup-names, names). */
  builtinId: string | null;
  /** Category columns, when the list is stored as a table (name column first, then these). */
  categories: CategoryColumnSummary[] | null;
  /** Source and licence of a built-in corpus (set by the library service). */
  origin?: CorpusOrigin | null;
  /** Number of runs that train on it. */
  runCount: number;
  created: number;
}

export interface RunSummary {
  id: number;
  corpusId: number;
  corpusName: string;
  /** A person's label; defaults to "<corpus> <model> <layers>x<size>". */
  name: string;
  status: RunStatus;
  config: TrainConfig;
  backend: string | null;
  device: string | null;
  params: number | null;
  /** Iterations done so far (last metrics row), and the planned total. */
  iterations: number;
  totalIters: number | null;
  bestValLoss: number | null;
  /** n-gram baseline on the same split, when the engine computed one. */
  baselineValLoss: number | null;
  error: string | null;
  /** The run this one was fine-tuned from. */
  parentRunId: number | null;
  created: number;
  started: number | null;
  ended: number | null;
  /** True when runs/<id>/latest exists, so resumeRun can continue it. */
  resumable: boolean;
  /** Set on the shipped starter models (./starters.ts): read-only, never deleted or overwritten. */
  starter?: string;
}

export interface MetricRow {
  iteration: number;
  epoch: number;
  trainLoss: number | null;
  valLoss: number | null;
  lr: number | null;
  charsPerS: number | null;
  elapsedS: number | null;
}

export interface CheckpointRow {
  id: number;
  runId: number;
  kind: 'best' | 'latest';
  iteration: number;
  valLoss: number | null;
  /** Absolute path of the checkpoint directory (model.json + weights.bin ...). */
  path: string;
  created: number;
}

export type SampleSource = 'training' | 'generated';

export interface SampleRow {
  id: number;
  runId: number | null;
  /** Name of the run (null when the run was deleted). */
  runName: string | null;
  checkpointId: number | null;
  source: SampleSource;
  /** Iteration of the model that wrote it (training samples and generated ones alike, when known). */
  iteration: number | null;
  temperature: number | null;
  topK: number | null;
  /** Classifier-free guidance towards its category (null: none). */
  guidance: number | null;
  prime: string | null;
  mode: CorpusMode;
  text: string;
  logprob: number | null;
  novelty: Novelty | null;
  favorite: boolean;
  note: string;
  /** The category it was generated for (lists with categories). */
  category: Record<string, string> | null;
  /** Its name card, kept with it (shortlist). */
  card: NameCard | null;
  created: number;
}

export interface NewSample {
  runId: number | null;
  checkpointId?: number | null;
  source?: SampleSource;
  iteration?: number | null;
  temperature?: number | null;
  topK?: number | null;
  guidance?: number | null;
  prime?: string | null;
  mode: CorpusMode;
  text: string;
  logprob?: number | null;
  novelty?: Novelty | null;
  favorite?: boolean;
  note?: string;
  category?: Record<string, string> | null;
  card?: NameCard | null;
}

export interface SampleQuery {
  /** Case-insensitive substring of the text or the note. */
  search?: string;
  runId?: number;
  favorite?: boolean;
  source?: SampleSource;
  /** Only kept names with a name card (the shortlist). */
  shortlist?: boolean;
  sort?: SampleSort;
  limit?: number;
  offset?: number;
}

export interface Draft {
  id: number;
  title: string;
  text: string;
  runId: number | null;
  updated: number;
}
