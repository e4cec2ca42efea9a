/**
 * Starter models: small trained checkpoints shipped in resources/starters/<id>/ so that a first
 * launch can generate, write and inspect before any training. Each appears in the library as an
 * ordinary completed run (its checkpoint copied into the run folder, its loss history as metrics)
 * marked read-only by a `starter.json` in the run folder: the marker lives on disk rather than in a
 * new column so that no migration is needed. Runs, generation, inspection and fine-tuning
 * (initFrom) then treat it like any other run; runs.ts refuses to delete, rename or resume it.
 *
 * STARTER_DEFS is the one place their corpora and settings live: `npm run train:starters`
 * (scripts/train-starters.ts) trains every one from it with the CLI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CharmerError } from '../common/errors.ts';
import type { Store } from '../store/store.ts';
import * as library from './library.ts';
import type { CorpusSummary, MetricRow, TrainConfig } from './types.ts';
import { CHECKPOINT_FILES } from '../common/checkpoint-format.ts';
import type { CorpusMode } from '../common/enums.ts';

/** Where a starter's training text comes from. */
export type StarterCorpus =
  /** A built-in corpus id (`names`; issue 17's `us-baby-names` / `startup-names` with categories). */
  | { builtin: string; categories?: string[] }
  /** A text file under resources/starters/ (relative path). */
  | { file: string; name: string };

export interface StarterDef {
  id: string;
  /** The run name shown in the library. */
  name: string;
  description: string;
  corpus: StarterCorpus;
  /** `charmer train` options (besides the corpus and --out): fixed seed, iteration limit. */
  args: string[];
}

export const STARTER_DEFS: StarterDef[] = [
  {
    id: 'baby-names',
    name: 'baby-names (starter)',
    description: "US baby names by sex and decade: ask for girls' or boys' names, or names of an era.",
    corpus: { builtin: 'us-baby-names', categories: ['sex', 'decade'] },
    // names-large (GRU 2x128, batch 128): the settings that learn the category tokens fastest here,
    // for the steps a 180 s run takes on an idle 2-core machine (docs/NAMES.md has its figures).
    args: ['--backend', 'wasm', '--preset', 'names-large', '--seed', '123', '--max-time', '0', '--max-iters', '3315'],
  },
  {
    id: 'startup-names',
    name: 'startup-names (starter)',
    description: 'Company and product names.',
    corpus: { builtin: 'startup-names' },
    args: ['--preset', 'names-fast', '--seed', '18', '--max-time', '0', '--max-epochs', '100', '--max-iters', '1500', '--eval-every', '250'],
  },
  {
    id: 'shakespeare',
    name: 'shakespeare (starter)',
    description: "tiny-shakespeare, char-rnn's classic: writes plays.",
    corpus: { file: 'corpora/tinyshakespeare.txt', name: 'tinyshakespeare' },
    // char-rnn's size for a 1 MB text (2 x 512), dropout between the layers and a little before the
    // softmax, Adam warmed up and decayed along a cosine to the last iteration: about an hour on an
    // idle 2-core machine. Narrower runs (2 x 384) stopped near 1.51 whatever their regularisation
    // (docs/PERFORMANCE.md, "shakespeare: a fresh run regularised from its first step").
    args: [
      '--backend',
      'wasm',
      '--model',
      'lstm',
      '--rnn-size',
      '512',
      '--num-layers',
      '2',
      '--dropout',
      '0.3',
      '--output-dropout',
      '0.1',
      '--batch-size',
      '50',
      '--seq-length',
      '100',
      '--learning-rate',
      '2e-3',
      '--lr-schedule',
      'cosine',
      '--warmup-iters',
      '50',
      '--min-lr-fraction',
      '0.03',
      '--seed',
      '123',
      '--max-time',
      '0',
      '--max-epochs',
      '1000',
      '--max-iters',
      '2000',
      '--eval-every',
      '250',
      '--sample-every',
      '0',
    ],
  },
];

/**
 * resources/starters, found upward from this file: src/services in a checkout, out/main in a build
 * (inside app.asar, whose resources/ sits beside out/). CHARMER_STARTERS overrides it; `none` means
 * no starters ('' here), which the test suite uses so that tests written for an empty library stay so.
 */
export function startersDir(): string {
  if (process.env.CHARMER_STARTERS === 'none') return '';
  if (process.env.CHARMER_STARTERS) return path.resolve(process.env.CHARMER_STARTERS);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, 'resources', 'starters');
    if (fs.existsSync(p)) return p;
    dir = path.dirname(dir);
  }
  return path.join(process.cwd(), 'resources', 'starters');
}

export interface StarterInfo {
  id: string;
  name: string;
  description: string;
  /** The shipped checkpoint folder (read-only). */
  dir: string;
  mode: CorpusMode;
  valLoss: number | null;
  iteration: number;
  config: TrainConfig;
  history: Array<{ iteration: number; trainLoss?: number; valLoss?: number }>;
  corpusName: string | null;
}

interface StarterMeta {
  mode: CorpusMode;
  config: TrainConfig;
  iteration: number;
  bestValLoss: number | null;
  valLoss?: number | null;
  history?: StarterInfo['history'];
  corpusName?: string;
}

