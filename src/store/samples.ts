/**
 * The samples table: what training printed and what the person generated and kept (the Gallery).
 * Deleting is soft (a timestamp) so it can be undone; purgeDeletedSamples removes what is past undo.
 */
import type { NameCard } from '../common/names.ts';
import type { NewSample, SampleQuery, SampleRow } from './rows.ts';
import type { CorpusMode } from '../common/enums.ts';
import { now, num, type Row, type StoreBase } from './core.ts';

const SAMPLE_SELECT = `SELECT s.*, r.name AS run_name FROM samples s LEFT JOIN runs r ON r.id = s.run_id`;

/** SQLite caps the variables of one statement; getSamples asks in chunks of this many ids. */
const IDS_PER_QUERY = 500;

const SAMPLE_ORDER = {
  newest: 's.created DESC, s.id DESC',
  oldest: 's.created ASC, s.id ASC',
  logprob: 's.logprob DESC NULLS LAST, s.id DESC',
  length: 'length(s.text) ASC, s.id ASC',
  alpha: 's.text COLLATE NOCASE ASC, s.id ASC',
} as const;

export function WithSamples<B extends StoreBase>(Base: B) {
  return class Samples extends Base {
    insertSamples(samples: NewSample[]): number[] {
      return this.transaction(() => this.insertSamplesNoTx(samples));
    }

    insertSamplesNoTx(samples: NewSample[]): number[] {
      const t = now();
      const insert = this
        .sql(`INSERT INTO samples (run_id, checkpoint_id, source, iteration, temperature, top_k, guidance, prime, mode, text, logprob, novelty, favorite, note, category, card, created)
        VALUES (@run_id, @checkpoint_id, @source, @iteration, @temperature, @top_k, @guidance, @prime, @mode, @text, @logprob, @novelty, @favorite, @note, @category, @card, @created)`);
      return samples.map((s) =>
        Number(
          insert.run({
            run_id: s.runId,
            checkpoint_id: s.checkpointId ?? null,
            source: s.source ?? 'generated',
            iteration: s.iteration ?? null,
            temperature: s.temperature ?? null,
            top_k: s.topK ?? null,
            guidance: s.guidance ?? null,
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
      for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
        const chunk = ids.slice(i, i + IDS_PER_QUERY);
        const rows = this.sql(`${SAMPLE_SELECT} WHERE s.deleted IS NULL AND s.id IN (${chunk.map(() => '?').join(',')}) ORDER BY s.id`).all(chunk) as Row[];
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
      const order = SAMPLE_ORDER[q.sort ?? 'newest'];
      const w = where.join(' AND ');
      const total = (this.sql(`SELECT count(*) AS n FROM samples s WHERE ${w}`).get(params) as { n: number }).n;
      const limit = Math.max(0, Math.min(q.limit ?? 1000, 100_000));
      const offset = Math.max(0, q.offset ?? 0);
      const rows = this.sql(`${SAMPLE_SELECT} WHERE ${w} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`).all(params) as Row[];
      return { items: rows.map(sampleFromRow), total };
    }

    setFavorite(id: number, favorite: boolean): number {
      return this.guard('a sample', () => this.sql(`UPDATE samples SET favorite = ? WHERE id = ? AND deleted IS NULL`).run(favorite ? 1 : 0, id).changes);
    }

    setNote(id: number, note: string): number {
      return this.guard('a sample', () => this.sql(`UPDATE samples SET note = ? WHERE id = ? AND deleted IS NULL`).run(note, id).changes);
    }

    softDeleteSamples(ids: number[]): number {
      const t = now();
      const softDelete = this.sql(`UPDATE samples SET deleted = ? WHERE id = ? AND deleted IS NULL`);
      return this.transaction(() => ids.reduce((n, id) => n + softDelete.run(t, id).changes, 0));
    }

    restoreSamples(ids: number[]): number {
      const restore = this.sql(`UPDATE samples SET deleted = NULL WHERE id = ? AND deleted IS NOT NULL`);
      return this.transaction(() => ids.reduce((n, id) => n + restore.run(id).changes, 0));
    }

    /** Removes soft-deleted samples older than the given age (undo no longer offered). */
    purgeDeletedSamples(olderThanMs: number): number {
      return this.guard('samples', () => this.sql(`DELETE FROM samples WHERE deleted IS NOT NULL AND deleted < ?`).run(now() - olderThanMs).changes);
    }
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
    guidance: num(r.guidance),
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
