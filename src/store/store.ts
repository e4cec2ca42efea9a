/**
 * The library database: one better-sqlite3 connection in WAL mode (readers never block the training
 * process that writes), foreign keys on, a busy timeout, numbered migrations, prepared statements.
 * Large things live as files beside it (layout in ./datadir.ts). `openStore` refuses, with a clear
 * CharmerError and without touching anything, a data directory it cannot write, a database file
 * that is not SQLite or is damaged, and a database from a newer Charmer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CharmerError } from '../engine/errors.ts';
import type { TrainConfig } from '../common/options.ts';
import type {
  CategoryColumnSummary,
  NameCard,
  CheckpointRow,
  CorpusSummary,
  Draft,
  MetricRow,
  NewSample,
  RunStatus,
  RunSummary,
  SampleQuery,
  SampleRow,
} from '../services/types.ts';
import { layout } from './datadir.ts';
import { corruptError, fsCode, guard, libraryError } from './errors.ts';
import { LATEST_VERSION, migrations } from './migrations/index.ts';
import { openDatabase, type DB } from './sqlite.ts';
import { recover, type RecoveryReport } from './recovery.ts';
import { ACTIVE_RUN_STATUSES, type CorpusMode } from '../common/enums.ts';

export interface OpenStoreOptions {
  /** Run crash recovery (default true). */
  recover?: boolean;
  /** busy_timeout in ms (default 10000). */
  busyTimeoutMs?: number;
}

export interface NewCorpus {
  name: string;
  mode: CorpusMode;
  bytes: number;
  chars: number;
  vocabSize: number;
  lines: number;
  hash: string;
  sourcePath: string | null;
  builtin?: boolean;
  charCounts: Record<string, number>;
  /** Category columns of a list corpus stored as a table (name column first). */
  categories?: CategoryColumnSummary[] | null;
  /** The built-in corpus it was made from. */
  builtinId?: string | null;
}

export interface NewRun {
  corpusId: number;
  name: string;
  config: TrainConfig | Partial<TrainConfig>;
  status?: RunStatus;
  parentRunId?: number | null;
  totalIters?: number | null;
}

export interface MetricPoint extends MetricRow {}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const now = () => Date.now();

type Row = Record<string, unknown>;

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

export class Store {
  readonly dataDir: string;
  readonly dbPath: string;
  readonly db: DB;
  readonly recovery: RecoveryReport;
  readonly schemaVersion: number;
  private readonly st: ReturnType<typeof prepare>;
  private closed = false;
  /** True when this open created the library (the database had no schema before). */
  readonly fresh: boolean;
  /** Something a shell should tell the person once (a new database beside an old library's folders). */
  readonly notice: string | null;

  constructor(dataDir: string, db: DB, recoverOnOpen: boolean, fresh = false, notice: string | null = null) {
    this.fresh = fresh;
    this.notice = notice;
    this.dataDir = dataDir;
    this.dbPath = layout.database(dataDir);
    this.db = db;
    this.st = prepare(db);
    this.schemaVersion = db.pragma('user_version', { simple: true }) as number;
    this.recovery = recoverOnOpen ? this.guard('the library (recovery)', () => recover(this)) : emptyReport();
  }

  guard<T>(where: string, fn: () => T): T {
    return guard(this.dataDir, where, fn);
  }

