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
import { CharmerError } from '../common/errors.ts';
// Types only: the engine (TensorFlow.js) is imported when the first inspection runs, so opening the
// library never pays for it.
import type { CellMatch, InspectChunk, InspectResult, TextFeature } from '../engine/inspect.ts';
import type { HeadPattern, HeadScore, PositionAttention } from '../common/inspect.ts';
import type { AttentionScan } from '../common/model-protocol.ts';
import type { DefaultText, InspectionRequest, InspectionService, RunDetail, RunsService, RunSummary } from './types.ts';
import { CHECKPOINT_FILES } from '../common/checkpoint-format.ts';

export type { CellMatch, TextFeature, HeadPattern, HeadScore };

/** Longest text one inspection takes (characters). */
export const MAX_INSPECT_CHARS = 20_000;
/** Characters of the default (validation) text. */
export const DEFAULT_TEXT_CHARS = 2_000;
/** Inspections kept for cell requests (oldest dropped first), and the bytes of activations they may hold (the newest is always kept). */
const KEEP = 4;
const KEEP_BYTES = 256 * 1024 * 1024;

/** What the service needs of the model thread (src/services/model-host.ts). */
export interface InspectHost {
  inspect(
    dir: string,
    text: string,
    opts: { topK?: number; chunkSize?: number; skipUnknown?: boolean },
    onChunk: (chunk: InspectChunk) => void,
    signal?: AbortSignal,
  ): Promise<void>;
  attention(dir: string, text: string, onProgress: (p: { done: number; total: number }) => void, signal?: AbortSignal): Promise<AttentionScan>;
  attentionAt(dir: string, text: string, position: number): Promise<PositionAttention>;
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
          const items = JSON.parse(await readFile(path.join(ck.path, CHECKPOINT_FILES.items), 'utf8')) as { val?: string[]; train?: string[] };
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

  /** The run, its checkpoint and the text of a request, or a sentence saying what to change. */
  async function prepare(req: Omit<InspectionRequest, 'topK'>) {
    const run = await deps.runs.getRun(req.runId);
    const ck = pickCheckpoint(run, req.checkpoint);
    const text = req.text ?? (await defaultText(req.runId)).text;
    const total = [...text].length;
    if (total === 0) throw new CharmerError('BAD_OPTION', 'The text is empty: paste some text to inspect.');
    if (total > MAX_INSPECT_CHARS) {
      throw new CharmerError(
        'BAD_OPTION',
        `The text has ${total.toLocaleString('en')} characters; Inspect takes at most ${MAX_INSPECT_CHARS.toLocaleString('en')}. Shorten it.`,
      );
    }
    return { run, ck, text, total };
  }

  /** Attention inspections: the checkpoint and the known characters, enough to ask the model thread for one position again. */
  const keptAttention = new Map<string, { dir: string; text: string; n: number; layers: number; heads: number }>();

  return {
    defaultText,

    async attention(req) {
      const { run, ck, text, total } = await prepare(req);
      req.onProgress?.({ done: 0, total });
      const scan = await host().attention(ck.path, text, (p) => req.onProgress?.(p), req.signal);
      if (req.signal?.aborted) throw new CharmerError('BAD_OPTION', 'The inspection was cancelled.', { cancelled: true });
      if (scan.chars.length === 0)
        throw new CharmerError('UNKNOWN_CHARACTERS', 'The model knows none of the characters of this text: paste text like the corpus it was trained on.');
      const id = `a${next++}`;
      keptAttention.set(id, { dir: ck.path, text: scan.chars.join(''), n: scan.chars.length, layers: scan.ranking.layers, heads: scan.ranking.heads });
      while (keptAttention.size > KEEP) keptAttention.delete(keptAttention.keys().next().value!);
      const r4 = (h: HeadScore): HeadScore => ({ ...h, score: round(h.score, 4), chance: round(h.chance, 4) });
      const { HEAD_PATTERNS } = await import('../engine/attention.ts');
      return {
        id,
        runId: run.id,
        checkpoint: { kind: ck.kind, iteration: ck.iteration, valLoss: ck.valLoss },
        chars: scan.chars,
        skipped: total - scan.chars.length,
        layers: scan.ranking.layers,
        heads: scan.ranking.heads,
        blockSize: scan.blockSize,
        ranked: scan.ranking.ranked.map(r4),
        all: scan.ranking.all.map(r4),
        positions: scan.ranking.positions,
        patterns: { ...HEAD_PATTERNS },
      };
    },

    async attentionAt(id, position) {
      const k = keptAttention.get(id);
      if (!k) throw new CharmerError('NOT_FOUND', 'That inspection is no longer kept: run Inspect again.');
      if (position >= k.n) throw new CharmerError('BAD_OPTION', `Position ${position} is outside the text: choose one from 0 to ${k.n - 1}.`);
      const a = await host().attentionAt(k.dir, k.text, position);
      const weights = Array.from({ length: k.layers }, (_, l) =>
        Array.from({ length: k.heads }, (_, h) => Array.from(a.weights[l * k.heads + h] ?? [], (x) => round(x, 4))),
      );
      return { position: a.position, from: a.from, weights };
    },

    async inspect(req) {
      const { run, ck, text, total } = await prepare(req);
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
      if (r.chars.length === 0)
        throw new CharmerError('UNKNOWN_CHARACTERS', 'The model knows none of the characters of this text: paste text like the corpus it was trained on.');
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
