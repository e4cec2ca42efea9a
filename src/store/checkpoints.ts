/** The checkpoints table: a run's best and latest checkpoint folders (paths relative to the data directory). */
import type { CheckpointRow } from './rows.ts';
import { now, num, type Row, type StoreBase } from './core.ts';

export function WithCheckpoints<B extends StoreBase>(Base: B) {
  return class Checkpoints extends Base {
    upsertCheckpoint(runId: number, kind: 'best' | 'latest', iteration: number, valLoss: number | null, dir: string): void {
      this.guard('a checkpoint row', () =>
        this.sql(
          `INSERT INTO checkpoints (run_id, kind, iteration, val_loss, path, created)
          VALUES (@run_id, @kind, @iteration, @val_loss, @path, @created)
          ON CONFLICT (run_id, kind) DO UPDATE SET iteration = excluded.iteration, val_loss = excluded.val_loss,
            path = excluded.path, created = excluded.created`,
        ).run({ run_id: runId, kind, iteration, val_loss: valLoss, path: this.relPath(dir), created: now() }),
      );
    }

    checkpointExists(id: number): boolean {
      return this.sql(`SELECT 1 FROM checkpoints WHERE id = ?`).get(id) !== undefined;
    }

    listCheckpoints(runId: number): CheckpointRow[] {
      return (this.sql(`SELECT * FROM checkpoints WHERE run_id = ? ORDER BY kind`).all(runId) as Row[]).map((r) => ({
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
      this.guard('a checkpoint row', () => this.sql(`DELETE FROM checkpoints WHERE id = ?`).run(id));
    }
  };
}
