/**
 * The service layer's contract: what the desktop app (over IPC), browser mode (over WebSocket) and
 * the command line call. Everything here is plain serialisable data: numbers, strings, booleans,
 * arrays and plain objects (no Dates, Maps or class instances). Times are milliseconds since the
 * Unix epoch. Ids are integers. Errors are CharmerError (src/engine/errors.ts) with a stable `code`.
 *
 *   const services = await createServices({ dataDir });   // src/services/index.ts
 *   const corpora = await services.library.listCorpora();
 */
import type { TrainConfig } from '../common/options.ts';
import type { CorpusMode, ExportFormat, Novelty, RunStatus, SampleSort } from '../common/enums.ts';
import type { TrainEvent } from '../engine/events.ts';
import type { NameCard } from '../engine/namecard.ts';
import type { BabyNameFilter } from '../engine/namedata.ts';

export type { TrainConfig, CorpusMode, TrainEvent, NameCard, BabyNameFilter, ExportFormat, Novelty, RunStatus, SampleSort };

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

export interface CorpusDetail extends CorpusSummary {
  /** Every character with its count, most frequent first (for the frequency chart). */
  charFrequency: Array<{ char: string; count: number }>;
  /** The first few thousand characters. */
  preview: string;
  /** Absolute path of the content-addressed copy. */
  path: string;
}

export type ImportSource = { path: string; name?: string } | { text: string; name: string };

export interface ImportProgress {
  bytesRead: number;
  totalBytes: number;
}

export interface ImportOptions {
  /** text or lines; default: guessed from the content. */
  mode?: CorpusMode;
  /**
   * A CSV/TSV list with categories: the category columns to keep (by header name). The library
   * stores the name column and these as a TSV; the corpus is then a list with categories.
   */
  categories?: string[];
  /** The name column of a CSV/TSV (default: one called name/title/brand/item, else the first). */
  nameColumn?: string;
  onProgress?: (p: ImportProgress) => void;
}

export interface ImportResult {
  corpus: CorpusSummary;
  /** True when the same content (same sha256) was already in the library: nothing was copied. */
  existed: boolean;
}

export interface LibraryService {
  listCorpora(): Promise<CorpusSummary[]>;
  /** Throws NOT_FOUND. */
  getCorpus(id: number): Promise<CorpusDetail>;
  importCorpus(source: ImportSource, opts?: ImportOptions): Promise<ImportResult>;
  renameCorpus(id: number, name: string): Promise<CorpusSummary>;
  /** Throws CORPUS_IN_USE (with details.runs) when runs train on it, unless force (which deletes those runs too). */
  deleteCorpus(id: number, opts?: { force?: boolean }): Promise<void>;
  /** The header of a CSV/TSV file or text (for choosing the name and category columns), with a few rows. */
  previewTable(source: ImportSource): Promise<TablePreview>;
  /**
   * A built-in corpus in the library with the chosen category columns and (us-baby-names) a
   * subset filter; the same choice gives the same corpus. Throws EMPTY_SUBSET when nothing is left.
   */
  builtinCorpus(req: BuiltinCorpusRequest): Promise<ImportResult>;
  /** How many baby names a filter keeps (for the subset form), or EMPTY_SUBSET. */
  countBabyNames(filter: BabyNameFilter): Promise<{ items: number; names: number }>;
}

export interface TablePreview {
  header: string[];
  rows: string[][];
  /** Rows in the whole table. */
  total: number;
  /** Per column, how many different values (a category column has a few). */
  distinct: number[];
}

export interface BuiltinCorpusRequest {
  id: string;
  categories?: string[];
  filter?: BabyNameFilter;
}

// --------------------------------------------------------------------------------------------- runs

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

export interface RunDetail extends RunSummary {
  metrics: MetricRow[];
  checkpoints: CheckpointRow[];
  /** Samples the run printed while training (source 'training'), oldest first. */
  trainingSamples: SampleRow[];
}

export interface StartRunOptions {
  corpusId: number;
  config: Partial<TrainConfig>;
  name?: string;
  /** Fine-tune: start from another run's checkpoint (best by default). */
  initFrom?: { runId: number; kind?: 'best' | 'latest' };
}

/** What onEvent listeners get: every engine event of a run, plus status changes. */
export type RunEvent =
  | { runId: number; kind: 'train'; event: TrainEvent }
  | { runId: number; kind: 'status'; status: RunStatus; error: string | null };

