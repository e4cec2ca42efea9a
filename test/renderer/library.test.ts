import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../src/api/errors.ts';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import LibraryView from '../../src/renderer/views/LibraryView.svelte';
import { AppState } from '../../src/renderer/lib/app.svelte.ts';
import { LibraryState } from '../../src/renderer/lib/library.svelte.ts';
import { fakePlatform, corpus } from './fake-platform.ts';

async function setup(opts: Parameters<typeof fakePlatform>[0] = {}) {
  const fake = fakePlatform(opts);
  const app = new AppState();
  const library = new LibraryState(fake.platform);
  let trained: number | null = null;
  render(LibraryView, { props: { app, library, platform: fake.platform, onTrain: (id: number) => (trained = id) } });
  await library.refresh();
  return { fake, app, library, trained: () => trained };
}

describe('Library view', () => {
  it('shows the built-in names corpus with its statistics, frequency chart and preview', async () => {
    const { trained } = await setup();
    expect(await screen.findByRole('button', { name: /names/ })).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId('stat-chars').textContent).toBe((59167).toLocaleString()));
    expect(screen.getByTestId('stat-vocab').textContent).toBe('54');
    expect(screen.getByTestId('stat-lines').textContent).toBe((8422).toLocaleString());
    expect(screen.getByTestId('freq-chart').querySelectorAll('rect')).toHaveLength(3);
    expect(screen.getByTestId('freq-chart').textContent).toContain('↵');
    expect(screen.getByTestId('corpus-preview').textContent).toContain('Aaron');
    expect(screen.getByText(/built-in/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: /Train on this/ }));
    expect(trained()).toBe(1);
  });

  it('imports pasted text with the guessed mode, which can be changed', async () => {
    const { fake, library } = await setup();
    await fireEvent.click(screen.getByRole('button', { name: 'Paste text instead' }));
    await fireEvent.input(screen.getByLabelText('Text to import'), { target: { value: 'Ada\nBea\nCy\nDee\nEve\n' } });
    await fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'My names' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Use this text' }));
    const pending = await screen.findByTestId('pending-import');
    const lines = within(pending).getByLabelText(/lines — one item per line/) as HTMLInputElement;
    expect(lines.checked).toBe(true);
    expect(within(pending).getByText(/guessed/).textContent).toMatch(/lines/);
    await fireEvent.click(within(pending).getByLabelText(/text — one continuous stream/));
    await fireEvent.click(within(pending).getByRole('button', { name: 'Import' }));
    await waitFor(() => expect(fake.api.library.importText).toHaveBeenCalled());
    expect(fake.api.library.importText.mock.calls[0]![0]).toMatchObject({ name: 'My names', mode: 'text', text: 'Ada\nBea\nCy\nDee\nEve\n' });
    // Browser mode uploads a paste over HTTP: the WebSocket takes no message as large as a 50 MB paste.
    expect(fake.platform.uploadFile).toHaveBeenCalledWith(expect.any(File), expect.objectContaining({ name: 'My names', mode: 'text' }));
    await waitFor(() => expect(library.detail?.name).toBe('My names'));
    expect(screen.queryByTestId('pending-import')).toBeNull();
  });

  it('imports a chosen file (uploaded in browser mode)', async () => {
    const { fake, library } = await setup();
    const input = screen.getByTestId('file-input') as HTMLInputElement;
    const file = new File(['To be, or not to be, that is the question.'], 'hamlet.txt', { type: 'text/plain' });
    await fireEvent.change(input, { target: { files: [file] } });
    const pending = await screen.findByTestId('pending-import');
    expect(within(pending).getByRole('heading').textContent).toContain('hamlet');
    expect((within(pending).getByLabelText(/text — one continuous/) as HTMLInputElement).checked).toBe(true);
    await fireEvent.click(within(pending).getByRole('button', { name: 'Import' }));
    await waitFor(() => expect(fake.platform.uploadFile).toHaveBeenCalled());
    await waitFor(() => expect(library.detail?.name).toBe('hamlet'));
  });

  it('shows the engine’s message when a file cannot be imported', async () => {
    await setup();
    await fireEvent.click(screen.getByRole('button', { name: 'Paste text instead' }));
    await fireEvent.input(screen.getByLabelText('Text to import'), { target: { value: 'bad\u0000bytes' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Use this text' }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Import' }));
    const alert = await screen.findByTestId('import-error');
    expect(alert.textContent).toContain('This looks like a binary file, not text: choose a plain text file.');
  });

  it('lists several corpora and switches between them', async () => {
    const { library } = await setup({ corpora: [corpus(1, 'names'), corpus(2, 'shakespeare', { mode: 'text', chars: 1_115_394 })] });
    await fireEvent.click(await screen.findByRole('button', { name: /shakespeare/ }));
    await waitFor(() => expect(library.detail?.name).toBe('shakespeare'));
    expect(screen.getByRole('button', { name: 'Delete' })).toBeTruthy();
  });
});

