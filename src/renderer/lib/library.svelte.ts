/**
 * The Library's state: the corpora, the one shown, and an import in progress (pick or drop a file,
 * see its guessed mode, change it, import with a progress bar).
 */
import type { Api, BabyNameFilter, BuiltinCorpusInfo, CorpusDetail, CorpusSummary, ImportResult, TablePreview } from '../../api/index.ts';
import type { Platform } from './client.ts';
import type { CorpusMode } from '../../common/enums.ts';

/** A file or pasted text waiting for the person to confirm name and mode. */
export interface PendingImport {
  kind: 'path' | 'file' | 'text';
  name: string;
  bytes: number;
  mode: CorpusMode;
  guessedMode: CorpusMode;
  head: string;
  path?: string;
  file?: File;
  text?: string;
  /** A CSV/TSV list: its header and first rows, the name column and the category columns chosen. */
  table?: TablePreview;
  nameColumn?: string;
  categories?: string[];
}

/** The subset form of the US baby names. */
export interface SubsetForm {
  sex: '' | 'F' | 'M';
  since: number | null;
  until: number | null;
  minBirths: number | null;
  categories: string[];
}

const isTable = (name: string) => /\.(csv|tsv)$/i.test(name);

export interface ImportState {
  name: string;
  phase: 'uploading' | 'importing';
  /** 0..1, or null when unknown. */
  fraction: number | null;
}

let importCounter = 0;

export class LibraryState {
  corpora = $state.raw<CorpusSummary[]>([]);
  selectedId = $state<number | null>(null);
  detail = $state.raw<CorpusDetail | null>(null);
  pending = $state<PendingImport | null>(null);
  importing = $state<ImportState | null>(null);
  loading = $state(false);
  /** The last import's error, shown next to the import controls (the engine's message, as it is). */
  importError = $state<{ code: string; message: string } | null>(null);
  builtins = $state.raw<BuiltinCorpusInfo[]>([]);
  subset = $state<SubsetForm>({ sex: '', since: null, until: null, minBirths: null, categories: ['sex', 'decade'] });
  /** How many names the subset keeps, or the reason it keeps none. */
  subsetCount = $state<{ items: number; names: number } | null>(null);
  subsetError = $state<string | null>(null);

  #api: Api;
  #platform: Platform;
  #importId: string | null = null;

