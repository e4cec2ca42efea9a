/**
 * Inspection: what the network has learned, for the Inspect view. Resolves a run's best/latest
 * checkpoint, picks a default text (a slice of the validation split), runs the model over the text
 * on the model thread (ModelHost.inspect streams the engine's InspectChunks), ranks the cells by
 * how well they track simple features of the text, and keeps the activations here: the UI asks for
 * one cell at a time (a 2x512 LSTM over 20,000 characters holds 40 million activations, far too
 * many to send), the rest (characters, losses, top-k guesses, the ranking) comes back at once.
 *
 * Also the sample evolution of a run: the samples written during training with the loss at each.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CharmerError } from '../engine/errors.ts';
// Types only: the engine (TensorFlow.js) is imported when the first inspection runs, so opening the
// library never pays for it.
import type { CellMatch, InspectChunk, InspectResult, TextFeature } from '../engine/inspect.ts';
import type { CellType } from '../common/enums.ts';
import type { RunDetail, RunsService, RunSummary } from './types.ts';

export type { CellMatch, TextFeature };

/** Longest text one inspection takes (characters). */
export const MAX_INSPECT_CHARS = 20_000;
/** Characters of the default (validation) text. */
export const DEFAULT_TEXT_CHARS = 2_000;
/** Inspections kept for cell requests (oldest dropped first), and the bytes of activations they may hold (the newest is always kept). */
const KEEP = 4;
const KEEP_BYTES = 256 * 1024 * 1024;

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

export interface EvolutionEntry {
  iteration: number;
  /** Training loss at (or just before) that iteration. */
  trainLoss: number | null;
  /** Latest validation loss at or before that iteration. */
  valLoss: number | null;
  text: string;
}

/** What the service needs of the model thread (src/services/model-host.ts). */
export interface InspectHost {
  inspect(dir: string, text: string, opts: { topK?: number; chunkSize?: number; skipUnknown?: boolean }, onChunk: (chunk: InspectChunk) => void, signal?: AbortSignal): Promise<void>;
}

export interface InspectionService {
  defaultText(runId: number): Promise<DefaultText>;
  inspect(req: InspectionRequest): Promise<InspectionResult>;
  /** One cell's activation per character (rounded to 3 decimals). Throws NOT_FOUND for an inspection no longer kept. */
  getCell(id: string, layer: number, kind: 'h' | 'c', cell: number): number[];
  evolution(runId: number): Promise<EvolutionEntry[]>;
}

export interface InspectionDeps {
  runs: Pick<RunsService, 'getRun'>;
  /** The run's corpus file (training.ts corpusFileOfRun). */
  corpusFile: (run: RunSummary) => string;
  host: InspectHost | (() => InspectHost);
}

const round = (x: number, d: number) => {
  const m = 10 ** d;
  return Math.round(x * m) / m;
};

function pickCheckpoint(run: RunDetail, kind: 'best' | 'latest' | undefined) {
  const want = kind ?? 'best';
  const ck = run.checkpoints.find((c) => c.kind === want) ?? (kind ? undefined : run.checkpoints.find((c) => c.kind === 'latest'));
  if (!ck) {
    throw new CharmerError(
      'CHECKPOINT_MISSING',
      `Run “${run.name}” has no ${want} checkpoint yet: train it until it saves one (it does at each evaluation), or choose ${want === 'best' ? 'latest' : 'best'}.`,
    );
  }
  return ck;
}

/** About `chars` characters from the last 10% of a file, starting at a line start, read without loading the file. */
export function tailSlice(file: string, chars = DEFAULT_TEXT_CHARS, fraction = 0.1): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const want = chars * 4 + 4096;
    let start = Math.max(0, Math.floor(size * (1 - fraction)));
    if (size - start < want) start = Math.max(0, size - want);
    const buf = Buffer.alloc(Math.min(want, size - start));
    const n = readSync(fd, buf, 0, buf.length, start);
    let text = new TextDecoder('utf-8', { fatal: false }).decode(buf.subarray(0, n)).replace(/\r\n?/g, '\n');
    if (start > 0) {
      const nl = text.indexOf('\n');
      if (nl >= 0 && nl < text.length - 1) text = text.slice(nl + 1);
    }
    text = text.replace(/^\uFFFD+/, '');
    const cps = [...text];
    if (cps.length <= chars) return text;
    let out = cps.slice(0, chars).join('');
    // End on a whole line where one ends in the last quarter of the slice.
    const lastNl = out.lastIndexOf('\n');
    if (lastNl > out.length * 0.75) out = out.slice(0, lastNl + 1);
    return out;
  } finally {
    closeSync(fd);
  }
}