  /** Runs fn in one transaction (IMMEDIATE: takes the write lock at once). */
  transaction<T>(fn: () => T): T {
    return this.guard('the library database', () => this.db.transaction(fn).immediate());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.close();
    } catch {
      /* already closed */
    }
  }

  get isOpen(): boolean {
    return !this.closed && this.db.open;
  }

  // ------------------------------------------------------------------------------ paths

  /** Stored paths are relative to the data directory when inside it. */
  relPath(p: string): string {
    const rel = path.relative(this.dataDir, path.resolve(p));
    return rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(p) : rel.split(path.sep).join('/');
  }

  absPath(p: string): string {
    return path.isAbsolute(p) ? p : path.join(this.dataDir, ...p.split('/'));
  }

  corpusFile(hash: string): string {
    return layout.corpusFile(this.dataDir, hash);
  }

  runDir(runId: number): string {
    return layout.runDir(this.dataDir, runId);
  }

  // ---------------------------------------------------------------------------- corpora

  insertCorpus(c: NewCorpus): CorpusSummary {
    const id = this.guard('a corpus row', () =>
      Number(
        this.st.insertCorpus.run({
          name: c.name,
          mode: c.mode,
          bytes: c.bytes,
          chars: c.chars,
          vocab_size: c.vocabSize,
          lines: c.lines,
          hash: c.hash,
          source_path: c.sourcePath,
          builtin: c.builtin ? 1 : 0,
          char_counts: JSON.stringify(c.charCounts),
          categories: c.categories ? JSON.stringify(c.categories) : null,
          builtin_id: c.builtinId ?? null,
          created: now(),
        }).lastInsertRowid,
      ),
    );
    return this.getCorpus(id)!;
  }

  getCorpus(id: number): CorpusSummary | null {
    const r = this.st.getCorpus.get(id) as Row | undefined;
    return r ? corpusFromRow(r) : null;
  }

  getCorpusByHash(hash: string): CorpusSummary | null {
    const r = this.st.getCorpusByHash.get(hash) as Row | undefined;
    return r ? corpusFromRow(r) : null;
  }

  getCharCounts(id: number): Record<string, number> {
    const r = this.st.getCharCounts.get(id) as { char_counts: string } | undefined;
    return r ? (JSON.parse(r.char_counts) as Record<string, number>) : {};
  }

  listCorpora(): CorpusSummary[] {
    return (this.st.listCorpora.all() as Row[]).map(corpusFromRow);
  }

  renameCorpus(id: number, name: string): void {
    this.guard('a corpus name', () => this.st.renameCorpus.run(name, id));
  }

  deleteCorpusRow(id: number): void {
    this.guard('the library database', () => this.st.deleteCorpus.run(id));
  }

  // ------------------------------------------------------------------------------- runs

  createRun(r: NewRun): RunSummary {
    const id = this.guard('a run row', () =>
      Number(
        this.st.insertRun.run({
          corpus_id: r.corpusId,
          name: r.name,
          config: JSON.stringify(r.config),
          status: r.status ?? 'queued',
          parent_run_id: r.parentRunId ?? null,
          total_iters: r.totalIters ?? null,
          created: now(),
        }).lastInsertRowid,
      ),
    );
    return this.getRun(id)!;
  }

  getRun(id: number): RunSummary | null {
    const r = this.st.getRun.get(id) as Row | undefined;
    return r ? this.runFromRow(r) : null;
  }

  listRuns(filter: { corpusId?: number; status?: RunStatus } = {}): RunSummary[] {
    const rows = this.st.listRuns.all({ corpus_id: filter.corpusId ?? null, status: filter.status ?? null }) as Row[];
    return rows.map((r) => this.runFromRow(r));
  }

  /** Raw status/pid of runs that claim to be alive (for recovery). */
  activeRunRows(): Array<{ id: number; status: RunStatus; pid: number | null; created: number }> {
    return this.st.activeRuns.all() as Array<{ id: number; status: RunStatus; pid: number | null; created: number }>;
  }

  allRunIds(): number[] {
    return (this.st.allRunIds.all() as Array<{ id: number }>).map((r) => r.id);
  }

  updateRun(
    id: number,
    fields: Partial<
      Pick<RunSummary, 'status' | 'name' | 'config' | 'backend' | 'device' | 'params' | 'iterations' | 'totalIters' | 'bestValLoss' | 'baselineValLoss' | 'error' | 'started' | 'ended'> & {
        /** The training process writing this run (for crash recovery). */
        pid: number | null;
      }
    >,
  ): void {
    const cols: Record<string, string> = {
      status: 'status',
      name: 'name',
      config: 'config',
      backend: 'backend',
      device: 'device',
      params: 'params',
      iterations: 'iterations',
      totalIters: 'total_iters',
      bestValLoss: 'best_val_loss',
      baselineValLoss: 'baseline_val_loss',
      error: 'error',
      pid: 'pid',
      started: 'started',
      ended: 'ended',
    };
    const sets: string[] = [];
    const params: Record<string, unknown> = { id };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined || !(k in cols)) continue;
      sets.push(`${cols[k]} = @${k}`);
      params[k] = k === 'config' ? JSON.stringify(v) : v;
    }
    if (!sets.length) return;
    this.guard('a run row', () => this.cached(`UPDATE runs SET ${sets.join(', ')} WHERE id = @id`).run(params));
  }

  deleteRunRows(id: number): void {
    this.transaction(() => {
      this.st.deleteTrainingSamples.run(id);
      this.st.deleteRun.run(id);
    });
  }

  // ---------------------------------------------------------------------------- metrics

  /** Writes many metric points in one transaction; a val loss at the same iteration merges into its row. */
  writeMetrics(runId: number, points: MetricPoint[]): void {
    if (!points.length) return;
    this.transaction(() => this.writeMetricsNoTx(runId, points));
  }

  writeMetricsNoTx(runId: number, points: MetricPoint[]): void {
    let maxIter = -1;
    for (const p of points) {
      this.st.upsertMetric.run({
        run_id: runId,
        iteration: p.iteration,
        epoch: p.epoch,
        train_loss: p.trainLoss,
        val_loss: p.valLoss,
        lr: p.lr,
        chars_per_s: p.charsPerS,
        elapsed_s: p.elapsedS,
      });
      if (p.iteration > maxIter) maxIter = p.iteration;
    }
    if (maxIter >= 0) this.st.bumpIterations.run(maxIter, runId);
  }

  listMetrics(runId: number, afterIteration = -1): MetricRow[] {
    return (this.st.listMetrics.all(runId, afterIteration) as Row[]).map(metricFromRow);
  }

  lastMetricIteration(runId: number): number | null {
    const r = this.st.lastMetric.get(runId) as { it: number | null };
    return r.it;
  }

  deleteMetricsAfter(runId: number, iteration: number): number {
    return this.guard('metrics', () => this.st.deleteMetricsAfter.run(runId, iteration).changes);
  }

  // ------------------------------------------------------------------------ checkpoints

  upsertCheckpoint(runId: number, kind: 'best' | 'latest', iteration: number, valLoss: number | null, dir: string): void {
    this.guard('a checkpoint row', () =>
      this.st.upsertCheckpoint.run({ run_id: runId, kind, iteration, val_loss: valLoss, path: this.relPath(dir), created: now() }),
    );
  }

  checkpointExists(id: number): boolean {
    return this.st.checkpointExists.get(id) !== undefined;
  }

  listCheckpoints(runId: number): CheckpointRow[] {
    return (this.st.listCheckpoints.all(runId) as Row[]).map((r) => ({
      id: Number(r.id),
      runId: Number(r.run_id),
      kind: r.kind as 'best' | 'latest',
      iteration: Number(r.iteration),
      valLoss: num(r.val_loss),
      path: this.absPath(String(r.path)),
      created: Number(r.created),
    }));
  }

  deleteCheckpointRow(id: number): void {
    this.guard('a checkpoint row', () => this.st.deleteCheckpoint.run(id));
  }

  // ---------------------------------------------------------------------------- samples

  insertSamples(samples: NewSample[]): number[] {
    return this.transaction(() => this.insertSamplesNoTx(samples));
  }

  insertSamplesNoTx(samples: NewSample[]): number[] {
    const t = now();
    return samples.map((s) =>
      Number(
        this.st.insertSample.run({
          run_id: s.runId,
          checkpoint_id: s.checkpointId ?? null,
          source: s.source ?? 'generated',
          iteration: s.iteration ?? null,
          temperature: s.temperature ?? null,
          top_k: s.topK ?? null,
          prime: s.prime ?? null,
          mode: s.mode,
          text: s.text,
          logprob: s.logprob ?? null,
          novelty: s.novelty ?? null,
          favorite: s.favorite ? 1 : 0,
          note: s.note ?? '',
          category: s.category ? JSON.stringify(s.category) : null,
          card: s.card ? JSON.stringify(s.card) : null,
          created: t,
        }).lastInsertRowid,
      ),
    );
  }

  getSamples(ids: number[]): SampleRow[] {
    if (!ids.length) return [];
    const out: SampleRow[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const rows = this.cached(`${SAMPLE_SELECT} WHERE s.deleted IS NULL AND s.id IN (${chunk.map(() => '?').join(',')}) ORDER BY s.id`).all(chunk) as Row[];
      out.push(...rows.map(sampleFromRow));
    }
    return out;
  }

  listSamples(q: SampleQuery = {}): { items: SampleRow[]; total: number } {
    const where = ['s.deleted IS NULL'];
    const params: Record<string, unknown> = {};
    if (q.search) {
      where.push(`(s.text LIKE @search ESCAPE '\\' OR s.note LIKE @search ESCAPE '\\')`);
      params.search = `%${q.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    }
    if (q.runId !== undefined) {
      where.push('s.run_id = @run_id');
      params.run_id = q.runId;
    }
    if (q.favorite !== undefined) {
      where.push('s.favorite = @favorite');
      params.favorite = q.favorite ? 1 : 0;
    }
    if (q.source) {
      where.push('s.source = @source');
      params.source = q.source;
    }
    if (q.shortlist) where.push('s.card IS NOT NULL');
    const order = {
      newest: 's.created DESC, s.id DESC',
      oldest: 's.created ASC, s.id ASC',
      logprob: 's.logprob DESC NULLS LAST, s.id DESC',
      length: 'length(s.text) ASC, s.id ASC',
      alpha: 's.text COLLATE NOCASE ASC, s.id ASC',
    }[q.sort ?? 'newest'];
    const w = where.join(' AND ');
    const total = (this.cached(`SELECT count(*) AS n FROM samples s WHERE ${w}`).get(params) as { n: number }).n;
    const limit = Math.max(0, Math.min(q.limit ?? 1000, 100_000));
    const offset = Math.max(0, q.offset ?? 0);
    const rows = this.cached(`${SAMPLE_SELECT} WHERE ${w} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`).all(params) as Row[];
    return { items: rows.map(sampleFromRow), total };
  }

  setFavorite(id: number, favorite: boolean): number {
    return this.guard('a sample', () => this.st.setFavorite.run(favorite ? 1 : 0, id).changes);
  }

  setNote(id: number, note: string): number {
    return this.guard('a sample', () => this.st.setNote.run(note, id).changes);
  }

  softDeleteSamples(ids: number[]): number {
    const t = now();
    return this.transaction(() => ids.reduce((n, id) => n + this.st.softDelete.run(t, id).changes, 0));
  }

  restoreSamples(ids: number[]): number {
    return this.transaction(() => ids.reduce((n, id) => n + this.st.restore.run(id).changes, 0));
  }

  /** Removes soft-deleted samples older than the given age (undo no longer offered). */
  purgeDeletedSamples(olderThanMs: number): number {
    return this.guard('samples', () => this.st.purge.run(now() - olderThanMs).changes);
  }

  // ----------------------------------------------------------------------------- drafts

  listDrafts(): Array<Omit<Draft, 'text'>> {
    return (this.st.listDrafts.all() as Row[]).map((r) => ({ id: Number(r.id), title: String(r.title), runId: num(r.run_id), updated: Number(r.updated) }));
  }

  getDraft(id: number): Draft | null {
    const r = this.st.getDraft.get(id) as Row | undefined;
    return r ? { id: Number(r.id), title: String(r.title), text: String(r.text), runId: num(r.run_id), updated: Number(r.updated) } : null;
  }

  saveDraft(d: { id?: number; title: string; text: string; runId?: number | null }): Draft {
    const t = now();
    return this.guard('a draft', () => {
      if (d.id !== undefined && this.st.getDraft.get(d.id)) {
        this.st.updateDraft.run({ id: d.id, title: d.title, text: d.text, run_id: d.runId ?? null, updated: t });
        return this.getDraft(d.id)!;
      }
      const id = Number(this.st.insertDraft.run({ title: d.title, text: d.text, run_id: d.runId ?? null, updated: t }).lastInsertRowid);
      return this.getDraft(id)!;
    });
  }

  deleteDraft(id: number): number {
    return this.guard('a draft', () => this.st.deleteDraft.run(id).changes);
  }

  // ---------------------------------------------------------------------------- helpers

  private cache = new Map<string, ReturnType<DB['prepare']>>();
  private cached(sql: string) {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (this.cache.size > 200) this.cache.clear();
      this.cache.set(sql, s);
    }
    return s;
  }

  private runFromRow(r: Row): RunSummary {
    const id = Number(r.id);
    return {
      id,
      corpusId: Number(r.corpus_id),
      corpusName: String(r.corpus_name ?? ''),
      name: String(r.name),
      status: r.status as RunStatus,
      config: JSON.parse(String(r.config)) as TrainConfig,
      backend: (r.backend as string | null) ?? null,
      device: (r.device as string | null) ?? null,
      params: num(r.params),
      iterations: Number(r.iterations ?? 0),
      totalIters: num(r.total_iters),
      bestValLoss: num(r.best_val_loss),
      baselineValLoss: num(r.baseline_val_loss),
      error: (r.error as string | null) ?? null,
      parentRunId: num(r.parent_run_id),
      created: Number(r.created),
      started: num(r.started),
      ended: num(r.ended),
      resumable: fs.existsSync(path.join(this.runDir(id), 'latest', 'model.json')),
    };
  }
}

function emptyReport(): RecoveryReport {
  return { interrupted: [], checkpointsRemoved: 0, checkpointsAdded: 0, metricsTrimmed: 0 };
}

const SAMPLE_SELECT = `SELECT s.*, r.name AS run_name FROM samples s LEFT JOIN runs r ON r.id = s.run_id`;

function corpusFromRow(r: Row): CorpusSummary {
  return {
    id: Number(r.id),
    name: String(r.name),
    mode: r.mode as CorpusMode,
    bytes: Number(r.bytes),
    chars: Number(r.chars),
    vocabSize: Number(r.vocab_size),
    lines: Number(r.lines),
    hash: String(r.hash),
    sourcePath: (r.source_path as string | null) ?? null,
    builtin: Boolean(r.builtin),
    builtinId: (r.builtin_id as string | null) ?? null,
    categories: r.categories ? (JSON.parse(String(r.categories)) as CategoryColumnSummary[]) : null,
    runCount: Number(r.run_count ?? 0),
    created: Number(r.created),
  };
}

function metricFromRow(r: Row): MetricRow {
  return {
    iteration: Number(r.iteration),
    epoch: Number(r.epoch),
    trainLoss: num(r.train_loss),
    valLoss: num(r.val_loss),
    lr: num(r.lr),
    charsPerS: num(r.chars_per_s),
    elapsedS: num(r.elapsed_s),
  };
}

function sampleFromRow(r: Row): SampleRow {
  return {
    id: Number(r.id),
    runId: num(r.run_id),
    runName: (r.run_name as string | null) ?? null,
    checkpointId: num(r.checkpoint_id),
    source: r.source as 'training' | 'generated',
    iteration: num(r.iteration),
    temperature: num(r.temperature),
    topK: num(r.top_k),
    prime: (r.prime as string | null) ?? null,
    mode: r.mode as CorpusMode,
    text: String(r.text),
    logprob: num(r.logprob),
    novelty: (r.novelty as SampleRow['novelty']) ?? null,
    favorite: Boolean(r.favorite),
    note: String(r.note ?? ''),
    category: r.category ? (JSON.parse(String(r.category)) as Record<string, string>) : null,
    card: r.card ? (JSON.parse(String(r.card)) as NameCard) : null,
    created: Number(r.created),
  };
}

function prepare(db: DB) {
  const CORPUS_COLS = `c.id, c.name, c.mode, c.bytes, c.chars, c.vocab_size, c.lines, c.hash, c.source_path, c.builtin, c.builtin_id, c.categories, c.created,
    (SELECT count(*) FROM runs r WHERE r.corpus_id = c.id) AS run_count`;
  const RUN_SELECT = `SELECT r.*, c.name AS corpus_name FROM runs r JOIN corpora c ON c.id = r.corpus_id`;
  return {
    insertCorpus: db.prepare(`INSERT INTO corpora (name, mode, bytes, chars, vocab_size, lines, hash, source_path, builtin, char_counts, categories, builtin_id, created)
      VALUES (@name, @mode, @bytes, @chars, @vocab_size, @lines, @hash, @source_path, @builtin, @char_counts, @categories, @builtin_id, @created)`),
    getCorpus: db.prepare(`SELECT ${CORPUS_COLS} FROM corpora c WHERE c.id = ?`),
    getCorpusByHash: db.prepare(`SELECT ${CORPUS_COLS} FROM corpora c WHERE c.hash = ?`),
    getCharCounts: db.prepare(`SELECT char_counts FROM corpora WHERE id = ?`),
    listCorpora: db.prepare(`SELECT ${CORPUS_COLS} FROM corpora c ORDER BY c.builtin DESC, c.created DESC, c.id DESC`),
    renameCorpus: db.prepare(`UPDATE corpora SET name = ? WHERE id = ?`),
    deleteCorpus: db.prepare(`DELETE FROM corpora WHERE id = ?`),

    insertRun: db.prepare(`INSERT INTO runs (corpus_id, name, config, status, parent_run_id, total_iters, created)
      VALUES (@corpus_id, @name, @config, @status, @parent_run_id, @total_iters, @created)`),
    getRun: db.prepare(`${RUN_SELECT} WHERE r.id = ?`),
    listRuns: db.prepare(`${RUN_SELECT} WHERE (@corpus_id IS NULL OR r.corpus_id = @corpus_id) AND (@status IS NULL OR r.status = @status)
      ORDER BY r.created DESC, r.id DESC`),
    activeRuns: db.prepare(`SELECT id, status, pid, created FROM runs WHERE status IN (${ACTIVE_RUN_STATUSES.map((s) => `'${s}'`).join(', ')})`),
    allRunIds: db.prepare(`SELECT id FROM runs`),
    deleteRun: db.prepare(`DELETE FROM runs WHERE id = ?`),
    deleteTrainingSamples: db.prepare(`DELETE FROM samples WHERE run_id = ? AND source = 'training'`),

    upsertMetric: db.prepare(`INSERT INTO metrics (run_id, iteration, epoch, train_loss, val_loss, lr, chars_per_s, elapsed_s)
      VALUES (@run_id, @iteration, @epoch, @train_loss, @val_loss, @lr, @chars_per_s, @elapsed_s)
      ON CONFLICT (run_id, iteration) DO UPDATE SET
        epoch = excluded.epoch,
        train_loss = coalesce(excluded.train_loss, train_loss),
        val_loss = coalesce(excluded.val_loss, val_loss),
        lr = coalesce(excluded.lr, lr),
        chars_per_s = coalesce(excluded.chars_per_s, chars_per_s),
        elapsed_s = coalesce(excluded.elapsed_s, elapsed_s)`),
    bumpIterations: db.prepare(`UPDATE runs SET iterations = max(iterations, ?) WHERE id = ?`),
    listMetrics: db.prepare(`SELECT * FROM metrics WHERE run_id = ? AND iteration > ? ORDER BY iteration`),
    lastMetric: db.prepare(`SELECT max(iteration) AS it FROM metrics WHERE run_id = ?`),
    deleteMetricsAfter: db.prepare(`DELETE FROM metrics WHERE run_id = ? AND iteration > ?`),

    upsertCheckpoint: db.prepare(`INSERT INTO checkpoints (run_id, kind, iteration, val_loss, path, created)
      VALUES (@run_id, @kind, @iteration, @val_loss, @path, @created)
      ON CONFLICT (run_id, kind) DO UPDATE SET iteration = excluded.iteration, val_loss = excluded.val_loss,
        path = excluded.path, created = excluded.created`),
    listCheckpoints: db.prepare(`SELECT * FROM checkpoints WHERE run_id = ? ORDER BY kind`),
    deleteCheckpoint: db.prepare(`DELETE FROM checkpoints WHERE id = ?`),
    checkpointExists: db.prepare(`SELECT 1 FROM checkpoints WHERE id = ?`),

    insertSample: db.prepare(`INSERT INTO samples (run_id, checkpoint_id, source, iteration, temperature, top_k, prime, mode, text, logprob, novelty, favorite, note, category, card, created)
      VALUES (@run_id, @checkpoint_id, @source, @iteration, @temperature, @top_k, @prime, @mode, @text, @logprob, @novelty, @favorite, @note, @category, @card, @created)`),
    setFavorite: db.prepare(`UPDATE samples SET favorite = ? WHERE id = ? AND deleted IS NULL`),
    setNote: db.prepare(`UPDATE samples SET note = ? WHERE id = ? AND deleted IS NULL`),
    softDelete: db.prepare(`UPDATE samples SET deleted = ? WHERE id = ? AND deleted IS NULL`),
    restore: db.prepare(`UPDATE samples SET deleted = NULL WHERE id = ? AND deleted IS NOT NULL`),
    purge: db.prepare(`DELETE FROM samples WHERE deleted IS NOT NULL AND deleted < ?`),

    listDrafts: db.prepare(`SELECT id, title, run_id, updated FROM drafts ORDER BY updated DESC, id DESC`),
    getDraft: db.prepare(`SELECT * FROM drafts WHERE id = ?`),
    insertDraft: db.prepare(`INSERT INTO drafts (title, text, run_id, updated) VALUES (@title, @text, @run_id, @updated)`),
    updateDraft: db.prepare(`UPDATE drafts SET title = @title, text = @text, run_id = @run_id, updated = @updated WHERE id = @id`),
    deleteDraft: db.prepare(`DELETE FROM drafts WHERE id = ?`),
  };
}

// ------------------------------------------------------------------------------------ opening

function ensureDataDir(dataDir: string): void {
  try {
    fs.mkdirSync(dataDir, { recursive: true });
  } catch (e) {
    const code = fsCode(e);
    if (code === 'ENOTDIR' || code === 'EEXIST') {
      throw new CharmerError(
        'DATA_DIR_INVALID',
        `Cannot use ${dataDir} as the Charmer library: it, or a folder above it, is a file. Choose another with --data-dir or CHARMER_DATA_DIR.`,
        { dataDir },
      );
    }
    throw libraryError(e, 'the library folder', dataDir);
  }
  if (!fs.statSync(dataDir).isDirectory()) {
    throw new CharmerError('DATA_DIR_INVALID', `Cannot use ${dataDir} as the Charmer library: it is a file, not a folder. Choose another with --data-dir or CHARMER_DATA_DIR.`, { dataDir });
  }
  // Probe: write and remove a small file, so a read-only or full disk is reported before anything else.
  const probe = path.join(dataDir, `.charmer-write-test-${process.pid}`);
  try {
    fs.writeFileSync(probe, 'charmer');
    fs.rmSync(probe, { force: true });
    fs.mkdirSync(layout.corpora(dataDir), { recursive: true });
    fs.mkdirSync(layout.runs(dataDir), { recursive: true });
  } catch (e) {
    try {
      fs.rmSync(probe, { force: true });
    } catch {
      /* nothing to clean */
    }
    throw libraryError(e, 'the library folder', dataDir);
  }
}

/** Refuses a file that is not an SQLite database before SQLite touches it. */
function checkHeader(dbPath: string, dataDir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dbPath, 'r');
  } catch (e) {
    if (fsCode(e) === 'ENOENT') return;
    throw libraryError(e, 'the library database', dataDir);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return;
    const head = Buffer.alloc(16);
    const n = fs.readSync(fd, head, 0, 16, 0);
    if (n < 16 || !head.equals(SQLITE_HEADER)) throw corruptError(dataDir, `${path.basename(dbPath)} is not an SQLite database`);
  } finally {
    fs.closeSync(fd);
  }
}

export function openStore(dataDir: string, opts: OpenStoreOptions = {}): Store {
  dataDir = path.resolve(dataDir);
  ensureDataDir(dataDir);
  const dbPath = layout.database(dataDir);
  checkHeader(dbPath, dataDir);
  let db: DB;
  try {
    db = openDatabase(dbPath, { timeout: opts.busyTimeoutMs ?? 10_000 });
  } catch (e) {
    throw libraryError(e, 'the library database', dataDir);
  }
  try {
    // Read the version first: nothing is written to a database from a newer Charmer or a damaged one.
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > LATEST_VERSION) {
      throw new CharmerError(
        'DATABASE_TOO_NEW',
        `The Charmer library in ${dataDir} was written by a newer version of Charmer (schema ${version}; this version knows up to ${LATEST_VERSION}). Update Charmer, or choose another --data-dir. Nothing was changed.`,
        { dataDir, version, latest: LATEST_VERSION },
      );
    }
    if (version === 0) {
      const n = (db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number }).n;
      if (n > 0) throw corruptError(dataDir, 'charmer.db is an SQLite database but not a Charmer library');
    }
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`could not switch to WAL (journal_mode ${mode})`);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    const fresh = version === 0;
    migrate(db);
    const quick = db.pragma('quick_check(1)', { simple: true });
    if (quick !== 'ok') throw corruptError(dataDir, `integrity check: ${quick}`);
    const notice = fresh ? adoptOrphanRunFolders(db, dataDir) : null;
    return new Store(dataDir, db, opts.recover !== false, fresh, notice);
  } catch (e) {
    try {
      db.close();
    } catch {
      /* ignore */
    }
    throw libraryError(e, 'the library database', dataDir);
  }
}

/**
 * A new database in a folder that already holds runs/N folders: charmer.db was deleted or moved.
 * New runs are numbered above the old folders, so no new run ever writes into (or deletes) an old
 * run's checkpoints; the returned sentence says what happened and what to do.
 */
function adoptOrphanRunFolders(db: DB, dataDir: string): string | null {
  let ids: number[];
  try {
    ids = fs.readdirSync(layout.runs(dataDir)).filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return null;
  }
  if (ids.length === 0) return null;
  const max = Math.max(...ids);
  db.prepare(`INSERT INTO sqlite_sequence (name, seq) VALUES ('runs', ?)`).run(max);
  return (
    `${layout.database(dataDir)} was missing, so Charmer started a new, empty library there. ` +
    `The ${ids.length} run folder${ids.length === 1 ? '' : 's'} already in ${layout.runs(dataDir)} ${ids.length === 1 ? 'is' : 'are'} kept untouched but not listed; ` +
    `to list them again, quit Charmer and put the old charmer.db back from a backup.`
  );
}

/** Applies every migration above the file's user_version, each in its own transaction. */
export function migrate(db: DB, upTo: number = LATEST_VERSION): number {
  let version = db.pragma('user_version', { simple: true }) as number;
  for (const m of migrations) {
    if (m.version <= version || m.version > upTo) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
    version = m.version;
  }
  return version;
}
