/** The gallery: generated (and training) texts, favourites, notes, undoable delete, export. */
import type { Store } from '../store/store.ts';
import { notFound } from './library.ts';
import type { ExportFormat, GalleryService, SampleRow } from './types.ts';

const EXPORT_COLUMNS: Array<keyof SampleRow> = [
  'id',
  'text',
  'runId',
  'runName',
  'source',
  'iteration',
  'temperature',
  'topK',
  'guidance',
  'prime',
  'mode',
  'logprob',
  'novelty',
  'favorite',
  'note',
  'created',
];

/** Name-card columns of the CSV export (empty for samples without a card). */
const CARD_COLUMNS: Array<[string, (r: SampleRow) => unknown]> = [
  [
    'category',
    (r) =>
      r.category
        ? Object.entries(r.category)
            .map(([k, v]) => `${k}=${v}`)
            .join('; ')
        : null,
  ],
  ['known', (r) => (r.card ? Boolean(r.card.known) : null)],
  ['births', (r) => r.card?.known?.births ?? null],
  ['peakYear', (r) => r.card?.known?.peakYear ?? null],
  ['sex', (r) => r.card?.known?.sex ?? null],
  ['syllables', (r) => r.card?.syllables ?? null],
  ['nearestBrand', (r) => r.card?.brands?.nearest[0]?.name ?? null],
  ['brandWarning', (r) => r.card?.brands?.warning ?? null],
  ['meanLogprob', (r) => r.card?.likelihood?.meanLogprob ?? null],
];

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatSamples(rows: SampleRow[], format: ExportFormat): string {
  switch (format) {
    case 'json':
      return (
        JSON.stringify(
          rows.map((r) => ({ ...r, created: new Date(r.created).toISOString() })),
          null,
          2,
        ) + '\n'
      );
    case 'csv': {
      const lines = [[...EXPORT_COLUMNS, ...CARD_COLUMNS.map(([h]) => h)].join(',')];
      for (const r of rows) {
        const base = EXPORT_COLUMNS.map((c) => csvCell(c === 'created' ? new Date(r.created).toISOString() : r[c]));
        lines.push([...base, ...CARD_COLUMNS.map(([, f]) => csvCell(f(r)))].join(','));
      }
      return lines.join('\r\n') + '\r\n';
    }
    case 'txt':
      // Names one a line; longer texts separated by a blank line.
      return rows.every((r) => r.mode === 'lines' && !r.text.includes('\n'))
        ? rows.map((r) => r.text).join('\n') + (rows.length ? '\n' : '')
        : rows.map((r) => r.text.replace(/\n+$/, '')).join('\n\n') + (rows.length ? '\n' : '');
  }
}

export function createGalleryService(store: Store): GalleryService {
  /** Unknown run or checkpoint ids are the caller's mistake (NOT_FOUND), not a foreign-key failure. */
  const checkRefs = (samples: Array<{ runId: number | null; checkpointId?: number | null }>) => {
    const runs = new Set<number>();
    for (const s of samples) {
      if (s.runId !== null && !runs.has(s.runId)) {
        if (!store.getRun(s.runId)) throw notFound('run', s.runId);
        runs.add(s.runId);
      }
      if (s.checkpointId !== undefined && s.checkpointId !== null && !store.checkpointExists(s.checkpointId)) throw notFound('checkpoint', s.checkpointId);
    }
  };
  return {
    async listSamples(q) {
      return store.listSamples(q);
    },
    async saveSample(s) {
      checkRefs([s]);
      const [id] = store.insertSamples([s]);
      return store.getSamples([id!])[0]!;
    },
    async saveSamples(s) {
      checkRefs(s);
      return store.getSamples(store.insertSamples(s));
    },
    async setFavorite(id, favorite) {
      if (!store.setFavorite(id, favorite)) throw notFound('sample', id);
    },
    async setNote(id, note) {
      if (!store.setNote(id, note)) throw notFound('sample', id);
    },
    async deleteSamples(ids) {
      return store.softDeleteSamples(ids);
    },
    async restoreSamples(ids) {
      return store.restoreSamples(ids);
    },
    async exportSamples(ids, format) {
      const rows = ids === 'all' ? store.listSamples({ sort: 'oldest', limit: 100_000 }).items : store.getSamples(ids);
      return formatSamples(rows, format);
    },
  };
}
