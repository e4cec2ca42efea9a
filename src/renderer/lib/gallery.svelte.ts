/**
 * The Gallery view's state: everything kept, across models; search, filter by model or tag, sort,
 * selection, delete with undo, export (a download of CSV / JSON / text), notes and favourites.
 */
import type { Api, SampleRow } from '../../api/index.ts';
import type { ExportFormat, SampleSort } from '../../common/enums.ts';

export type GalleryTag = 'all' | 'favorite' | 'generated' | 'training' | 'new' | 'shortlist';

/** Rows per request while loading every match. */
const PAGE = 5000;
/** A ceiling on what the Gallery holds in memory (the contract's largest export). */
const MAX_ITEMS = 100_000;

const MIME: Record<ExportFormat, string> = { csv: 'text/csv', json: 'application/json', txt: 'text/plain' };

export class GalleryState {
  items = $state.raw<SampleRow[]>([]);
  total = $state(0);
  search = $state('');
  runId = $state<number | null>(null);
  /** Kept (generated) texts by default; the samples printed during training on request. */
  tag = $state<GalleryTag>('generated');
  sort = $state<SampleSort>('newest');
  selected = $state.raw<Set<number>>(new Set());
  /** The ids of the last delete, for undo. */
  lastDeleted = $state.raw<number[]>([]);
  loading = $state(false);
  /** The kept item whose name card is open (list view). */
  cardOf = $state.raw<SampleRow | null>(null);

  /** The models that have kept items (for the filter). */
  runs = $state.raw<Array<{ id: number; name: string }>>([]);

  #api: Api;
  #seq = 0;
  constructor(api: Api) {
    this.#api = api;
  }

  async refresh(): Promise<void> {
    const seq = ++this.#seq;
    this.loading = true;
    try {
      const query = {
        ...(this.search.trim() ? { search: this.search.trim() } : {}),
        ...(this.runId !== null ? { runId: this.runId } : {}),
        ...(this.tag === 'favorite' ? { favorite: true } : {}),
        ...(this.tag === 'generated' || this.tag === 'training' ? { source: this.tag } : {}),
        ...(this.tag === 'shortlist' ? { shortlist: true } : {}),
        sort: this.sort,
      };
      // Every match, page by page: the view is virtualized (only the rows in view are in the DOM),
      // while selection, "select all" and export work over all matching items.
      let all: SampleRow[] = [];
      let total = 0;
      for (;;) {
        const r = await this.#api.gallery.list({ ...query, limit: PAGE, offset: all.length });
        if (seq !== this.#seq) return;
        all = all.length ? all.concat(r.items) : r.items;
        total = r.total;
        if (!r.items.length || r.items.length < PAGE || all.length >= r.total || all.length >= MAX_ITEMS) break;
      }
      this.items = this.tag === 'new' ? all.filter((i) => i.novelty === 'new') : all;
      this.total = this.tag === 'new' ? this.items.length : Math.max(total, this.items.length);
      const ids = new Set(this.items.map((i) => i.id));
      this.selected = new Set([...this.selected].filter((id) => ids.has(id)));
      if (this.runId === null) {
        const seen = new Map<number, string>();
        for (const i of all) if (i.runId !== null && !seen.has(i.runId)) seen.set(i.runId, i.runName ?? `run ${i.runId}`);
        // Keep models seen before, so a filter never removes its own option.
        for (const x of this.runs) if (!seen.has(x.id)) seen.set(x.id, x.name);
        this.runs = [...seen].map(([id, name]) => ({ id, name }));
      }
    } finally {
      if (seq === this.#seq) this.loading = false;
    }
  }

  toggle(id: number, on?: boolean): void {
    const s = new Set(this.selected);
    if (on ?? !s.has(id)) s.add(id);
    else s.delete(id);
    this.selected = s;
  }

  selectAll(on: boolean): void {
    this.selected = on ? new Set(this.items.map((i) => i.id)) : new Set();
  }

  async setFavorite(row: SampleRow, favorite: boolean): Promise<void> {
    await this.#api.gallery.setFavorite({ id: row.id, favorite });
    this.items = this.items.map((i) => (i.id === row.id ? { ...i, favorite } : i));
  }

  async setNote(row: SampleRow, note: string): Promise<void> {
    await this.#api.gallery.setNote({ id: row.id, note });
    this.items = this.items.map((i) => (i.id === row.id ? { ...i, note } : i));
  }

  /** Deletes the given ids (default: the selection); undo() brings them back. */
  async remove(ids: number[] = [...this.selected]): Promise<number> {
    if (!ids.length) return 0;
    const n = await this.#api.gallery.remove({ ids });
    this.lastDeleted = ids;
    this.selected = new Set();
    await this.refresh();
    return n;
  }

  async undo(): Promise<void> {
    const ids = this.lastDeleted;
    if (!ids.length) return;
    await this.#api.gallery.restore({ ids });
    this.lastDeleted = [];
    await this.refresh();
  }

  /** The export's content: the selection, or everything shown when nothing is selected. */
  async exportContent(format: ExportFormat): Promise<{ content: string; filename: string; mime: string; count: number }> {
    const ids = this.selected.size ? this.items.filter((i) => this.selected.has(i.id)).map((i) => i.id) : this.items.map((i) => i.id);
    const content = ids.length ? await this.#api.gallery.export({ ids, format }) : '';
    const stamp = new Date().toISOString().slice(0, 10);
    return { content, filename: `charmer-gallery-${stamp}.${format}`, mime: MIME[format], count: ids.length };
  }
}

/** Offers text as a file download (browser mode and Electron alike: no save dialog in the contract). */
export function download(content: string, filename: string, mime: string): void {
  const url = URL.createObjectURL(new Blob([content], { type: `${mime};charset=utf-8` }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
