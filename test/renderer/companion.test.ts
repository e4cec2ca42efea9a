import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import CompanionView from '../../src/renderer/views/CompanionView.svelte';
import { AppState } from '../../src/renderer/lib/app.svelte.ts';
import { LibraryState } from '../../src/renderer/lib/library.svelte.ts';
import type { Draft, ModelChoice } from '../../src/api/index.ts';
import { corpus, fakePlatform, run } from './fake-platform.ts';

const textModel: ModelChoice = {
  runId: 3,
  runName: 'poems lstm',
  corpusId: 2,
  corpusName: 'poems',
  kind: 'best',
  checkpointId: 7,
  iteration: 200,
  valLoss: 1.9,
  mode: 'text',
  status: 'completed',
  created: 3,
  categories: null,
  builtinId: null,
};
const namesModel: ModelChoice = { ...textModel, runId: 4, runName: 'names', mode: 'lines', created: 4 };

async function setup(drafts: Draft[] = []) {
  const fake = fakePlatform({ corpora: [corpus(1, 'names'), corpus(2, 'poems', { mode: 'text' }), corpus(3, 'essays', { mode: 'text' })] });
  const store = [...drafts];
  const draftsApi = {
    list: vi.fn(async () => store.map(({ text: _t, ...d }) => d)),
    get: vi.fn(async ({ id }: { id: number }) => store.find((d) => d.id === id)!),
    save: vi.fn(async (d: { id?: number; title: string; text: string; runId?: number | null }) => {
      const id = d.id ?? Math.max(0, ...store.map((x) => x.id)) + 1;
      const row = { id, title: d.title, text: d.text, runId: d.runId ?? null, updated: Math.max(Date.now(), ...store.map((x) => x.updated + 1)) };
      const i = store.findIndex((x) => x.id === id);
      if (i >= 0) store[i] = row;
      else store.push(row);
      return row;
    }),
    remove: vi.fn(
      async ({ id }: { id: number }) =>
        void store.splice(
          store.findIndex((d) => d.id === id),
          1,
        ),
    ),
  };
  let n = 0;
  const generate = {
    models: vi.fn(async () => [namesModel, textModel]),
    continuations: vi.fn(async (_req: Record<string, unknown>) => ({
      model: textModel,
      items: [' and the sea was calm.', ' but nobody came.', ' in the dark.'].map((text, i) => ({
        text: text + (n++ ? '' : ''),
        temperature: [0.5, 0.8, 1][i]!,
        seed: i,
        logprob: -3,
      })),
    })),
    learnStyle: vi.fn(async (_req: Record<string, unknown>) => run(9, { name: 'poems lstm · my style', status: 'running' })),
  };
  Object.assign(fake.api as object, { drafts: draftsApi, generate });
  const app = new AppState();
  const library = new LibraryState(fake.platform);
  await library.refresh();
  const onStarted = vi.fn();
  render(CompanionView, { props: { app, api: fake.platform.api, library, timing: { autosaveMs: 20, pauseMs: 60_000 }, onStarted } });
  return { fake, store, draftsApi, generate, app, onStarted };
}

