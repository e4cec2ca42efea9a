/** The corpora table: one row per imported text or list (its file lives under corpora/<hash>.txt). */
import type { CategoryColumnSummary, CorpusSummary } from './rows.ts';
import type { CorpusMode } from '../common/enums.ts';
import { now, type Row, type StoreBase } from './core.ts';

/** What adding a corpus takes: its summary without what the store sets, plus its character counts. */
export type NewCorpus = Pick<CorpusSummary, 'name' | 'mode' | 'bytes' | 'chars' | 'vocabSize' | 'lines' | 'hash' | 'sourcePath'> &
  Partial<Pick<CorpusSummary, 'builtin' | 'builtinId' | 'categories'>> & {
    charCounts: Record<string, number>;
  };

/** A corpus with the number of its runs (char counts are read apart: they can be large). */
const CORPUS_SELECT = `SELECT c.id, c.name, c.mode, c.bytes, c.chars, c.vocab_size, c.lines, c.hash, c.source_path, c.builtin, c.builtin_id, c.categories, c.created,
    (SELECT count(*) FROM runs r WHERE r.corpus_id = c.id) AS run_count FROM corpora c`;

export function WithCorpora<B extends StoreBase>(Base: B) {
  return class Corpora extends Base {
    insertCorpus(c: NewCorpus): CorpusSummary {
      const id = this.guard('a corpus row', () =>
        Number(
          this.sql(
            `INSERT INTO corpora (name, mode, bytes, chars, vocab_size, lines, hash, source_path, builtin, char_counts, categories, builtin_id, created)
            VALUES (@name, @mode, @bytes, @chars, @vocab_size, @lines, @hash, @source_path, @builtin, @char_counts, @categories, @builtin_id, @created)`,
          ).run({
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
      const r = this.sql(`${CORPUS_SELECT} WHERE c.id = ?`).get(id) as Row | undefined;
      return r ? corpusFromRow(r) : null;
    }

    getCorpusByHash(hash: string): CorpusSummary | null {
      const r = this.sql(`${CORPUS_SELECT} WHERE c.hash = ?`).get(hash) as Row | undefined;
      return r ? corpusFromRow(r) : null;
    }

    getCharCounts(id: number): Record<string, number> {
      const r = this.sql(`SELECT char_counts FROM corpora WHERE id = ?`).get(id) as { char_counts: string } | undefined;
      return r ? (JSON.parse(r.char_counts) as Record<string, number>) : {};
    }

    listCorpora(): CorpusSummary[] {
      return (this.sql(`${CORPUS_SELECT} ORDER BY c.builtin DESC, c.created DESC, c.id DESC`).all() as Row[]).map(corpusFromRow);
    }

    renameCorpus(id: number, name: string): void {
      this.guard('a corpus name', () => this.sql(`UPDATE corpora SET name = ? WHERE id = ?`).run(name, id));
    }

    deleteCorpusRow(id: number): void {
      this.guard('the library database', () => this.sql(`DELETE FROM corpora WHERE id = ?`).run(id));
    }
  };
}

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