/** The starters whose checkpoint is present (a definition without one, e.g. startup-names before its corpus exists, is left out). */
export function listStarters(root = startersDir()): StarterInfo[] {
  const out: StarterInfo[] = [];
  if (!root) return out;
  for (const def of STARTER_DEFS) {
    const dir = path.join(root, def.id);
    let meta: StarterMeta;
    try {
      const json = JSON.parse(fs.readFileSync(path.join(dir, CHECKPOINT_FILES.model), 'utf8')) as { userDefinedMetadata?: { charmer?: StarterMeta } };
      if (!json.userDefinedMetadata?.charmer) continue;
      meta = json.userDefinedMetadata.charmer;
    } catch {
      continue;
    }
    out.push({
      id: def.id,
      name: def.name,
      description: def.description,
      dir,
      mode: meta.mode,
      valLoss: meta.bestValLoss ?? meta.valLoss ?? null,
      iteration: meta.iteration,
      config: meta.config,
      history: meta.history ?? [],
      corpusName: meta.corpusName ?? null,
    });
  }
  return out;
}

export function findStarter(id: string, root = startersDir()): StarterInfo | undefined {
  return listStarters(root).find((s) => s.id === id);
}

const MARKER = 'starter.json';

/** The starter id of a library run, or null for a person's own run. */
export function starterOfRun(store: Store, runId: number): string | null {
  try {
    const j = JSON.parse(fs.readFileSync(path.join(store.runDir(runId), MARKER), 'utf8')) as { id?: unknown };
    return typeof j.id === 'string' ? j.id : null;
  } catch {
    return null;
  }
}

export function readOnlyError(runId: number, starter: string, action: string): CharmerError {
  return new CharmerError(
    'STARTER_READ_ONLY',
    `Run ${runId} is the "${starter}" starter model, which ships with Charmer and cannot be ${action}. Fine-tune from it (Train, "start from") to get a copy of your own.`,
    { runId, starter },
  );
}

async function corpusFor(store: Store, def: StarterDef, root: string): Promise<CorpusSummary | null> {
  const c = def.corpus;
  if ('file' in c) {
    const file = path.join(root, c.file);
    if (!fs.existsSync(file)) return null;
    return (await library.importCorpus(store, { path: file, name: c.name }, { mode: 'text' })).corpus;
  }
  if (c.builtin === 'names' && !c.categories) return library.ensureBuiltinNames(store);
  // Other built-in corpora come with the names issue (library.ensureBuiltinCorpus); until then the
  // starter is skipped rather than trained on something else.
  const ensure = (library as Record<string, unknown>).ensureBuiltinCorpus as
    ((s: Store, req: { id: string; categories?: string[] }) => Promise<{ corpus: CorpusSummary }>) | undefined;
  if (!ensure) return null;
  return (await ensure(store, { id: c.builtin, ...(c.categories ? { categories: c.categories } : {}) })).corpus;
}

function copyDir(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(to, f));
}

/**
 * Puts every shipped starter in the library once (a run per starter; a newer shipped checkpoint
 * replaces the copy). Cheap when they are there: one small file read per starter.
 */
export async function ensureStarterRuns(store: Store, root = startersDir()): Promise<void> {
  const starters = listStarters(root);
  if (!starters.length) return;
  const existing = new Map<string, number>();
  for (const id of store.allRunIds()) {
    const s = starterOfRun(store, id);
    if (s) existing.set(s, id);
  }
  for (const s of starters) {
    const runId = existing.get(s.id);
    if (runId !== undefined) {
      const cp = store.listCheckpoints(runId).find((c) => c.kind === 'best');
      if (cp && cp.iteration === s.iteration && fs.existsSync(path.join(store.runDir(runId), 'best', CHECKPOINT_FILES.model))) continue;
    }
    const def = STARTER_DEFS.find((d) => d.id === s.id)!;
    const corpus = await corpusFor(store, def, root);
    if (!corpus) continue;
    let id = runId;
    if (id === undefined) {
      id = store.createRun({ corpusId: corpus.id, name: s.name, config: s.config, status: 'completed', totalIters: s.iteration }).id;
    }
    const dir = store.runDir(id);
    const best = path.join(dir, 'best');
    // The marker goes first: a copy interrupted half-way is still a starter, finished next start.
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, MARKER), JSON.stringify({ id: s.id, iteration: s.iteration }) + '\n');
    fs.rmSync(best, { recursive: true, force: true });
    copyDir(s.dir, best);
    const weights = fs.statSync(path.join(best, CHECKPOINT_FILES.weights)).size;
    store.deleteMetricsAfter(id, -1);
    store.writeMetrics(id, historyToMetrics(s.history));
    store.upsertCheckpoint(id, 'best', s.iteration, s.valLoss, best);
    const now = Date.now();
    store.updateRun(id, {
      status: 'completed',
      iterations: s.iteration,
      totalIters: s.iteration,
      bestValLoss: s.valLoss,
      params: weights / 4,
      started: now,
      ended: now,
      error: null,
    });
  }
}

/** The checkpoint's history (separate train and val points) as metric rows, one per iteration. */
function historyToMetrics(history: StarterInfo['history']): MetricRow[] {
  const byIter = new Map<number, MetricRow>();
  for (const h of history) {
    const row = byIter.get(h.iteration) ?? { iteration: h.iteration, epoch: 0, trainLoss: null, valLoss: null, lr: null, charsPerS: null, elapsedS: null };
    if (h.trainLoss !== undefined) row.trainLoss = h.trainLoss;
    if (h.valLoss !== undefined) row.valLoss = h.valLoss;
    byIter.set(h.iteration, row);
  }
  return [...byIter.values()].sort((a, b) => a.iteration - b.iteration);
}
