/**
 * The contract between the shells (Electron main, browser-mode server) and the renderer: one entry
 * per operation (a zod schema for its input and the type of its result) and one per event. The
 * main-process IPC handlers, the preload's invokers, the WebSocket server and the renderer's client
 * are all derived from these two maps. Adding an operation: its entry here, its name in ./names.ts
 * (the preload's list, which cannot import zod; a test checks the two agree), and its handler in
 * ./handlers.ts.
 *
 * Operations map onto the services (src/services/types.ts) one to one, plus a few that belong to a
 * shell (file dialogs, opening links) and `app.*` facts about the running app.
 */
import { z } from 'zod';
import { event, op } from './define.ts';
import type {
  AttentionInspection,
  PositionAttentionResult,
  BabyNameFilter,
  Continuation,
  DefaultText,
  EvolutionEntry,
  InspectionResult,
  LinesAnswer,
  ModelChoice,
  TextAnswer,
  NameCard,
  TablePreview,
  CorpusDetail,
  CorpusSummary,
  Draft,
  ImportResult,
  MetricRow,
  RunDetail,
  RunEvent,
  RunSummary,
  SampleRow,
} from '../services/types.ts';
import { trainConfigSchema as optionsSchema, type TrainConfig } from '../common/options.ts';
import type { BuiltinCorpusInfo } from '../common/names.ts';
import { MAX_GUIDANCE } from '../common/samples.ts';
import { CORPUS_MODES, EXPORT_FORMATS, NOVELTIES, RUN_STATUSES, SAMPLE_SORTS, type CorpusMode } from '../common/enums.ts';

export type { CorpusDetail, CorpusSummary, Draft, ImportResult, MetricRow, RunDetail, RunEvent, RunSummary, SampleRow, TrainConfig };
export type { Continuation, LinesAnswer, ModelChoice, TextAnswer };
export type { BabyNameFilter, NameCard, TablePreview };
export type { CategoryColumnSummary, CorpusOrigin } from '../services/types.ts';
export type { BuiltinCorpusInfo } from '../common/names.ts';
export type { AttentionInspection, DefaultText, EvolutionEntry, InspectionResult, PositionAttentionResult };
export type { CheckpointRow, TrainEvent, SampleSource } from '../services/types.ts';
export type { CorpusMode, ExportFormat, Novelty, RunStatus, SampleSort } from '../common/enums.ts';

const id = z.number().int().positive();
const byId = z.object({ id }).strict();
const mode = z.enum(CORPUS_MODES);
const name = z.string().trim().min(1, 'must not be empty').max(200);
/** A client-chosen id to match importProgress events with the import that caused them. */
const importId = z.string().min(1).max(100).optional();

/** Every training option, typed and bounded as src/common/options.ts declares it; unknown keys are refused. */
export const trainConfigSchema = optionsSchema.partial().strict();

/** CSV/TSV lists: the category columns to keep and the name column (by header name). */
const tableColumns = {
  categories: z.array(z.string().trim().min(1, 'a category column name is empty').max(200)).max(20).optional(),
  nameColumn: z.string().trim().min(1).max(200).optional(),
};

/** A subset of the US baby names. */
const babyNameFilter = z
  .object({
    sex: z.enum(['F', 'M']).optional(),
    since: z.number().int().min(1880).max(2024).optional(),
    until: z.number().int().min(1880).max(2024).optional(),
    minBirths: z.number().int().min(0).max(100_000_000).optional(),
  })
  .strict();

/** A category asked for or written for: column name -> value. */
const categoryRecord = z.record(z.string().max(200), z.string().max(200));
/** Classifier-free guidance towards a category (0 = none; src/engine/sample-lines.ts). */
const guidance = z.number().min(0).max(MAX_GUIDANCE);

/** A name card as the services made it (kept with a sample); checked in outline and size. */
const nameCardOutline = z
  .object({
    text: z.string().max(1000),
    kind: z.enum(['baby', 'brand', 'list']),
    novelty: z.enum(NOVELTIES).nullable(),
    category: categoryRecord.nullable(),
    known: z.object({}).passthrough().nullable(),
    nearest: z.object({}).passthrough().nullable(),
    brands: z.object({}).passthrough().nullable(),
    length: z.number().int().min(0),
    syllables: z.number().int().min(0),
    likelihood: z.object({}).passthrough().nullable(),
  })
  .strict();
const nameCard = z.custom<NameCard>((v) => nameCardOutline.safeParse(v).success && JSON.stringify(v).length < 50_000, 'not a name card (or one too large)');

