/** The metrics table: training and validation loss, learning rate and speed per iteration of a run. */
import type { MetricRow } from './rows.ts';
import { num, type Row, type StoreBase } from './core.ts';

/** A point to write: a val loss at an iteration that already has a row merges into it. */
export type MetricPoint = MetricRow;

export function WithMetrics<B extends StoreBase>(Base: B) {
  return class Metrics extends Base {
    /** Writes many metric points in one transaction; a val loss at the same iteration merges into its row. */
    writeMetrics(runId: number, points: MetricPoint[]): void {
      if (!points.length) return;
      this.transaction(() => this.writeMetricsNoTx(runId, points));
    }

    writeMetricsNoTx(runId: number, points: MetricPoint[]): void {
      const upsert = this.sql(`INSERT INTO metrics (run_id, iteration, epoch, train_loss, val_loss, lr, chars_per_s, elapsed_s)
        VALUES (@run_id, @iteration, @epoch, @train_loss, @val_loss, @lr, @chars_per_s, @elapsed_s)
        ON CONFLICT (run_id, iteration) DO UPDATE SET
          epoch = excluded.epoch,
          train_loss = coalesce(excluded.train_loss, train_loss),
          val_loss = coalesce(excluded.val_loss, val_loss),
          lr = coalesce(excluded.lr, lr),
          chars_per_s = coalesce(excluded.chars_per_s, chars_per_s),
          elapsed_s = coalesce(excluded.elapsed_s, elapsed_s)`);
      let maxIter = -1;
      for (const p of points) {
        upsert.run({
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
      if (maxIter >= 0) this.sql(`UPDATE runs SET iterations = max(iterations, ?) WHERE id = ?`).run(maxIter, runId);
    }

    listMetrics(runId: number, afterIteration = -1): MetricRow[] {
      return (this.sql(`SELECT * FROM metrics WHERE run_id = ? AND iteration > ? ORDER BY iteration`).all(runId, afterIteration) as Row[]).map(metricFromRow);
    }

    lastMetricIteration(runId: number): number | null {
      const r = this.sql(`SELECT max(iteration) AS it FROM metrics WHERE run_id = ?`).get(runId) as { it: number | null };
      return r.it;
    }

    deleteMetricsAfter(runId: number, iteration: number): number {
      return this.guard('metrics', () => this.sql(`DELETE FROM metrics WHERE run_id = ? AND iteration > ?`).run(runId, iteration).changes);
    }
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
