/**
 * Generation: which checkpoints can be sampled, and sampling from them on the model thread
 * (ModelHost, src/services/model-host.ts), never on the thread that answers the UI. A request may
 * carry a client-chosen `requestId`; a later request with the same id, or cancel(requestId), aborts
 * the earlier one (the temperature slider re-samples as it moves and only the last answer matters).
 * "Learn my style" imports the draft (plus chosen corpora) as a corpus and fine-tunes the model on it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { CharmerError } from '../common/errors.ts';
import type { LineSample, SampleResult } from '../engine/index.ts';
import type { Store } from '../store/store.ts';
import { STARTER_DEFS, starterOfRun } from './starters.ts';
import type { LinesRequestOptions, NameCardRequestOptions, TextRequestOptions } from '../common/model-protocol.ts';
import type { NameCard } from '../common/names.ts';
import type { Continuation, GenerationService, LibraryService, ModelChoice, ModelRef, RunSummary, RunsService, TrainConfig } from './types.ts';
import { CHECKPOINT_FILES } from '../common/checkpoint-format.ts';

/** What generation needs of ModelHost (so tests can pass a fake). */
export interface SamplerHost {
  sampleLines(dir: string, opts: LinesRequestOptions, signal?: AbortSignal): Promise<LineSample[]>;
  /** Without it (a test's fake host), cards are built here without the model's likelihood. */
  nameCard?(dir: string, text: string, opts: NameCardRequestOptions, signal?: AbortSignal): Promise<NameCard>;
  sampleText(dir: string, opts: TextRequestOptions, onText: (chunk: string) => void, signal?: AbortSignal): Promise<SampleResult>;
}

export interface GenerationDeps {
  store: Store;
  runs: Pick<RunsService, 'startRun'>;
  library: Pick<LibraryService, 'importCorpus' | 'getCorpus'>;
  host: SamplerHost;
}

const CONTEXT_CHARS = 2000;
/** Three voices for the companion: a careful one, a middle one, a bolder one. */
const COMPANION_TEMPERATURES = [0.5, 0.8, 1.0];

