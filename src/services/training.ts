/**
 * Helpers shared by the runs service, the training process and the command line:
 * where a run's checkpoints go, which corpus file it trains on, and recording a foreground run
 * (`charmer train` / `charmer resume`) in the library.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG, shortModelName, type TrainConfig } from '../common/options.ts';
import { isActiveStatus } from '../common/enums.ts';
import { CharmerError } from '../common/errors.ts';
import type { TrainEvent } from '../common/events.ts';
import { openStore, type Store } from '../store/store.ts';
import { readCheckpointMeta } from '../store/recovery.ts';
import { corpusPath, importCorpus, ensureBuiltinCorpus, notFound } from './library.ts';
import { isBuiltinCorpus } from '../engine/builtin-corpora.ts';
import type { BabyNameFilter } from '../common/names.ts';
import { RunRecorder } from './recorder.ts';
import type { CorpusSummary, RunSummary } from './types.ts';

/** runs/<id>: the engine writes best/ and latest/ inside. */
export function checkpointDirOf(store: Store, runId: number): string {
  const dir = store.runDir(runId);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export function corpusFileOfRun(store: Store, run: RunSummary): string {
  const c = store.getCorpus(run.corpusId);
  if (!c) throw notFound('corpus', run.corpusId);
  return corpusPath(store, c);
}

export function defaultRunName(corpus: CorpusSummary, config: Partial<TrainConfig>): string {
  const c = { ...DEFAULT_CONFIG, ...config };
  return `${corpus.name} ${shortModelName(c)}`;
}

export function fullConfig(corpus: CorpusSummary, config: Partial<TrainConfig>): TrainConfig {
  return { ...DEFAULT_CONFIG, mode: corpus.mode, ...stripUndefined(config) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Checks that a run can be resumed and returns its latest checkpoint's iteration.
 * Throws CHECKPOINT_MISSING with what to do when runs/<id>/latest is gone.
 */
export function assertResumable(store: Store, run: RunSummary): number {
  const latest = path.join(store.runDir(run.id), 'latest');
  const meta = readCheckpointMeta(latest);
  if (!meta) {
    throw new CharmerError(
      'CHECKPOINT_MISSING',
      `Run ${run.id} ("${run.name}") has no checkpoint to continue from: ${latest} is missing (deleted by hand, or the run stopped before its first checkpoint). Start a new run with the same settings instead.`,
      { runId: run.id, path: latest },
    );
  }
  return meta.iteration;
}

export interface ForegroundRun {
  store: Store;
  run: RunSummary;
  /** The library's corpus row the run trains on. */
  corpus: CorpusSummary;
  /** Pass as train({ out }). */
  outDir: string;
  /** Pass as loadCorpus(corpusFile): the library's copy. */
  corpusFile: string;
  recorder: RunRecorder;
  /** Feed every TrainEvent here. */
  record(ev: TrainEvent): void;
  /** Call in finally: marks an unfinished run interrupted (resumable), or failed with the error given; closes the library. */
  finish(error?: unknown): void;
}

/**
 * For `charmer train` (unless --no-store): copies the corpus into the library, creates the run and
 * returns where to write checkpoints and a recorder for the events.
 *
 *   const fg = await beginForegroundRun({ dataDir, corpus: file, config });
 *   try { for await (const ev of train({ corpus: await loadCorpus(fg.corpusFile, ...), config, out: fg.outDir })) { fg.record(ev); ... } fg.finish(); }
 *   catch (e) { fg.finish(e); throw e; }
 */
export async function beginForegroundRun(opts: {
  dataDir: string;
  /** A file path, or a built-in corpus id (names, us-baby-names, startup-names). */
  corpus: string;
  /** Category columns (a CSV/TSV's header names; us-baby-names: sex, decade). */
  categories?: string[];
  /** The name column of a CSV/TSV. */
  nameColumn?: string;
  /** A subset of us-baby-names. */
  filter?: BabyNameFilter;
  config: Partial<TrainConfig>;
  name?: string;
  /** Fine-tuning from this checkpoint directory. */
  initFrom?: string;
}): Promise<ForegroundRun> {
  const store = openStore(opts.dataDir);
  try {
    const table = opts.categories !== undefined || opts.nameColumn !== undefined || /\.(csv|tsv)$/i.test(opts.corpus);
    if (opts.filter && !isBuiltinCorpus(opts.corpus)) {
      throw new CharmerError('BAD_OPTION', 'Filters by sex, years and births apply to the built-in us-baby-names only; edit your own list instead.');
    }
    const corpus = isBuiltinCorpus(opts.corpus)
      ? (
          await ensureBuiltinCorpus(store, {
            id: opts.corpus,
            ...(opts.categories ? { categories: opts.categories } : {}),
            ...(opts.filter ? { filter: opts.filter } : {}),
          })
        ).corpus
      : table
        ? (await importCorpus(store, { path: opts.corpus }, { categories: opts.categories ?? [], ...(opts.nameColumn ? { nameColumn: opts.nameColumn } : {}) }))
            .corpus
        : (await importCorpus(store, { path: opts.corpus }, opts.config.mode ? { mode: opts.config.mode } : {})).corpus;
    const config = fullConfig(corpus, opts.config);
    const parent = opts.initFrom ? findRunOfCheckpoint(store, opts.initFrom) : null;
    const run = store.createRun({ corpusId: corpus.id, name: opts.name ?? defaultRunName(corpus, config), config, parentRunId: parent, status: 'running' });
    return foreground(store, run);
  } catch (e) {
    store.close();
    throw e;
  }
}

/** For `charmer resume RUN`: checks the run can continue and returns the same handles. */
export function resumeForegroundRun(opts: { dataDir: string; runId: number }): ForegroundRun & { fromIteration: number } {
  const store = openStore(opts.dataDir);
  try {
    const run = store.getRun(opts.runId);
    if (!run) throw notFound('run', opts.runId);
    if (isActiveStatus(run.status)) {
      // openStore's recovery has already marked runs whose process is gone as interrupted.
      throw new CharmerError('RUN_ACTIVE', `Run ${run.id} is training right now (in another window or command). Stop it there first.`, { runId: run.id });
    }
    const fromIteration = assertResumable(store, run);
    store.deleteMetricsAfter(run.id, fromIteration);
    return { ...foreground(store, run), fromIteration };
  } catch (e) {
    store.close();
    throw e;
  }
}

function foreground(store: Store, run: RunSummary): ForegroundRun {
  const recorder = new RunRecorder(store, run.id);
  recorder.begin();
  let finished = false;
  return {
    store,
    run,
    corpus: store.getCorpus(run.corpusId)!,
    outDir: checkpointDirOf(store, run.id),
    corpusFile: corpusFileOfRun(store, run),
    recorder,
    record: (ev) => recorder.handle(ev),
    finish(error?: unknown) {
      if (finished) return;
      finished = true;
      try {
        if (error !== undefined && !recorder.finalStatus) recorder.fail((error as Error)?.message ?? String(error));
        else recorder.interrupt();
      } finally {
        store.close();
      }
    },
  };
}

function findRunOfCheckpoint(store: Store, dir: string): number | null {
  const abs = path.resolve(dir);
  const runs = path.resolve(store.runDir(0), '..');
  const rel = path.relative(runs, abs);
  const m = /^(\d+)[\\/](best|latest)$/.exec(rel);
  return m && store.getRun(Number(m[1])) ? Number(m[1]) : null;
}
