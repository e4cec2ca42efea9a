import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import GalleryView from '../../src/renderer/views/GalleryView.svelte';
import { AppState } from '../../src/renderer/lib/app.svelte.ts';
import type { SampleRow } from '../../src/api/index.ts';
import { fakePlatform } from './fake-platform.ts';

function sample(id: number, text: string, extra: Partial<SampleRow> = {}): SampleRow {
  return {
    id,
    runId: 1,
    runName: 'names lstm',
    checkpointId: 1,
    source: 'generated',
    iteration: 300,
    temperature: 0.8,
    topK: null,
    guidance: null,
    prime: null,
    mode: 'lines',
    text,
    logprob: -id,
    novelty: 'new',
    favorite: true,
    note: '',
    category: null,
    card: null,
    created: 1_700_000_000_000 + id,
    ...extra,
  };
}

function withGallery(
  rows = [
    sample(1, 'Marabel'),
    sample(2, 'Anna', { novelty: 'train', favorite: false }),
    sample(3, 'Zoë', { runId: 2, runName: 'other run', guidance: 2.5, category: { sex: 'F' } }),
    sample(4, 'Once upon a time', { mode: 'text', source: 'training', novelty: null }),
  ],
) {
  const fake = fakePlatform();
  const deleted = new Set<number>();
  const gallery = {
    list: vi.fn(async (q: { search?: string; runId?: number; favorite?: boolean; source?: string; sort?: string; limit?: number; offset?: number }) => {
      let items = rows.filter((r) => !deleted.has(r.id));
      if (q.search) items = items.filter((r) => (r.text + r.note).toLowerCase().includes(q.search!.toLowerCase()));
      if (q.runId) items = items.filter((r) => r.runId === q.runId);
      if (q.favorite) items = items.filter((r) => r.favorite);
      if (q.source) items = items.filter((r) => r.source === q.source);
      if (q.sort === 'alpha') items = [...items].sort((a, b) => a.text.localeCompare(b.text));
      const offset = q.offset ?? 0;
      return { items: items.slice(offset, offset + (q.limit ?? 1000)), total: items.length };
    }),
    setFavorite: vi.fn(async ({ id, favorite }: { id: number; favorite: boolean }) => void (rows.find((r) => r.id === id)!.favorite = favorite)),
    setNote: vi.fn(async ({ id, note }: { id: number; note: string }) => void (rows.find((r) => r.id === id)!.note = note)),
    remove: vi.fn(async ({ ids }: { ids: number[] }) => (ids.forEach((i) => deleted.add(i)), ids.length)),
    restore: vi.fn(async ({ ids }: { ids: number[] }) => (ids.forEach((i) => deleted.delete(i)), ids.length)),
    export: vi.fn(async ({ ids, format }: { ids: number[]; format: string }) => `${format}:${ids.join(',')}`),
  };
  (fake.api as unknown as Record<string, unknown>).gallery = gallery;
  return { fake, gallery, app: new AppState() };
}

const texts = () => screen.getAllByTestId('gallery-text').map((e) => e.firstChild!.textContent);