export interface RunsService {
  listRuns(filter?: { corpusId?: number; status?: RunStatus }): Promise<RunSummary[]>;
  /** Throws NOT_FOUND. */
  getRun(id: number): Promise<RunDetail>;
  /** Metrics after a given iteration (for incremental chart updates). */
  getMetrics(id: number, afterIteration?: number): Promise<MetricRow[]>;
  /** Creates the run and starts its training process; resolves once it is spawned (status running). */
  startRun(opts: StartRunOptions): Promise<RunSummary>;
  /** Continues an interrupted/stopped/failed/completed run from runs/<id>/latest. Throws NOT_RESUMABLE. */
  resumeRun(id: number): Promise<RunSummary>;
  pauseRun(id: number): Promise<void>;
  /** Un-pauses a paused run (its process is still alive). */
  continueRun(id: number): Promise<void>;
  /** Asks the process to finish its step, write latest and exit; resolves when it has. */
  stopRun(id: number): Promise<void>;
  renameRun(id: number, name: string): Promise<RunSummary>;
  /** Removes the run, its rows and its folder. Throws RUN_ACTIVE while it trains. */
  deleteRun(id: number): Promise<void>;
  /** A completed run of one's own holding a copy of this run's best checkpoint and its metrics (the way to own a starter). */
  copyRun(id: number, name?: string): Promise<RunSummary>;
  /** Live events of all runs; returns the unsubscribe function. */
  onEvent(listener: (e: RunEvent) => void): () => void;
}

// ------------------------------------------------------------------------------------------ gallery

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

export interface GalleryService {
  listSamples(q?: SampleQuery): Promise<{ items: SampleRow[]; total: number }>;
  saveSample(s: NewSample): Promise<SampleRow>;
  saveSamples(s: NewSample[]): Promise<SampleRow[]>;
  setFavorite(id: number, favorite: boolean): Promise<void>;
  setNote(id: number, note: string): Promise<void>;
  /** Hides the samples (they can be restored); returns how many were deleted. */
  deleteSamples(ids: number[]): Promise<number>;
  /** Undo of deleteSamples. */
  restoreSamples(ids: number[]): Promise<number>;
  /** The file's content (UTF-8): CSV with a header row, a JSON array, or one text per line. */
  exportSamples(ids: number[] | 'all', format: ExportFormat): Promise<string>;
}

// ------------------------------------------------------------------------------------------- drafts

export interface Draft {
  id: number;
  title: string;
  text: string;
  runId: number | null;
  updated: number;
}

export interface DraftsService {
  listDrafts(): Promise<Array<Omit<Draft, 'text'>>>;
  getDraft(id: number): Promise<Draft>;
  /** Creates (no id) or updates a draft. */
  saveDraft(d: { id?: number; title: string; text: string; runId?: number | null }): Promise<Draft>;
  deleteDraft(id: number): Promise<void>;
}

// ------------------------------------------------------------------------------------------ all

export interface ServicesInfo {
  dataDir: string;
  databasePath: string;
  schemaVersion: number;
}

export interface Services {
  info: ServicesInfo;
  library: LibraryService;
  runs: RunsService;
  gallery: GalleryService;
  drafts: DraftsService;
  /** Sampling on the model thread (./generation.ts). */
  generation: import('./generation.ts').GenerationService;
  /** Activations, guesses and sample evolution for the Inspect view (./inspection.ts). */
  inspection: import('./inspection.ts').InspectionService;
  /** Stops live training processes (they write latest and exit) and closes the database. */
  close(): Promise<void>;
  /**
   * What the processes hold (tensors, resident memory, open files): this process, the model thread,
   * each live training process. For the soak test (scripts/soak.ts); no shell calls it.
   */
  diagnostics?(): Promise<Diagnostics>;
}

export interface Diagnostics {
  main: { rss: number; openFiles: number | null };
  modelThread: import('../worker/protocol.ts').ProcessStats | null;
  trainers: Array<{ runId: number; pid: number | null } & import('../worker/protocol.ts').ProcessStats>;
}

/**
 * How the runs service starts a training process. The default forks Node with tsx; the Electron
 * main process passes one built on utilityProcess.fork (src/worker/spawn.ts documents the shape).
 */
export interface CreateServicesOptions {
  /** Default: resolveDataDir() (--data-dir / CHARMER_DATA_DIR / platform location). */
  dataDir?: string;
  launcher?: import('../worker/spawn.ts').TrainerLauncher;
}
