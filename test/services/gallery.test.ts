import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../src/services/index.ts';
import { tempDir } from '../store/helpers.ts';
import { contract } from '../../src/api/contract.ts';
import { MAX_GUIDANCE } from '../../src/common/samples.ts';

let s: Services;
let d: string;
afterEach(async () => {
  await s.close();
  fs.rmSync(d, { recursive: true, force: true });
});

async function seeded() {
  d = tempDir();
  s = await createServices({ dataDir: d });
  const saved = await s.gallery.saveSamples([
    { runId: null, mode: 'lines', text: 'Marabel', logprob: -9.5, novelty: 'new', temperature: 0.8 },
    { runId: null, mode: 'lines', text: 'Anna', logprob: -4.1, novelty: 'train', temperature: 0.8 },
    { runId: null, mode: 'lines', text: 'Zoë, "the" second', logprob: -12, novelty: 'new', temperature: 1 },
    { runId: null, mode: 'text', text: 'To be, or not\nto be', prime: 'To be', temperature: 0.5 },
  ]);
  return saved;
}

describe('gallery', () => {
  it('lists, searches (case-insensitively, in notes too), filters favourites and sorts', async () => {
    const [m, a, z] = await seeded();
    expect((await s.gallery.listSamples()).total).toBe(4);
    await s.gallery.setFavorite(m!.id, true);
    await s.gallery.setNote(z!.id, 'for the cat');
    expect((await s.gallery.listSamples({ favorite: true })).items.map((x) => x.text)).toEqual(['Marabel']);
    expect((await s.gallery.listSamples({ search: 'ANN' })).items.map((x) => x.text)).toEqual(['Anna']);
    expect((await s.gallery.listSamples({ search: 'cat' })).items.map((x) => x.id)).toEqual([z!.id]);
    expect((await s.gallery.listSamples({ search: '%' })).total).toBe(0);
    expect((await s.gallery.listSamples({ sort: 'logprob' })).items[0]!.id).toBe(a!.id);
    expect((await s.gallery.listSamples({ sort: 'alpha' })).items.map((x) => x.text)[0]).toBe('Anna');
    expect((await s.gallery.listSamples({ sort: 'length', limit: 1 })).items.map((x) => x.text)).toEqual(['Anna']);
    await expect(s.gallery.setFavorite(12345, true)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('deletes with undo', async () => {
    const [m, a] = await seeded();
    expect(await s.gallery.deleteSamples([m!.id, a!.id])).toBe(2);
    expect((await s.gallery.listSamples()).total).toBe(2);
    expect(await s.gallery.restoreSamples([m!.id])).toBe(1);
    expect((await s.gallery.listSamples()).items.map((x) => x.text)).toContain('Marabel');
  });

  it('exports CSV, JSON and plain text', async () => {
    const rows = await seeded();
    const ids = rows.map((r) => r.id);
    const csv = await s.gallery.exportSamples(ids, 'csv');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^id,text,runId/);
    expect(csv).toContain('"Zoë, ""the"" second"');
    expect(csv).toContain('"To be, or not\nto be"');
    const json = JSON.parse(await s.gallery.exportSamples(ids, 'json')) as Array<{ text: string; created: string }>;
    expect(json.map((r) => r.text)).toEqual(rows.map((r) => r.text));
    expect(json[0]!.created).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await s.gallery.exportSamples(ids.slice(0, 2), 'txt')).toBe('Marabel\nAnna\n');
    expect(await s.gallery.exportSamples('all', 'txt')).toContain('To be, or not\nto be\n');
  });

  it('keeps the guidance and category a name was generated with, and exports them', async () => {
    await seeded();
    const [boy] = await s.gallery.saveSamples([
      { runId: null, mode: 'lines', text: 'Arlo', temperature: 0.9, guidance: 2.5, category: { sex: 'M' }, novelty: 'new' },
    ]);
    const unguided = (await s.gallery.listSamples({ search: 'Marabel' })).items[0]!;
    expect(unguided.guidance).toBeNull();
    const kept = (await s.gallery.listSamples({ search: 'Arlo' })).items[0]!;
    expect(kept).toMatchObject({ guidance: 2.5, temperature: 0.9, category: { sex: 'M' } });
    const [header, row] = (await s.gallery.exportSamples([boy!.id], 'csv')).trimEnd().split('\r\n');
    const cells = Object.fromEntries(header!.split(',').map((h, i) => [h, row!.split(',')[i]]));
    expect(cells).toMatchObject({ text: 'Arlo', temperature: '0.9', guidance: '2.5', category: 'sex=M' });
    // The API refuses what sampling would refuse.
    const save = contract.gallery.save.input;
    expect(save.safeParse({ runId: null, mode: 'lines', text: 'x', guidance: MAX_GUIDANCE + 1 }).success).toBe(false);
    expect(save.safeParse({ runId: null, mode: 'lines', text: 'x', guidance: -1 }).success).toBe(false);
    expect(save.safeParse({ runId: null, mode: 'lines', text: 'x', guidance: null }).success).toBe(true);
  });
});