const sampleQuery = z
  .object({
    search: z.string().max(1000).optional(),
    shortlist: z.boolean().optional(),
    runId: id.optional(),
    favorite: z.boolean().optional(),
    source: z.enum(['training', 'generated']).optional(),
    sort: z.enum(SAMPLE_SORTS).optional(),
    limit: z.number().int().min(1).max(100000).optional(),
    offset: z.number().int().min(0).optional(),
  })
  .strict();

const newSample = z
  .object({
    runId: id.nullable(),
    checkpointId: id.nullable().optional(),
    source: z.enum(['training', 'generated']).optional(),
    iteration: z.number().int().min(0).nullable().optional(),
    temperature: z.number().min(0).nullable().optional(),
    topK: z.number().int().min(0).nullable().optional(),
    guidance: guidance.nullable().optional(),
    prime: z.string().max(100000).nullable().optional(),
    mode,
    text: z.string().max(1_000_000),
    logprob: z.number().nullable().optional(),
    novelty: z.enum(NOVELTIES).nullable().optional(),
    favorite: z.boolean().optional(),
    note: z.string().max(10000).optional(),
    category: categoryRecord.nullable().optional(),
    card: nameCard.nullable().optional(),
  })
  .strict();

/** Which checkpoint to sample: a run (default the newest with a checkpoint) and best/latest. */
const modelRef = {
  runId: id.optional(),
  kind: z.enum(['best', 'latest']).optional(),
};
/** A client-chosen id: a later request with the same id (or generate.cancel) aborts the earlier one. */
const requestId = z.string().min(1).max(100).optional();
const sampling = {
  temperature: z.number().min(0).max(2).optional(),
  topK: z.number().int().min(0).max(100000).optional(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
};

export interface AppInfo {
  version: string;
  /** Which shell serves the API. */
  shell: 'electron' | 'browser';
  dataDir: string;
  platform: string;
  cores: number;
  /** Whether shell.openCorpusDialog works (Electron) or files are uploaded (browser mode). */
  nativeDialogs: boolean;
}

export interface FileInfo {
  path: string;
  name: string;
  bytes: number;
  guessedMode: CorpusMode;
  /** The first few kilobytes, decoded as UTF-8. */
  head: string;
}

export interface Estimate {
  params: number;
  /** Characters in the training split (approximate). */
  trainChars: number;
  /** Training characters the run will process, given maxEpochs/maxIters. */
  totalChars: number;
  /** Expected wall time in seconds (maxTime caps it). */
  seconds: number;
  charsPerS: number;
  /** measured: from this machine's past runs of a similar size; reference: from published figures. */
  basis: 'measured' | 'reference';
}

export const contract = {
  app: {
    info: op<AppInfo>()(z.object({}).strict()),
  },
  library: {
    list: op<CorpusSummary[]>()(z.object({}).strict()),
    get: op<CorpusDetail>()(byId),
    /** Size, guessed mode and the first lines of a file on the machine that runs the services. */
    inspectFile: op<FileInfo>()(z.object({ path: z.string().min(1).max(4096) }).strict()),
    guessMode: op<CorpusMode>()(z.object({ text: z.string().max(1_000_000) }).strict()),
    importFile: op<ImportResult>()(
      z.object({ path: z.string().min(1).max(4096), name: name.optional(), mode: mode.optional(), importId, ...tableColumns }).strict(),
    ),
    importText: op<ImportResult>()(
      z.object({ text: z.string().min(1, 'paste some text first').max(50_000_000), name, mode: mode.optional(), importId, ...tableColumns }).strict(),
    ),
    /** The header, a few rows and per-column distinct counts of a CSV/TSV (by path, or its text when uploaded). */
    previewTable: op<TablePreview>()(
      z.union([z.object({ path: z.string().min(1).max(4096) }).strict(), z.object({ text: z.string().min(1).max(50_000_000), name }).strict()]),
    ),
    /** The built-in corpora (ids, sources, licences, category columns), whether in the library or not. */
    builtins: op<BuiltinCorpusInfo[]>()(z.object({}).strict()),
    /** A built-in corpus in the library, with category columns and (us-baby-names) a subset; EMPTY_SUBSET when nothing is left. */
    builtin: op<ImportResult>()(
      z.object({ id: z.enum(['us-baby-names', 'startup-names', 'names']), categories: tableColumns.categories, filter: babyNameFilter.optional() }).strict(),
    ),
    /** How many baby names a subset keeps. */
    countBabyNames: op<{ items: number; names: number }>()(z.object({ filter: babyNameFilter }).strict()),
    rename: op<CorpusSummary>()(z.object({ id, name }).strict()),
    remove: op<void>()(z.object({ id, force: z.boolean().optional() }).strict()),
  },
  runs: {
    list: op<RunSummary[]>()(
      z
        .object({
          corpusId: id.optional(),
          status: z.enum(RUN_STATUSES).optional(),
        })
        .strict(),
    ),
    get: op<RunDetail>()(byId),
    metrics: op<MetricRow[]>()(z.object({ id, afterIteration: z.number().int().min(-1).optional() }).strict()),
    estimate: op<Estimate>()(z.object({ corpusId: id, config: trainConfigSchema }).strict()),
    start: op<RunSummary>()(
      z
        .object({
          corpusId: id,
          config: trainConfigSchema,
          name: name.optional(),
          initFrom: z
            .object({ runId: id, kind: z.enum(['best', 'latest']).optional() })
            .strict()
            .optional(),
        })
        .strict(),
    ),
    /** Continue a stopped/interrupted/completed run from its latest checkpoint (a new process). */
    resume: op<RunSummary>()(byId),
    pause: op<void>()(byId),
    /** Un-pause a paused run. */
    continue: op<void>()(byId),
    stop: op<void>()(byId),
    rename: op<RunSummary>()(z.object({ id, name }).strict()),
    remove: op<void>()(byId),
    /** A new run of one's own with a copy of this run's best checkpoint (e.g. of a read-only starter). */
    copy: op<RunSummary>()(z.object({ id, name: name.optional() }).strict()),
  },
  gallery: {
    list: op<{ items: SampleRow[]; total: number }>()(sampleQuery),
    save: op<SampleRow>()(newSample),
    saveMany: op<SampleRow[]>()(z.object({ samples: z.array(newSample).max(10000) }).strict()),
    setFavorite: op<void>()(z.object({ id, favorite: z.boolean() }).strict()),
    setNote: op<void>()(z.object({ id, note: z.string().max(10000) }).strict()),
    remove: op<number>()(z.object({ ids: z.array(id).max(100000) }).strict()),
    restore: op<number>()(z.object({ ids: z.array(id).max(100000) }).strict()),
    export: op<string>()(z.object({ ids: z.union([z.array(id).max(100000), z.literal('all')]), format: z.enum(EXPORT_FORMATS) }).strict()),
  },
  /** Sampling from a checkpoint, on the model thread (src/services/generation.ts). */
  generate: {
    /** Every run's best and latest checkpoint, newest run first. */
    models: op<ModelChoice[]>()(z.object({}).strict()),
    /** Lines-mode models: `count` items at once, with constraints and novelty tags. */
    lines: op<LinesAnswer>()(
      z
        .object({
          ...modelRef,
          ...sampling,
          requestId,
          count: z.number().int().min(1).max(10000),
          prefix: z.string().max(200).optional(),
          contains: z.string().max(200).optional(),
          suffix: z.string().max(200).optional(),
          minLength: z.number().int().min(0).max(1000).optional(),
          maxLength: z.number().int().min(1).max(1000).optional(),
          newOnly: z.boolean().optional(),
          unique: z.boolean().optional(),
          /** Models with categories: values to generate for ("F", "1920s", "sex=F"); none: the model draws them. */
          categories: z.array(z.string().max(200)).max(50).optional(),
          /** With a category asked: how strongly towards it. */
          guidance: guidance.optional(),
        })
        .strict(),
    ),
    /** The name card of a name (known or new, nearest names or brands, syllables, the model's likelihood per character). */
    nameCard: op<NameCard>()(
      z
        .object({
          ...modelRef,
          text: z.string().trim().min(1, 'the name is empty').max(200),
          category: categoryRecord.nullable().optional(),
          novelty: z.enum(NOVELTIES).nullable().optional(),
        })
        .strict(),
    ),
    /** Text: continues `prime`; the characters stream as generateText events with the same requestId. */
    text: op<TextAnswer>()(
      z
        .object({
          ...modelRef,
          ...sampling,
          requestId,
          prime: z.string().max(100_000).optional(),
          length: z.number().int().min(1).max(100_000),
          skipUnknown: z.boolean().optional(),
        })
        .strict(),
    ),
    /** Stops a request started with this requestId (what it wrote so far is its answer). */
    cancel: op<void>()(z.object({ requestId: z.string().min(1).max(100) }).strict()),
    /** The writing companion: a few short continuations of the text before the cursor. */
    continuations: op<{ model: ModelChoice; items: Continuation[] }>()(
      z
        .object({
          ...modelRef,
          requestId,
          context: z.string().max(1_000_000),
          count: z.number().int().min(1).max(6).optional(),
          length: z.number().int().min(1).max(1000).optional(),
          seed: sampling.seed,
        })
        .strict(),
    ),
    /** "Learn my style": the draft plus chosen corpora become a corpus, fine-tuned from the model. */
    learnStyle: op<RunSummary>()(
      z
        .object({
          runId: id,
          kind: modelRef.kind,
          draftText: z.string().max(10_000_000),
          corpusIds: z.array(id).max(100).optional(),
          name: name.optional(),
          config: trainConfigSchema.optional(),
        })
        .strict(),
    ),
  },
  drafts: {
    list: op<Array<Omit<Draft, 'text'>>>()(z.object({}).strict()),
    get: op<Draft>()(byId),
    save: op<Draft>()(z.object({ id: id.optional(), title: z.string().max(500), text: z.string().max(10_000_000), runId: id.nullable().optional() }).strict()),
    remove: op<void>()(byId),
  },
  /** What the network has learned (src/services/inspection.ts): activations, guesses, surprise, cells. */
  inspect: {
    /** A slice of the run's validation split (lines models: validation items; text: the corpus's last 10%). */
    defaultText: op<DefaultText>()(z.object({ runId: id }).strict()),
    /** Runs the model over the text on the model thread; progress as inspectProgress events with the inspectId. */
    run: op<InspectionResult>()(
      z
        .object({
          runId: id,
          checkpoint: z.enum(['best', 'latest']).optional(),
          text: z.string().min(1, 'paste some text first').max(100_000).optional(),
          topK: z.number().int().min(1).max(20).optional(),
          inspectId: z.string().min(1).max(100).optional(),
        })
        .strict(),
    ),
    /** One cell's activation for every character of a kept inspection. */
    cell: op<number[]>()(
      z
        .object({ id: z.string().min(1).max(100), layer: z.number().int().min(0).max(63), kind: z.enum(['h', 'c']), cell: z.number().int().min(0).max(65535) })
        .strict(),
    ),
    /** Stops the inspection started with this inspectId. */
    cancel: op<void>()(z.object({ inspectId: z.string().min(1).max(100) }).strict()),
    /** The samples written during training, by iteration, with the loss at each. */
    evolution: op<EvolutionEntry[]>()(z.object({ runId: id }).strict()),
    /** A Transformer's heads ranked by what they track over the text; progress as inspectProgress events, cancel as for run. */
    attention: op<AttentionInspection>()(
      z
        .object({
          runId: id,
          checkpoint: z.enum(['best', 'latest']).optional(),
          text: z.string().min(1, 'paste some text first').max(100_000).optional(),
          inspectId: z.string().min(1).max(100).optional(),
        })
        .strict(),
    ),
    /** Every head's attention from one character of a kept attention inspection to the characters before it. */
    attentionAt: op<PositionAttentionResult>()(z.object({ id: z.string().min(1).max(100), position: z.number().int().min(0).max(1_000_000) }).strict()),
  },
  shell: {
    /** Electron: the native open-file dialog; resolves null when cancelled. Browser mode: UNAVAILABLE. */
    openCorpusDialog: op<string | null>()(z.object({}).strict()),
    /** Opens an http(s) link in the system browser; anything else is refused. */
    openExternal: op<void>()(z.object({ url: z.string().url().max(2048) }).strict()),
  },
} as const;

export type Contract = typeof contract;

export interface ImportProgressEvent {
  importId: string;
  bytesRead: number;
  totalBytes: number;
}

export interface GenerateTextEvent {
  requestId: string;
  /** The next characters of the text being written. */
  chunk: string;
}

export const events = {
  /** Every engine event and status change of every run. */
  runEvent: event<RunEvent>(),
  /** Progress of a large import started with an importId. */
  importProgress: event<ImportProgressEvent>(),
  /** The set of corpora changed (import, rename, delete). */
  libraryChanged: event<{ reason: string }>(),
  /** Characters done of an inspect.run started with an inspectId. */
  inspectProgress: event<{ inspectId: string; done: number; total: number }>(),
  /** Characters of a generate.text request, as they are written. */
  generateText: event<GenerateTextEvent>(),
} as const;

export type Events = typeof events;
