/** The drafts table: the writing companion's documents, saved as the person types. */
import type { Draft } from './rows.ts';
import { now, num, type Row, type StoreBase } from './core.ts';

export function WithDrafts<B extends StoreBase>(Base: B) {
  return class Drafts extends Base {
    listDrafts(): Array<Omit<Draft, 'text'>> {
      return (this.sql(`SELECT id, title, run_id, updated FROM drafts ORDER BY updated DESC, id DESC`).all() as Row[]).map((r) => ({
        id: Number(r.id),
        title: String(r.title),
        runId: num(r.run_id),
        updated: Number(r.updated),
      }));
    }

    getDraft(id: number): Draft | null {
      const r = this.sql(`SELECT * FROM drafts WHERE id = ?`).get(id) as Row | undefined;
      return r ? { id: Number(r.id), title: String(r.title), text: String(r.text), runId: num(r.run_id), updated: Number(r.updated) } : null;
    }

    saveDraft(d: { id?: number; title: string; text: string; runId?: number | null }): Draft {
      const t = now();
      return this.guard('a draft', () => {
        if (d.id !== undefined && this.getDraft(d.id)) {
          this.sql(`UPDATE drafts SET title = @title, text = @text, run_id = @run_id, updated = @updated WHERE id = @id`).run({
            id: d.id,
            title: d.title,
            text: d.text,
            run_id: d.runId ?? null,
            updated: t,
          });
          return this.getDraft(d.id)!;
        }
        const id = Number(
          this.sql(`INSERT INTO drafts (title, text, run_id, updated) VALUES (@title, @text, @run_id, @updated)`).run({
            title: d.title,
            text: d.text,
            run_id: d.runId ?? null,
            updated: t,
          }).lastInsertRowid,
        );
        return this.getDraft(id)!;
      });
    }

    deleteDraft(id: number): number {
      return this.guard('a draft', () => this.sql(`DELETE FROM drafts WHERE id = ?`).run(id).changes);
    }
  };
}