/** Cut a continuation back to a natural end: a sentence end, else a word end, else as is. */
export function trimContinuation(s: string): string {
  const nl = s.indexOf('\n\n');
  if (nl > 0) s = s.slice(0, nl);
  const sentence = /^[\s\S]*?[.!?…]["'’”)\]]?(?=\s|$)/.exec(s);
  if (sentence && sentence[0].trim().length >= 8) return sentence[0];
  const lastSpace = s.lastIndexOf(' ');
  if (lastSpace > s.length / 3) return s.slice(0, lastSpace);
  return s;
}

export function createGenerationService(deps: GenerationDeps): GenerationService {
  const { store, host } = deps;
  const active = new Map<string, AbortController>();

  function choices(run: RunSummary): ModelChoice[] {
    const corpus = store.getCorpus(run.corpusId);
    return store
      .listCheckpoints(run.id)
      .sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'best' ? -1 : 1))
      .map((c) => ({
        runId: run.id,
        runName: run.name,
        corpusId: run.corpusId,
        corpusName: run.corpusName,
        kind: c.kind,
        checkpointId: c.id,
        iteration: c.iteration,
        valLoss: c.valLoss,
        mode: run.config.mode,
        status: run.status,
        created: run.created,
        categories: corpus?.categories ?? null,
        builtinId: corpus?.builtinId ?? (corpus?.builtin && corpus.name === 'names' ? 'names' : null),
        ...(run.starter ? { starter: run.starter } : {}),
      }));
  }

  /** A person's own runs first (newest first), then the shipped starters: a default never passes over their model. */
  function newestFirst(): RunSummary[] {
    const runs = store.listRuns().map((r) => {
      const starter = starterOfRun(store, r.id);
      return starter ? { ...r, starter } : r;
    });
    const order = (r: RunSummary) => (r.starter ? STARTER_DEFS.findIndex((d) => d.id === r.starter) : -1);
    // Starters in their listed order, so a fresh library's Generate opens on baby-names.
    return runs.sort((a, b) => Number(!!a.starter) - Number(!!b.starter) || order(a) - order(b) || b.created - a.created || b.id - a.id);
  }

  function resolve(ref: ModelRef): { model: ModelChoice; dir: string } {
    const one = ref.runId !== undefined ? store.getRun(ref.runId) : null;
    const starter = one ? starterOfRun(store, one.id) : null;
    const runs = ref.runId !== undefined ? [one && starter ? { ...one, starter } : one] : newestFirst();
    if (ref.runId !== undefined && !runs[0]) throw new CharmerError('NOT_FOUND', `There is no run ${ref.runId}.`, { runId: ref.runId });
    for (const run of runs) {
      if (!run) continue;
      const cps = store.listCheckpoints(run.id);
      const cp =
        (ref.kind ? cps.find((c) => c.kind === ref.kind) : undefined) ??
        (ref.kind ? undefined : (cps.find((c) => c.kind === 'best') ?? cps.find((c) => c.kind === 'latest')));
      if (cp) return { model: choices(run).find((m) => m.checkpointId === cp.id)!, dir: cp.path };
      if (ref.runId !== undefined) {
        throw new CharmerError(
          'CHECKPOINT_MISSING',
          `Run “${run.name}” has no ${ref.kind ?? ''}${ref.kind ? ' ' : ''}checkpoint yet: train it a little longer (a checkpoint is written at each evaluation).`,
          { runId: run.id },
        );
      }
    }
    throw new CharmerError('CHECKPOINT_MISSING', 'There is no trained model yet: train one in the Train view first.');
  }

  /**
   * A sampling call that failed because its checkpoint went away meanwhile (the run deleted from
   * another window, or a checkpoint replaced): said as such, not as the model thread's ENOENT.
   */
  function explain(e: unknown, model: ModelChoice, dir: string): unknown {
    const runGone = !store.getRun(model.runId);
    if (!runGone && fs.existsSync(path.join(dir, CHECKPOINT_FILES.model))) return e;
    return new CharmerError(
      runGone ? 'NOT_FOUND' : 'CHECKPOINT_MISSING',
      runGone
        ? `Run “${model.runName}” was deleted while it was being sampled. Choose another model.`
        : `The ${model.kind} checkpoint of “${model.runName}” went away while it was being sampled (deleted, or replaced by training). Try again.`,
      { runId: model.runId },
    );
  }

  function begin(requestId: string | undefined): AbortController {
    const ac = new AbortController();
    if (requestId) {
      active.get(requestId)?.abort();
      active.set(requestId, ac);
    }
    return ac;
  }
  function end(requestId: string | undefined, ac: AbortController): void {
    if (requestId && active.get(requestId) === ac) active.delete(requestId);
  }

  return {
    async listModels() {
      return newestFirst().flatMap(choices);
    },

    async sampleLines(req) {
      const { runId, kind, requestId, ...opts } = req;
      const { model, dir } = resolve({ ...(runId !== undefined ? { runId } : {}), ...(kind ? { kind } : {}) });
      if (model.mode !== 'lines') {
        throw new CharmerError('BAD_OPTION', `“${model.runName}” was trained on running text, not a list: generate text from it instead.`);
      }
      const ac = begin(requestId);
      const t0 = Date.now();
      try {
        const items = await host.sampleLines(dir, opts, ac.signal);
        return { model, items, ms: Date.now() - t0 };
      } catch (e) {
        throw explain(e, model, dir);
      } finally {
        end(requestId, ac);
      }
    },

    async nameCard(req) {
      const { runId, kind, text, category, novelty } = req;
      const { dir } = resolve({ ...(runId !== undefined ? { runId } : {}), ...(kind ? { kind } : {}) });
      const opts = { category: category ?? null, novelty: novelty ?? null };
      if (host.nameCard) return host.nameCard(dir, text, opts);
      // Imported here only: the engine's sampling module brings TensorFlow.js with it.
      const { buildNameCard } = await import('../engine/namecard.ts');
      return buildNameCard(text, opts);
    },

    async sampleText(req, onText) {
      const { runId, kind, requestId, ...opts } = req;
      const { model, dir } = resolve({ ...(runId !== undefined ? { runId } : {}), ...(kind ? { kind } : {}) });
      const ac = begin(requestId);
      let got = '';
      try {
        const r = await host.sampleText(
          dir,
          opts,
          (chunk) => {
            got += chunk;
            if (!ac.signal.aborted) onText(chunk);
          },
          ac.signal,
        );
        return { ...r, model, stopped: ac.signal.aborted };
      } catch (e) {
        // Stopped: what was written so far is the answer.
        if (ac.signal.aborted) return { text: got, logprob: 0, model, stopped: true };
        throw explain(e, model, dir);
      } finally {
        end(requestId, ac);
      }
    },

    async continuations(req) {
      const { model, dir } = resolve({ ...(req.runId !== undefined ? { runId: req.runId } : {}), ...(req.kind ? { kind: req.kind } : {}) });
      const count = Math.max(1, Math.min(req.count ?? 3, 6));
      const length = req.length ?? 80;
      const seed = req.seed ?? Date.now() % 1_000_000;
      const prime = req.context.slice(-CONTEXT_CHARS);
      const ac = begin(req.requestId);
      try {
        const items: Continuation[] = [];
        for (let i = 0; i < count; i++) {
          const temperature = COMPANION_TEMPERATURES[i % COMPANION_TEMPERATURES.length]!;
          const s = seed + i * 7919;
          const opts: TextRequestOptions = { length, temperature, seed: s, skipUnknown: true, ...(prime ? { prime } : {}) };
          const r = await host.sampleText(dir, opts, () => {}, ac.signal);
          if (ac.signal.aborted) break;
          const text = trimContinuation(r.text);
          if (text.trim() && !items.some((x) => x.text === text)) items.push({ text, temperature, seed: s, logprob: r.logprob });
        }
        return { model, items };
      } catch (e) {
        throw explain(e, model, dir);
      } finally {
        end(req.requestId, ac);
      }
    },

    cancel(requestId) {
      active.get(requestId)?.abort();
      active.delete(requestId);
    },

    async learnStyle(req) {
      const { model } = resolve({ runId: req.runId, ...(req.kind ? { kind: req.kind } : {}) });
      const parts: string[] = [];
      if (req.draftText.trim()) parts.push(req.draftText.trim());
      for (const id of req.corpusIds ?? []) {
        const c = await deps.library.getCorpus(id);
        parts.push((await readFile(c.path, 'utf8')).trim());
      }
      if (!parts.length) throw new CharmerError('EMPTY_CORPUS', 'The draft is empty and no corpus was chosen: write something first.');
      const sep = model.mode === 'lines' ? '\n' : '\n\n';
      const name = req.name?.trim() || `my style ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`;
      const { corpus } = await deps.library.importCorpus({ text: parts.join(sep) + '\n', name }, { mode: model.mode });
      const parent = store.getRun(req.runId)!;
      // A draft is small: batches that fit its training split (90 %), as large as the parent's allow.
      let { batchSize, seqLength } = parent.config;
      if (model.mode === 'text') {
        const trainChars = Math.floor(corpus.chars * 0.9) - 1;
        seqLength = Math.max(2, Math.min(seqLength, Math.floor(trainChars / 2)));
        batchSize = Math.max(1, Math.min(batchSize, Math.floor(trainChars / seqLength)));
      }
      // Fine-tuning: the parent's shape, a short run with a lower learning rate, validated on a little of it.
      const config: Partial<TrainConfig> = {
        ...parent.config,
        mode: model.mode,
        // Gentle steps: a small draft should nudge the model, not overwrite what it learned.
        learningRate: Math.min(parent.config.learningRate, 0.002) / 2,
        maxEpochs: 20,
        maxIters: 0,
        maxTime: 120,
        valFraction: 0.1,
        batchSize,
        seqLength,
        ...req.config,
      };
      return deps.runs.startRun({ corpusId: corpus.id, config, name: `${parent.name} · ${name}`, initFrom: { runId: req.runId, kind: model.kind } });
    },

    async close() {
      for (const ac of active.values()) ac.abort();
      active.clear();
    },
  };
}