export function createInspectionService(deps: InspectionDeps): InspectionService {
  const host = () => (typeof deps.host === 'function' ? deps.host() : deps.host);
  const kept = new Map<string, InspectResult>();
  let next = 1;

  async function defaultText(runId: number): Promise<DefaultText> {
    const run = await deps.runs.getRun(runId);
    if (run.config.mode === 'lines') {
      for (const ck of [...run.checkpoints].sort((a) => (a.kind === 'best' ? -1 : 1))) {
        try {
          const items = JSON.parse(await readFile(path.join(ck.path, 'items.json'), 'utf8')) as { val?: string[]; train?: string[] };
          const list = items.val?.length ? items.val : (items.train ?? []);
          const picked: string[] = [];
          let n = 0;
          for (const it of list) {
            if (n >= DEFAULT_TEXT_CHARS) break;
            picked.push(it);
            n += it.length + 1;
          }
          if (picked.length) return { text: picked.join('\n') + '\n', source: items.val?.length ? 'validation items' : 'training items' };
        } catch {
          // No items.json in this checkpoint: try the next, then the corpus file.
        }
      }
    }
    let file: string;
    try {
      file = deps.corpusFile(run);
    } catch {
      throw new CharmerError('NOT_FOUND', `Run “${run.name}” has lost its corpus, so there is no validation text: paste a text to inspect instead.`);
    }
    return { text: tailSlice(file), source: `the last 10% of ${run.corpusName}` };
  }

  return {
    defaultText,

    async inspect(req) {
      const run = await deps.runs.getRun(req.runId);
      const ck = pickCheckpoint(run, req.checkpoint);
      const text = req.text ?? (await defaultText(req.runId)).text;
      const total = [...text].length;
      if (total === 0) throw new CharmerError('BAD_OPTION', 'The text is empty: paste some text to inspect.');
      if (total > MAX_INSPECT_CHARS) {
        throw new CharmerError('BAD_OPTION', `The text has ${total.toLocaleString('en')} characters; Inspect takes at most ${MAX_INSPECT_CHARS.toLocaleString('en')}. Shorten it.`);
      }
      const chunks: InspectChunk[] = [];
      let done = 0;
      req.onProgress?.({ done: 0, total });
      await host().inspect(
        ck.path,
        text,
        { topK: req.topK ?? 5, chunkSize: 1000, skipUnknown: true },
        (c) => {
          chunks.push(c);
          done += c.chars.length;
          req.onProgress?.({ done, total });
        },
        req.signal,
      );
      if (req.signal?.aborted) throw new CharmerError('BAD_OPTION', 'The inspection was cancelled.', { cancelled: true });
      const { collectInspection, findInterestingCells, interestingCellsByFeature, TEXT_FEATURES } = await import('../engine/inspect.ts');
      const r = await collectInspection(chunks);
      if (r.chars.length === 0) throw new CharmerError('UNKNOWN_CHARACTERS', 'The model knows none of the characters of this text: paste text like the corpus it was trained on.');
      // Ranking: a few tens of milliseconds for 20,000 characters x 512 cells; never in the renderer.
      const interesting = findInterestingCells(r, undefined, { top: 8 });
      const byFeature = interestingCellsByFeature(r, undefined, 3);
      const id = `i${next++}`;
      kept.set(id, r);
      const bytes = (x: InspectResult) => x.activations.reduce((n, a) => n + a.values.byteLength, 0);
      let held = [...kept.values()].reduce((n, x) => n + bytes(x), 0);
      while (kept.size > 1 && (kept.size > KEEP || held > KEEP_BYTES)) {
        const oldest = kept.keys().next().value!;
        held -= bytes(kept.get(oldest)!);
        kept.delete(oldest);
      }
      return {
        id,
        runId: run.id,
        checkpoint: { kind: ck.kind, iteration: ck.iteration, valLoss: ck.valLoss },
        chars: r.chars,
        skipped: total - r.chars.length,
        loss: Array.from(r.loss, (x) => round(x, 4)),
        guesses: r.guesses.map((g) => g.map(({ char, p }) => ({ char, p: round(p, 4) }))),
        meanLoss: Number.isFinite(r.meanLoss) ? round(r.meanLoss, 4) : null,
        cell: r.cell,
        hidden: r.hidden,
        layers: r.activations.map((a) => ({ layer: a.layer, kind: a.kind, label: a.label })),
        interesting: interesting.map((m) => ({ ...m, correlation: round(m.correlation, 4) })),
        byFeature: Object.fromEntries(
          Object.entries(byFeature).map(([f, ms]) => [f, ms.map((m) => ({ ...m, correlation: round(m.correlation, 4) }))]),
        ) as Record<TextFeature, CellMatch[]>,
        features: { ...TEXT_FEATURES },
      };
    },

    getCell(id, layer, kind, cell) {
      const r = kept.get(id);
      if (!r) throw new CharmerError('NOT_FOUND', 'That inspection is no longer kept: run Inspect again.');
      const a = r.activations.find((x) => x.layer === layer && x.kind === kind);
      if (!a) throw new CharmerError('BAD_OPTION', `The model has no ${kind === 'c' ? 'cell state' : 'hidden state'} for layer ${layer + 1}.`);
      if (cell < 0 || cell >= r.hidden) throw new CharmerError('BAD_OPTION', `Cell ${cell} is out of range: the layer has cells 0 to ${r.hidden - 1}.`);
      const H = r.hidden;
      const n = r.chars.length;
      const out = new Array<number>(n);
      for (let i = 0; i < n; i++) out[i] = round(a.values[i * H + cell]!, 3);
      return out;
    },

    async evolution(runId) {
      const run = await deps.runs.getRun(runId);
      const metrics = [...run.metrics].sort((a, b) => a.iteration - b.iteration);
      return run.trainingSamples
        .filter((s) => s.iteration !== null)
        .map((s) => {
          let trainLoss: number | null = null;
          let valLoss: number | null = null;
          for (const m of metrics) {
            if (m.iteration > s.iteration!) break;
            if (m.trainLoss !== null) trainLoss = m.trainLoss;
            if (m.valLoss !== null) valLoss = m.valLoss;
          }
          return { iteration: s.iteration!, trainLoss, valLoss, text: s.text };
        })
        .sort((a, b) => a.iteration - b.iteration);
    },
  };
}
