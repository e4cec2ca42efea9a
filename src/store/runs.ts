/** The runs table: one row per training run (its checkpoints live under runs/<id>/). */
import fs from 'node:fs';
import path from 'node:path';
import type { TrainConfig } from '../common/options.ts';
import { ACTIVE_RUN_STATUSES } from '../common/enums.ts';
import type { RunStatus } from '../common/enums.ts';
import type { RunSummary } from './rows.ts';
import { CHECKPOINT_FILES } from '../common/checkpoint-format.ts';
import { now, num, type Row, type StoreBase } from './core.ts';

export interface NewRun {
  corpusId: number;
  name: string;
  config: TrainConfig | Partial<TrainConfig>;
  status?: RunStatus;
  parentRunId?: number | null;
  totalIters?: number | null;
}

/** The fields updateRun may set, and their columns. */
const RUN_COLUMNS = {
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
} as const;

export type RunUpdate = Partial<
  Pick<
    RunSummary,
    | 'status'
    | 'name'
    | 'config'
    | 'backend'
    | 'device'
    | 'params'
    | 'iterations'
    | 'totalIters'
    | 'bestValLoss'
    | 'baselineValLoss'
    | 'error'
    | 'started'
    | 'ended'
  > & {
    /** The training process writing this run (for crash recovery). */
    pid: number | null;
  }
>;

const RUN_SELECT = `SELECT r.*, c.name AS corpus_name FROM runs r JOIN corpora c ON c.id = r.corpus_id`;

export function WithRuns<B extends StoreBase>(Base: B) {
  return class Runs extends Base {
    createRun(r: NewRun): RunSummary {
      const id = this.guard('a run row', () =>
        Number(
          this.sql(
            `INSERT INTO runs (corpus_id, name, config, status, parent_run_id, total_iters, created)
            VALUES (@corpus_id, @name, @config, @status, @parent_run_id, @total_iters, @created)`,
          ).run({
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
      const r = this.sql(`${RUN_SELECT} WHERE r.id = ?`).get(id) as Row | undefined;
      return r ? this.runFromRow(r) : null;
    }

    listRuns(filter: { corpusId?: number; status?: RunStatus } = {}): RunSummary[] {
      const rows = this.sql(
        `${RUN_SELECT} WHERE (@corpus_id IS NULL OR r.corpus_id = @corpus_id) AND (@status IS NULL OR r.status = @status)
        ORDER BY r.created DESC, r.id DESC`,
      ).all({ corpus_id: filter.corpusId ?? null, status: filter.status ?? null }) as Row[];
      return rows.map((r) => this.runFromRow(r));
    }

    /** Raw status/pid of runs that claim to be alive (for recovery). */
    activeRunRows(): Array<{ id: number; status: RunStatus; pid: number | null; created: number }> {
      return this.sql(`SELECT id, status, pid, created FROM runs WHERE status IN (${ACTIVE_RUN_STATUSES.map((s) => `'${s}'`).join(', ')})`).all() as Array<{
        id: number;
        status: RunStatus;
        pid: number | null;
        created: number;
      }>;
    }

    allRunIds(): number[] {
      return (this.sql(`SELECT id FROM runs`).all() as Array<{ id: number }>).map((r) => r.id);
    }

    updateRun(id: number, fields: RunUpdate): void {
      const sets: string[] = [];
      const params: Record<string, unknown> = { id };
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined || !(k in RUN_COLUMNS)) continue;
        sets.push(`${RUN_COLUMNS[k as keyof typeof RUN_COLUMNS]} = @${k}`);
        params[k] = k === 'config' ? JSON.stringify(v) : v;
      }
      if (!sets.length) return;
      this.guard('a run row', () => this.sql(`UPDATE runs SET ${sets.join(', ')} WHERE id = @id`).run(params));
    }

    /** Removes a run and its training samples (its metrics and checkpoints go with it by foreign key). */
    deleteRunRows(id: number): void {
      this.transaction(() => {
        this.sql(`DELETE FROM samples WHERE run_id = ? AND source = 'training'`).run(id);
        this.sql(`DELETE FROM runs WHERE id = ?`).run(id);
      });
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
        resumable: fs.existsSync(path.join(this.runDir(id), 'latest', CHECKPOINT_FILES.model)),
      };
    }
  };
}
