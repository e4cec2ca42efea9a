/**
 * The closed sets of words the layers share, each declared once as a constant list (for zod
 * enums, select boxes, --help choices and membership checks) with its type derived from the list.
 * Plain declarations: every layer may import this file, and it imports nothing.
 */

/** text: one continuous stream (truncated BPTT); lines: one item per line (names, titles). */
export const CORPUS_MODES = ['text', 'lines'] as const;
export type CorpusMode = (typeof CORPUS_MODES)[number];

/** The recurrent cells the engine implements (vanilla tanh RNN, GRU, LSTM). */
export const RECURRENT_CELLS = ['lstm', 'gru', 'rnn'] as const;
export type CellType = (typeof RECURRENT_CELLS)[number];

/**
 * What the `model` option may name: the recurrent cells and the GPT-style character Transformer
 * (src/engine/transformer). Options of one kind declare `models: [...]` in ./options.ts; CellType
 * stays the recurrent subset.
 */
export const MODEL_TYPES = [...RECURRENT_CELLS, 'transformer'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

export const OPTIMIZERS = ['adam', 'rmsprop'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** cosine: warm-up then a cosine over the run's budget (nanoGPT); step: char-rnn's decay per epoch. */
export const LR_SCHEDULES = ['cosine', 'step'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/** Normalisation inside the recurrent cells: none, or layer normalisation (Ba et al. 2016). */
export const CELL_NORMS = ['none', 'layer'] as const;
export type CellNorm = (typeof CELL_NORMS)[number];

/** TF.js backends in the order `auto` tries them. */
export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
/** What a person may ask for: a backend, or the first that works. */
export const BACKEND_CHOICES = ['auto', ...BACKEND_NAMES] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** A run's life; the database's CHECK constraint (store/migrations/0001) lists the same words. */
export const RUN_STATUSES = ['queued', 'running', 'paused', 'completed', 'stopped', 'failed', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** The statuses of a run that has (or should have) a live training process. */
export const ACTIVE_RUN_STATUSES = ['queued', 'running', 'paused'] as const satisfies readonly RunStatus[];
export type ActiveRunStatus = (typeof ACTIVE_RUN_STATUSES)[number];
export function isActiveStatus(status: string): status is ActiveRunStatus {
  return (ACTIVE_RUN_STATUSES as readonly string[]).includes(status);
}

/** Whether a generated item is in the training split, the validation split, or new. */
export const NOVELTIES = ['train', 'val', 'new'] as const;
export type Novelty = (typeof NOVELTIES)[number];

/** The orders of the gallery (samples) list. */
export const SAMPLE_SORTS = ['newest', 'oldest', 'logprob', 'length', 'alpha'] as const;
export type SampleSort = (typeof SAMPLE_SORTS)[number];

/** The gallery's export formats. */
export const EXPORT_FORMATS = ['csv', 'json', 'txt'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
