/**
 * RunRecorder: turns a run's TrainEvents into library rows. Used by the training process (the only
 * writer of its run's metrics) and by `charmer train` / `charmer resume` in the foreground.
 * Metrics and training samples are buffered and written in batched transactions (at most one commit
 * every `flushMs`, and at every checkpoint, evaluation and end), never one commit per iteration.
 */
import type { TrainConfig } from '../common/options.ts';
import type { TrainEvent } from '../common/events.ts';
import type { Store } from '../store/store.ts';
import type { MetricRow, NewSample, RunStatus } from './types.ts';
import type { CorpusMode } from '../common/enums.ts';

export interface RecorderOptions {
  /** Longest time metrics wait in memory (default 1000 ms). */
  flushMs?: number;
  /** Most metric rows buffered before a write (default 1000). */
  maxBatch?: number;
}

export class RunRecorder {
  private metrics: MetricRow[] = [];
  private samples: NewSample[] = [];
  private lastFlush = Date.now();
  private bestValLoss: number | null = null;
  private mode: CorpusMode = 'text';
  private readonly flushMs: number;
  private readonly maxBatch: number;
  /** The final status once done/error was seen. */
  finalStatus: RunStatus | null = null;
  lastIteration = 0;

  constructor(
    readonly store: Store,
    readonly runId: number,
    opts: RecorderOptions = {},
  ) {
    this.flushMs = opts.flushMs ?? 1000;
    this.maxBatch = opts.maxBatch ?? 1000;
    const run = store.getRun(runId);
    if (run) {
      this.bestValLoss = run.bestValLoss;
      this.mode = run.config.mode ?? 'text';
    }
  }

  /** Marks the run as running in this process (before the engine's first event). */
  begin(): void {
    this.store.updateRun(this.runId, { status: 'running', pid: process.pid, error: null, ended: null });
    const run = this.store.getRun(this.runId);
    if (run && run.started === null) this.store.updateRun(this.runId, { started: Date.now() });
  }

  handle(ev: TrainEvent): void {
    switch (ev.type) {
      case 'start': {
        this.mode = ev.config.mode;
        this.store.transaction(() => {
          // Resuming redoes everything after the checkpoint: drop rows a killed process left beyond it.
          this.store.deleteMetricsAfter(this.runId, ev.startIteration);
          this.store.updateRun(this.runId, {
            status: 'running',
            pid: process.pid,
            config: ev.config as TrainConfig,
            backend: ev.backend.backend,
            device: ev.backend.device,
            params: ev.params,
            totalIters: ev.totalIters,
            baselineValLoss: ev.baselineValLoss,
            iterations: ev.startIteration,
            error: null,
            ended: null,
          });
        });
        this.lastIteration = ev.startIteration;
        break;
      }
      case 'progress':
        this.metrics.push({
          iteration: ev.iteration,
          epoch: ev.epoch,
          trainLoss: ev.trainLoss,
          valLoss: null,
          lr: ev.lr,
          charsPerS: ev.charsPerS,
          elapsedS: ev.elapsedS,
        });
        this.lastIteration = ev.iteration;
        if (this.metrics.length >= this.maxBatch || Date.now() - this.lastFlush >= this.flushMs) this.flush();
        break;
      case 'eval':
        this.metrics.push({
          iteration: ev.iteration,
          epoch: ev.epoch,
          trainLoss: ev.trainLoss,
          valLoss: ev.valLoss,
          lr: null,
          charsPerS: null,
          elapsedS: null,
        });
        this.bestValLoss = ev.bestValLoss;
        this.lastIteration = Math.max(this.lastIteration, ev.iteration);
        this.flush();
        break;
      case 'sample':
        this.samples.push({
          runId: this.runId,
          source: 'training',
          iteration: ev.iteration,
          temperature: ev.temperature,
          mode: this.mode,
          text: ev.text,
        });
        if (Date.now() - this.lastFlush >= this.flushMs) this.flush();
        break;
      case 'checkpoint':
        this.flush(() => this.store.upsertCheckpoint(this.runId, ev.kind, ev.iteration, ev.valLoss, ev.path));
        break;
      case 'done': {
        const status: RunStatus = ev.reason === 'stopped' ? 'stopped' : 'completed';
        this.finalStatus = status;
        if (ev.bestValLoss !== null) this.bestValLoss = ev.bestValLoss;
        this.flush(() => this.store.updateRun(this.runId, { status, ended: Date.now(), pid: null, iterations: ev.iteration }));
        break;
      }
      case 'error':
        this.fail(ev.message);
        break;
    }
  }

  /** Writes what is buffered (and `extra`) in one transaction. */
  flush(extra?: () => void): void {
    const metrics = this.metrics;
    const samples = this.samples;
    this.metrics = [];
    this.samples = [];
    this.lastFlush = Date.now();
    if (!metrics.length && !samples.length && !extra) return;
    this.store.transaction(() => {
      this.store.writeMetricsNoTx(this.runId, metrics);
      if (samples.length) this.store.insertSamplesNoTx(samples);
      if (this.bestValLoss !== null) this.store.updateRun(this.runId, { bestValLoss: this.bestValLoss });
      extra?.();
    });
  }

  /** Marks the run failed with the error's text (keeping what was recorded). */
  fail(message: string): void {
    this.finalStatus = 'failed';
    this.flush(() => this.store.updateRun(this.runId, { status: 'failed', error: message, ended: Date.now(), pid: null }));
  }

  /** Interrupted in the foreground (Ctrl-C without a stop): leave it resumable. */
  interrupt(): void {
    if (this.finalStatus) return;
    this.finalStatus = 'interrupted';
    this.flush(() => this.store.updateRun(this.runId, { status: 'interrupted', ended: Date.now(), pid: null }));
  }
}