describe('Gallery view', () => {
  it('lists everything kept with model, temperature and note; searches, filters and sorts', async () => {
    const { fake, gallery, app } = withGallery();
    render(GalleryView, { props: { app, api: fake.platform.api } });
    // Kept texts by default; the samples printed during training on request.
    await waitFor(() => expect(screen.getAllByTestId('gallery-row')).toHaveLength(3));
    expect(gallery.list.mock.calls[0]![0]).toMatchObject({ source: 'generated' });
    await fireEvent.change(screen.getByLabelText('Tag'), { target: { value: 'all' } });
    await waitFor(() => expect(screen.getAllByTestId('gallery-row')).toHaveLength(4));
    expect(screen.getByTestId('gallery-count').textContent).toMatch(/4 kept items/);
    expect(screen.getAllByText('names lstm').length).toBeGreaterThan(0);
    // Only the guided item says how it was guided, and towards what.
    const guided = screen.getAllByTestId('gallery-guidance');
    expect(
      guided.map((g) => [
        g.closest('[data-testid="gallery-row"]')!.querySelector('[data-testid="gallery-text"]')!.firstChild!.textContent,
        g.textContent!.trim(),
      ]),
    ).toEqual([['Zoë', 'guidance 2.5']]);
    expect(guided[0]!.title).toBe('Generated with guidance 2.5 towards sex F');
    await fireEvent.input(screen.getByLabelText('Search'), { target: { value: 'ann' } });
    await waitFor(() => expect(texts()).toEqual(['Anna']));
    await fireEvent.input(screen.getByLabelText('Search'), { target: { value: '' } });
    await waitFor(() => expect(screen.getAllByTestId('gallery-row')).toHaveLength(4));
    await fireEvent.change(screen.getByLabelText('Model'), { target: { value: '2' } });
    await waitFor(() => expect(texts()).toEqual(['Zoë']));
    await fireEvent.change(screen.getByLabelText('Model'), { target: { value: '' } });
    await fireEvent.change(screen.getByLabelText('Tag'), { target: { value: 'favorite' } });
    await waitFor(() => expect(gallery.list.mock.lastCall![0]).toMatchObject({ favorite: true }));
    await waitFor(() => expect(texts()).toEqual(['Marabel', 'Zoë', 'Once upon a time']));
    await fireEvent.change(screen.getByLabelText('Tag'), { target: { value: 'new' } });
    await waitFor(() => expect(texts()).toEqual(['Marabel', 'Zoë']));
    await fireEvent.change(screen.getByLabelText('Tag'), { target: { value: 'all' } });
    await fireEvent.change(screen.getByLabelText('Sort by'), { target: { value: 'alpha' } });
    await waitFor(() => expect(texts()).toEqual(['Anna', 'Marabel', 'Once upon a time', 'Zoë']));
  });

  it('toggles favourites, edits notes, deletes with undo and exports the selection', async () => {
    const { fake, gallery, app } = withGallery();
    const created: Blob[] = [];
    URL.createObjectURL = vi.fn((b: Blob) => (created.push(b), 'blob:x'));
    URL.revokeObjectURL = vi.fn();
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {});
    render(GalleryView, { props: { app, api: fake.platform.api } });
    await waitFor(() => expect(screen.getAllByTestId('gallery-row')).toHaveLength(3));
    await fireEvent.change(screen.getByLabelText('Tag'), { target: { value: 'all' } });
    await waitFor(() => expect(screen.getAllByTestId('gallery-row')).toHaveLength(4));
    await fireEvent.click(screen.getAllByRole('button', { name: 'Mark favourite' })[0]!);
    expect(gallery.setFavorite).toHaveBeenCalledWith({ id: 2, favorite: true });
    await fireEvent.change(screen.getByLabelText('Note for Marabel'), { target: { value: 'for the cat' } });
    expect(gallery.setNote).toHaveBeenCalledWith({ id: 1, note: 'for the cat' });

    await fireEvent.click(screen.getByLabelText('Select Marabel'));
    await fireEvent.click(screen.getByLabelText('Select Zoë'));
    await fireEvent.change(screen.getByLabelText('Export format'), { target: { value: 'json' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Export 2 selected' }));
    await waitFor(() => expect(gallery.export).toHaveBeenCalledWith({ ids: [1, 3], format: 'json' }));
    await waitFor(() => expect(click).toHaveBeenCalled());
    const read = await new Promise<string>((resolve) => {
      const fr = new FileReader();
      fr.onload = () => resolve(String(fr.result));
      fr.readAsText(created[0]!);
    });
    expect(read).toBe('json:1,3');
    expect(created[0]!.type).toMatch(/^application\/json/);

    await fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(screen.getAllByTestId('gallery-row')).toHaveLength(2));
    expect(gallery.remove).toHaveBeenCalledWith({ ids: [1, 3] });
    await fireEvent.click(screen.getByRole('button', { name: /Undo delete/ }));
    await waitFor(() => expect(screen.getAllByTestId('gallery-row')).toHaveLength(4));
    expect(gallery.restore).toHaveBeenCalledWith({ ids: [1, 3] });
    click.mockRestore();
  });

  it('stays smooth with thousands of items: only the rows in view are in the DOM, and selection, export and delete cover every match', async () => {
    const many = Array.from({ length: 12_000 }, (_, i) => sample(i + 1, `name${i + 1}`, { favorite: i % 2 === 0 }));
    const { fake, gallery, app } = withGallery(many);
    URL.createObjectURL = vi.fn(() => 'blob:x');
    URL.revokeObjectURL = vi.fn();
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {});
    render(GalleryView, { props: { app, api: fake.platform.api } });
    await waitFor(() => expect(screen.getByTestId('gallery-count').textContent).toMatch(/12000 kept items/));
    // Paged through the service, and every match is loaded, but few rows are rendered.
    expect(gallery.list.mock.calls.length).toBeGreaterThan(1);
    expect(gallery.list.mock.calls.every((c) => (c[0].limit ?? 0) <= 5000)).toBe(true);
    expect(screen.getAllByTestId('gallery-row').length).toBeLessThan(60);
    expect(texts()[0]).toBe('name1');

    // Scroll far down: the rows there appear, the first ones leave the DOM.
    const list = screen.getByTestId('gallery-list');
    list.scrollTop = 40 * 9000;
    await fireEvent.scroll(list);
    await waitFor(() => expect(texts()).toContain('name9001'));
    expect(texts()).not.toContain('name1');
    expect(screen.getAllByTestId('gallery-row').length).toBeLessThan(60);

    // Select, favourite and note a row down there.
    await fireEvent.click(screen.getByLabelText('Select name9001'));
    await fireEvent.click(screen.getByLabelText('Select name9002'));
    expect(screen.getByRole('button', { name: 'Export 2 selected' })).toBeTruthy();
    await fireEvent.change(screen.getByLabelText('Note for name9002'), { target: { value: 'lovely' } });
    expect(gallery.setNote).toHaveBeenCalledWith({ id: 9002, note: 'lovely' });
    // Scrolled away and back, the selection is kept.
    list.scrollTop = 0;
    await fireEvent.scroll(list);
    await waitFor(() => expect(texts()).toContain('name1'));
    list.scrollTop = 40 * 9000;
    await fireEvent.scroll(list);
    await waitFor(() => expect((screen.getByLabelText('Select name9001') as HTMLInputElement).checked).toBe(true));

    // Delete the selection with undo.
    await fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(screen.getByTestId('gallery-count').textContent).toMatch(/11998 kept items/));
    expect(gallery.remove).toHaveBeenCalledWith({ ids: [9001, 9002] });
    await fireEvent.click(screen.getByRole('button', { name: /Undo delete/ }));
    await waitFor(() => expect(screen.getByTestId('gallery-count').textContent).toMatch(/12000 kept items/));

    // A filter narrows over all items (not just the rendered ones); export of "all shown" covers every match.
    await fireEvent.change(screen.getByLabelText('Tag'), { target: { value: 'favorite' } });
    await waitFor(() => expect(screen.getByTestId('gallery-count').textContent).toMatch(/6000 kept items/));
    await fireEvent.click(screen.getByRole('button', { name: 'Export all shown' }));
    await waitFor(() => expect(gallery.export).toHaveBeenCalled());
    const ids = gallery.export.mock.lastCall![0].ids;
    expect(ids).toHaveLength(6000);
    expect(ids).toContain(11_999);
    // Select all selects every match, not just the rendered rows.
    await fireEvent.click(screen.getByLabelText('Select all'));
    expect(screen.getByRole('button', { name: 'Export 6000 selected' })).toBeTruthy();
    click.mockRestore();
  });
});