describe('Library view: the baby-name subset', () => {
  it('shows why an impossible filter keeps no name, and trains a possible one in one step', async () => {
    const { fake, library, trained } = await setup();
    const baby = corpus(7, 'us-baby-names (sex, decade)', {
      builtin: true,
      builtinId: 'us-baby-names',
      categories: [
        { name: 'sex', values: ['F', 'M'] },
        { name: 'decade', values: ['1920s', '2010s'] },
      ],
    });
    const subset = corpus(8, 'us-baby-names (sex, decade; girls, since 2000)', { builtin: true, builtinId: 'us-baby-names' });
    const api = fake.api.library as unknown as Record<string, ReturnType<typeof vi.fn>>;
    api.list!.mockImplementation(async () => [corpus(1, 'names'), baby, subset]);
    api.get!.mockImplementation(async ({ id }: { id: number }) => ({
      ...(id === 7 ? baby : subset),
      charFrequency: [],
      preview: 'Aaban\tM\t2010s',
      path: '/x',
      origin: { id: 'us-baby-names', source: 'US Social Security Administration', licence: 'MIT', url: 'https://www.ssa.gov', description: 'US baby names' },
    }));
    const empty = new ApiError('EMPTY_SUBSET', 'No baby name matches girls, ≥99,999,999 births. Lower the minimum births.');
    api.countBabyNames = vi.fn(async ({ filter }: { filter: { minBirths?: number } }) => {
      if ((filter.minBirths ?? 0) > 1e7) throw empty;
      return { items: 6329, names: 6329 };
    });
    api.builtin = vi.fn(async ({ filter }: { filter?: { minBirths?: number } }) => {
      if ((filter?.minBirths ?? 0) > 1e7) throw empty;
      return { corpus: subset, existed: false };
    });
    await library.refresh();
    await library.select(7);
    expect((await screen.findByTestId('corpus-origin')).textContent).toMatch(/Source: US Social Security Administration\. Licence: MIT/);
    expect(screen.getByTestId('corpus-categories').textContent).toMatch(/sex: F, M/);
    await fireEvent.change(screen.getByLabelText('Sex'), { target: { value: 'F' } });
    await fireEvent.input(screen.getByLabelText('Minimum births'), { target: { value: '99999999' } });
    await fireEvent.click(screen.getByRole('button', { name: /Train on this subset/ }));
    expect((await screen.findByTestId('subset-error')).textContent).toContain('No baby name matches girls');
    expect(trained()).toBe(null);
    await fireEvent.input(screen.getByLabelText('Minimum births'), { target: { value: '500' } });
    await fireEvent.input(screen.getByLabelText('Since year'), { target: { value: '2000' } });
    await waitFor(() => expect(screen.getByTestId('subset-count').textContent).toBe(`${(6329).toLocaleString()} names`));
    await fireEvent.click(screen.getByRole('button', { name: /Train on this subset/ }));
    await waitFor(() => expect(trained()).toBe(8));
    expect(api.builtin).toHaveBeenLastCalledWith({ id: 'us-baby-names', categories: ['sex', 'decade'], filter: { sex: 'F', since: 2000, minBirths: 500 } });
  });
});