describe('Writing companion', () => {
  it('restores the latest draft, suggests on Tab, accepts with Tab, and autosaves', async () => {
    const { store, generate, draftsApi } = await setup([
      { id: 1, title: 'Old', text: 'old text', runId: null, updated: 1 },
      { id: 2, title: 'Sea story', text: 'The boat left', runId: 3, updated: 5 },
    ]);
    const editor = (await screen.findByLabelText('Draft')) as HTMLTextAreaElement;
    await waitFor(() => expect(editor.value).toBe('The boat left'));
    expect((screen.getByLabelText('Model') as HTMLSelectElement).value).toBe('3:best');
    // Only text models are offered.
    expect(screen.getByLabelText('Model').querySelectorAll('option')).toHaveLength(1);
    editor.setSelectionRange(13, 13);
    await fireEvent.keyDown(editor, { key: 'Tab' });
    await waitFor(() => expect(screen.getAllByTestId('suggestion')).toHaveLength(3));
    expect(generate.continuations.mock.calls[0]![0]).toMatchObject({ runId: 3, kind: 'best', context: 'The boat left', count: 3 });
    // Cycle to the second, accept it with Tab.
    await fireEvent.keyDown(editor, { key: 'ArrowDown', altKey: true });
    expect(screen.getAllByTestId('suggestion')[1]!.classList.contains('hl')).toBe(true);
    await fireEvent.keyDown(editor, { key: 'Tab' });
    await waitFor(() => expect(editor.value).toBe('The boat left but nobody came.'));
    expect(screen.queryAllByTestId('suggestion')).toHaveLength(0);
    await waitFor(() => expect(store.find((d) => d.id === 2)!.text).toBe('The boat left but nobody came.'));
    // Typing autosaves to the same draft.
    await fireEvent.input(editor, { target: { value: 'The boat left but nobody came. Then' } });
    await waitFor(() => expect(store.find((d) => d.id === 2)!.text).toBe('The boat left but nobody came. Then'));
    expect(draftsApi.save.mock.calls.every((c) => (c[0] as { id?: number }).id === 2)).toBe(true);
    await waitFor(() => expect(screen.getByTestId('save-state').textContent).toMatch(/saved/));
  });

  it('creates a draft on first typing, accepts by click, ignores with Escape', async () => {
    const { store } = await setup();
    const editor = (await screen.findByLabelText('Draft')) as HTMLTextAreaElement;
    await fireEvent.input(editor, { target: { value: 'Night fell' } });
    await waitFor(() => expect(store).toHaveLength(1));
    expect(store[0]).toMatchObject({ text: 'Night fell', runId: 3 });
    editor.setSelectionRange(10, 10);
    await fireEvent.keyDown(editor, { key: 'Tab' });
    await waitFor(() => expect(screen.getAllByTestId('suggestion')).toHaveLength(3));
    await fireEvent.keyDown(editor, { key: 'Escape' });
    expect(screen.queryAllByTestId('suggestion')).toHaveLength(0);
    expect(editor.value).toBe('Night fell');
    await fireEvent.keyDown(editor, { key: 'Tab' });
    await waitFor(() => expect(screen.getAllByTestId('suggestion')).toHaveLength(3));
    await fireEvent.click(screen.getAllByTestId('suggestion')[2]!);
    await waitFor(() => expect(editor.value).toBe('Night fell in the dark.'));
  });

  it('learns my style from the draft plus chosen corpora', async () => {
    const { generate, onStarted } = await setup([{ id: 1, title: 'Mine', text: 'My words here.', runId: 3, updated: 1 }]);
    await waitFor(() => expect((screen.getByLabelText('Draft') as HTMLTextAreaElement).value).toBe('My words here.'));
    await fireEvent.click(screen.getByRole('button', { name: 'Learn my style…' }));
    expect(screen.queryByLabelText('names')).toBeNull();
    await fireEvent.click(screen.getByLabelText('essays'));
    await fireEvent.click(screen.getByRole('button', { name: 'Start fine-tuning' }));
    await waitFor(() => expect(generate.learnStyle).toHaveBeenCalled());
    expect(generate.learnStyle.mock.calls[0]![0]).toMatchObject({ runId: 3, kind: 'best', draftText: 'My words here.', corpusIds: [3] });
    await waitFor(() => expect(onStarted).toHaveBeenCalledWith(9));
  });

  it('keeps several drafts: new, switch, rename by title, delete with a confirmation', async () => {
    const { store, draftsApi } = await setup([
      { id: 1, title: 'Old', text: 'old text', runId: null, updated: 1 },
      { id: 2, title: 'Sea story', text: 'The boat left', runId: 3, updated: 5 },
    ]);
    const editor = (await screen.findByLabelText('Draft')) as HTMLTextAreaElement;
    await waitFor(() => expect(editor.value).toBe('The boat left'));
    const names = () => screen.getAllByTestId('draft-item').map((e) => e.querySelector('.open')?.textContent ?? e.textContent);
    expect(names()).toEqual(['Sea story', 'Old']);
    expect(screen.getByRole('button', { name: 'Sea story' }).getAttribute('aria-current')).toBe('true');

    // Switch: an unsaved edit of the current draft is saved first.
    await fireEvent.input(editor, { target: { value: 'The boat left at dawn' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Old' }));
    await waitFor(() => expect(editor.value).toBe('old text'));
    expect((screen.getByLabelText('Draft title') as HTMLInputElement).value).toBe('Old');
    expect(store.find((d) => d.id === 2)!.text).toBe('The boat left at dawn');
    // Autosave applies to the draft now open.
    await fireEvent.input(editor, { target: { value: 'old text, new ending' } });
    await waitFor(() => expect(store.find((d) => d.id === 1)!.text).toBe('old text, new ending'));
    expect(store.find((d) => d.id === 2)!.text).toBe('The boat left at dawn');

    // Rename by title: saved, and the list follows.
    const title = screen.getByLabelText('Draft title') as HTMLInputElement;
    await fireEvent.input(title, { target: { value: 'Old, renamed' } });
    await waitFor(() => expect(store.find((d) => d.id === 1)!.title).toBe('Old, renamed'));
    await waitFor(() => expect(names()).toContain('Old, renamed'));

    // New draft: empty, in the library and the list at once, and typing saves to it.
    await fireEvent.click(screen.getByRole('button', { name: 'New draft' }));
    await waitFor(() => expect(store).toHaveLength(3));
    await waitFor(() => expect(editor.value).toBe(''));
    expect(names()).toHaveLength(3);
    await fireEvent.input(editor, { target: { value: 'A fresh start' } });
    await waitFor(() => expect(store.find((d) => d.id === 3)!.text).toBe('A fresh start'));
    expect(store.find((d) => d.id === 1)!.text).toBe('old text, new ending');

    // Switch back to the sea story: its text is intact.
    await fireEvent.click(screen.getByRole('button', { name: 'Sea story' }));
    await waitFor(() => expect(editor.value).toBe('The boat left at dawn'));

    // Delete asks first; Cancel keeps it.
    await fireEvent.click(screen.getByLabelText('Delete draft Old, renamed'));
    expect(screen.getByText(/Delete “Old, renamed”\?/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(draftsApi.remove).not.toHaveBeenCalled();
    expect(names()).toHaveLength(3);
    await fireEvent.click(screen.getByLabelText('Delete draft Old, renamed'));
    await fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(draftsApi.remove).toHaveBeenCalledWith({ id: 1 }));
    await waitFor(() => expect(names()).toHaveLength(2));
    expect(store.map((d) => d.id).sort()).toEqual([2, 3]);
    expect(editor.value).toBe('The boat left at dawn');

    // Deleting the current draft opens the latest remaining one.
    await fireEvent.click(screen.getByLabelText('Delete draft Sea story'));
    await fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(editor.value).toBe('A fresh start'));
    expect(store.map((d) => d.id)).toEqual([3]);
    // No autosave brings the deleted draft back.
    await new Promise((r) => setTimeout(r, 60));
    expect(store.map((d) => d.id)).toEqual([3]);
  });
});