  constructor(platform: Platform) {
    this.#platform = platform;
    this.#api = platform.api;
    this.#api.on.importProgress((p) => {
      if (!this.importing || p.importId !== this.#importId) return;
      this.importing = { ...this.importing, phase: 'importing', fraction: p.totalBytes > 0 ? p.bytesRead / p.totalBytes : null };
    });
    this.#api.on.libraryChanged(() => void this.refresh());
  }

  get selected(): CorpusSummary | null {
    return this.corpora.find((c) => c.id === this.selectedId) ?? null;
  }

  async refresh(): Promise<void> {
    this.loading = true;
    try {
      this.corpora = await this.#api.library.list();
      if (!this.builtins.length) this.builtins = await this.#api.library.builtins();
      if (this.selectedId === null && this.corpora.length) await this.select(this.corpora[0]!.id);
      else if (this.selectedId !== null && !this.corpora.some((c) => c.id === this.selectedId)) {
        this.selectedId = null;
        this.detail = null;
        if (this.corpora.length) await this.select(this.corpora[0]!.id);
      }
    } finally {
      this.loading = false;
    }
  }

  async select(id: number): Promise<void> {
    this.selectedId = id;
    const detail = await this.#api.library.get({ id });
    if (this.selectedId === id) this.detail = detail;
  }

  /** A File from the file picker or a drop. In Electron, by its path; in browser mode, uploaded. */
  async stageFile(file: File): Promise<void> {
    this.importError = null;
    const path = this.#platform.pathForFile(file);
    if (path) return this.stagePath(path);
    if (isTable(file.name)) {
      // A list is small: read whole, previewed and imported as text with its columns.
      const text = await readText(file);
      this.pending = { kind: 'text', name: stripExt(file.name), bytes: file.size, mode: 'lines', guessedMode: 'lines', head: text.slice(0, 4000), text };
      await this.#stageTable(await this.#api.library.previewTable({ text, name: file.name }));
      return;
    }
    const head = await readText(file.slice(0, 64 * 1024));
    const guessedMode = await this.#api.library.guessMode({ text: head });
    this.pending = { kind: 'file', name: stripExt(file.name), bytes: file.size, mode: guessedMode, guessedMode, head: head.slice(0, 4000), file };
  }

  async stagePath(path: string): Promise<void> {
    this.importError = null;
    const info = await this.#api.library.inspectFile({ path });
    this.pending = { kind: 'path', name: info.name, bytes: info.bytes, mode: info.guessedMode, guessedMode: info.guessedMode, head: info.head, path };
    if (isTable(path)) await this.#stageTable(await this.#api.library.previewTable({ path }));
  }

  /** A CSV/TSV: a list whose name column and category columns the person chooses. */
  async #stageTable(table: TablePreview): Promise<void> {
    if (!this.pending) return;
    const nameIdx = Math.max(
      0,
      table.header.findIndex((h) => /^(name|title|brand|item)s?$/i.test(h)),
    );
    this.pending = { ...this.pending, mode: 'lines', guessedMode: 'lines', table, nameColumn: table.header[nameIdx]!, categories: [] };
  }

  toggleCategoryColumn(col: string): void {
    const p = this.pending;
    if (!p?.table) return;
    const cats = p.categories ?? [];
    this.pending = { ...p, categories: cats.includes(col) ? cats.filter((c) => c !== col) : [...cats, col] };
  }

  async stageText(text: string, name: string): Promise<void> {
    this.importError = null;
    const guessedMode = await this.#api.library.guessMode({ text: text.slice(0, 64 * 1024) });
    this.pending = {
      kind: 'text',
      name: name || 'Pasted text',
      bytes: new TextEncoder().encode(text).length,
      mode: guessedMode,
      guessedMode,
      head: text.slice(0, 4000),
      text,
    };
  }

  cancelPending(): void {
    this.pending = null;
  }

  /** Imports the pending file or text; returns the result, or null after showing the error. */
  async confirmImport(): Promise<ImportResult | null> {
    const p = this.pending;
    if (!p || this.importing) return null;
    const importId = `import-${Date.now()}-${++importCounter}`;
    this.#importId = importId;
    this.importError = null;
    this.importing = { name: p.name, phase: p.kind === 'file' ? 'uploading' : 'importing', fraction: 0 };
    try {
      let r: ImportResult;
      const columns = p.table ? { categories: p.categories ?? [], ...(p.nameColumn ? { nameColumn: p.nameColumn } : {}) } : {};
      if (p.kind === 'path') r = await this.#api.library.importFile({ path: p.path!, name: p.name, mode: p.mode, importId, ...columns });
      // A table (CSV/TSV with chosen columns) goes as text in every shell: the upload carries no columns.
      else if (p.kind === 'text' && (p.table || this.#platform.shell !== 'browser'))
        r = await this.#api.library.importText({ text: p.text!, name: p.name, mode: p.mode, importId, ...columns });
      else
        // Browser mode sends pasted text as an upload too: the WebSocket takes no message larger
        // than a long draft (src/server/index.ts, MAX_MESSAGE_BYTES), and a paste can be 50 MB.
        r = await this.#platform.uploadFile(p.kind === 'text' ? new File([p.text!], `${p.name}.txt`, { type: 'text/plain' }) : p.file!, {
          name: p.name,
          mode: p.mode,
          importId,
          onProgress: (sent, total) => {
            if (this.importing?.phase === 'uploading') this.importing = { ...this.importing, fraction: total ? sent / total : null };
          },
        });
      this.pending = null;
      this.corpora = await this.#api.library.list();
      await this.select(r.corpus.id);
      return r;
    } catch (e) {
      const err = e as { code?: string; message?: string };
      this.importError = { code: err.code ?? 'INTERNAL', message: err.message ?? String(e) };
      return null;
    } finally {
      this.importing = null;
      this.#importId = null;
    }
  }

  /** A built-in corpus (with all its category columns) in the library, selected. */
  async openBuiltin(info: BuiltinCorpusInfo): Promise<CorpusSummary> {
    const r = await this.#api.library.builtin({ id: info.id as 'us-baby-names' | 'startup-names' | 'names', categories: info.categoryColumns });
    this.corpora = await this.#api.library.list();
    await this.select(r.corpus.id);
    return r.corpus;
  }

  subsetFilter(): BabyNameFilter {
    const f = this.subset;
    return {
      ...(f.sex ? { sex: f.sex } : {}),
      ...(f.since !== null ? { since: f.since } : {}),
      ...(f.until !== null ? { until: f.until } : {}),
      ...(f.minBirths !== null ? { minBirths: f.minBirths } : {}),
    };
  }

  /** How many baby names the subset keeps (or why none). */
  async countSubset(): Promise<void> {
    try {
      this.subsetCount = await this.#api.library.countBabyNames({ filter: this.subsetFilter() });
      this.subsetError = null;
    } catch (e) {
      this.subsetCount = null;
      this.subsetError = (e as Error).message;
    }
  }

  /** The subset as a corpus in the library (made once, found again after); null with the reason shown. */
  async makeSubset(): Promise<CorpusSummary | null> {
    try {
      const r = await this.#api.library.builtin({ id: 'us-baby-names', categories: this.subset.categories, filter: this.subsetFilter() });
      this.subsetError = null;
      this.corpora = await this.#api.library.list();
      return r.corpus;
    } catch (e) {
      this.subsetError = (e as Error).message;
      return null;
    }
  }

  async rename(id: number, name: string): Promise<void> {
    await this.#api.library.rename({ id, name });
    await this.refresh();
    if (this.selectedId === id) await this.select(id);
  }

  async remove(id: number, force = false): Promise<void> {
    await this.#api.library.remove({ id, force });
    if (this.selectedId === id) {
      this.selectedId = null;
      this.detail = null;
    }
    await this.refresh();
  }
}

function stripExt(name: string): string {
  return name.replace(/\.[^.]+$/, '') || name;
}

/** Blob.text(), with a FileReader fallback for older engines (and jsdom). */
export function readText(blob: Blob): Promise<string> {
  if (typeof blob.text === 'function') return blob.text();
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsText(blob);
  });
}
