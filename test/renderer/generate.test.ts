import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import GenerateView from '../../src/renderer/views/GenerateView.svelte';
import { AppState } from '../../src/renderer/lib/app.svelte.ts';
import { markUnknown } from '../../src/renderer/lib/generate.svelte.ts';
import { ApiError } from '../../src/api/errors.ts';
import type { ModelChoice } from '../../src/api/index.ts';
import { fakePlatform } from './fake-platform.ts';
import { DEFAULT_GUIDANCE, MAX_GUIDANCE } from '../../src/common/samples.ts';

const namesModel: ModelChoice = {
  runId: 2,
  runName: 'names lstm',
  corpusId: 1,
  corpusName: 'names',
  kind: 'best',
  checkpointId: 5,
  iteration: 300,
  valLoss: 2.1,
  mode: 'lines',
  status: 'completed',
  created: 2,
  categories: null,
  builtinId: null,
};
const textModel: ModelChoice = { ...namesModel, runId: 1, runName: 'poems lstm', corpusName: 'poems', checkpointId: 3, mode: 'text', created: 1 };

/** A deterministic fake sampler: the names depend on the seed and temperature only. */
function fakeName(i: number, seed: number, t: number) {
  return `N${seed % 97}${Math.round(t * 100)}x${i}`;
}

export function withGenerate(models: ModelChoice[], linesDelay = 0) {
  const fake = fakePlatform();
  const api = fake.api as unknown as Record<string, unknown> & { on: Record<string, unknown> };
  const textListeners = new Set<(p: { requestId: string; chunk: string }) => void>();
  api.on.generateText = (cb: (p: { requestId: string; chunk: string }) => void) => {
    textListeners.add(cb);
    return () => textListeners.delete(cb);
  };
  const saved: unknown[] = [];
  const generate = {
    models: vi.fn(async () => models),
    lines: vi.fn(
      async (req: { count: number; seed: number; temperature: number; runId: number }) => (
        await new Promise((r) => setTimeout(r, linesDelay)),
        {
          model: models.find((m) => m.runId === req.runId)!,
          items: Array.from({ length: req.count }, (_, i) => ({
            text: fakeName(i, req.seed, req.temperature),
            logprob: -i - 1,
            novelty: i % 5 === 0 ? 'train' : 'new',
          })),
          ms: 3,
        }
      ),
    ),
    text: vi.fn(async (req: { requestId: string; prime?: string; runId: number }) => {
      if (req.prime?.includes('€')) throw new ApiError('UNKNOWN_CHARACTERS', 'The text has characters the model does not know: €', { chars: ['€'] });
      for (const ch of 'Hello there') {
        for (const l of textListeners) l({ requestId: req.requestId, chunk: ch });
        await new Promise((r) => setTimeout(r, 2));
      }
      return { text: 'Hello there', logprob: -5, model: models.find((m) => m.runId === req.runId)!, stopped: false };
    }),
    cancel: vi.fn(async () => {}),
    continuations: vi.fn(),
    learnStyle: vi.fn(),
  };
  api.generate = generate;
  api.gallery = {
    save: vi.fn(async (s: Record<string, unknown>) => {
      saved.push(s);
      return { id: saved.length, ...s };
    }),
  };
  return { fake, generate, saved, app: new AppState() };
}

describe('Generate view', () => {
  it('sorts an unsorted answer most likely first, and back to the order drawn', async () => {
    const { fake, generate, app } = withGenerate([namesModel]);
    // The answer in no particular order of likelihood: logprob of item i is -((i * 7) % 50) - 1.
    generate.lines.mockImplementation(async (req: { count: number; runId: number }) => ({
      model: namesModel,
      items: Array.from({ length: req.count }, (_, i) => ({ text: `item${i}`, logprob: -((i * 7) % 50) - 1, novelty: 'new' })),
      ms: 3,
    }));
    render(GenerateView, { props: { app, api: fake.platform.api, debounceMs: 5 } });
    await waitFor(() => expect(screen.getByTestId('result-count').textContent).toMatch(/50 items/));
    const shown = () => screen.getAllByTestId('item-text').map((e) => e.textContent);
    const answer = Array.from({ length: 50 }, (_, i) => ({ text: `item${i}`, logprob: -((i * 7) % 50) - 1 }));
    const byLikelihood = [...answer].sort((a, b) => b.logprob - a.logprob).map((a) => a.text);
    expect(byLikelihood.slice(0, 3)).toEqual(['item0', 'item43', 'item36']); // the answer itself is not sorted
    const rows = shown();
    expect(rows.length).toBeGreaterThan(5);
    expect(rows).toEqual(byLikelihood.slice(0, rows.length));
    await fireEvent.change(screen.getByLabelText('Sort'), { target: { value: 'order' } });
    await waitFor(() => expect(shown().slice(0, 5)).toEqual(['item0', 'item1', 'item2', 'item3', 'item4']));
  });

  it('shows Guidance only for a model with categories, and sends it with the values picked', async () => {
    const babyModel: ModelChoice = { ...namesModel, runId: 3, runName: 'baby gru', categories: [{ name: 'sex', values: ['F', 'M'] }], created: 3 };
    const { fake, generate, app } = withGenerate([babyModel]);
    render(GenerateView, { props: { app, api: fake.platform.api, debounceMs: 5 } });
    await waitFor(() => expect(generate.lines).toHaveBeenCalled());
    // Nothing picked: the model draws the sex, nothing to guide towards.
    expect(generate.lines.mock.calls[0]![0]).not.toHaveProperty('guidance');
    const field = screen.getByLabelText('Guidance') as HTMLInputElement;
    expect(Number(field.value)).toBe(DEFAULT_GUIDANCE);
    await fireEvent.click(screen.getByRole('button', { name: 'M' }));
    await waitFor(() => expect(generate.lines.mock.calls.at(-1)![0]).toMatchObject({ categories: ['sex=M'], guidance: DEFAULT_GUIDANCE }));
    await fireEvent.change(field, { target: { value: '2.5' } });
    await waitFor(() => expect(generate.lines.mock.calls.at(-1)![0]).toMatchObject({ categories: ['sex=M'], guidance: 2.5 }));
    await fireEvent.change(field, { target: { value: String(MAX_GUIDANCE + 5) } });
    await waitFor(() => expect(generate.lines.mock.calls.at(-1)![0]).toMatchObject({ guidance: MAX_GUIDANCE }));
  });

  it('keeps an item with the settings it was made with, not what the controls say since', async () => {
    const babyModel: ModelChoice = { ...namesModel, runId: 3, runName: 'baby gru', categories: [{ name: 'sex', values: ['F', 'M'] }], created: 3 };
    const { fake, generate, saved, app } = withGenerate([babyModel]);
    render(GenerateView, { props: { app, api: fake.platform.api, debounceMs: 5 } });
    await waitFor(() => expect(generate.lines).toHaveBeenCalled());
    await fireEvent.click(screen.getByRole('button', { name: 'M' }));
    await waitFor(() => expect(generate.lines.mock.calls.at(-1)![0]).toMatchObject({ categories: ['sex=M'] }));
    await generate.lines.mock.results.at(-1)!.value;
    const shown = screen.getAllByTestId('item-text')[0]!.textContent!;
    // From here every request stays in flight, so the list shown is the one made with sex=M at 0.8.
    generate.lines.mockImplementation(() => new Promise(() => {}));
    await fireEvent.change(screen.getByLabelText('Guidance'), { target: { value: '4' } });
    await fireEvent.input(screen.getByLabelText('Temperature'), { target: { value: '1.3' } });
    await waitFor(() => expect(generate.lines.mock.calls.at(-1)![0]).toMatchObject({ guidance: 4, temperature: 1.3 }));
    expect(screen.getAllByTestId('item-text')[0]!.textContent).toBe(shown);
    await fireEvent.click(screen.getAllByTestId('item-text')[0]!.closest('button')!);
    await waitFor(() => expect(saved).toHaveLength(1));
    expect(saved[0]).toMatchObject({ text: shown, temperature: 0.8, guidance: DEFAULT_GUIDANCE, topK: null, prime: null });
  });

  it('shows no Guidance for a model without categories', async () => {
    const { fake, generate, app } = withGenerate([namesModel]);
    render(GenerateView, { props: { app, api: fake.platform.api, debounceMs: 5 } });
    await waitFor(() => expect(generate.lines).toHaveBeenCalled());
    expect(screen.queryByLabelText('Guidance')).toBeNull();
  });

  it('picks the newest model, generates names at once, tags them and keeps favourites', async () => {
    const { fake, generate, saved, app } = withGenerate([namesModel, textModel]);
    render(GenerateView, { props: { app, api: fake.platform.api, debounceMs: 5 } });
    await waitFor(() => expect(generate.lines).toHaveBeenCalled());
    expect((screen.getByLabelText('Model') as HTMLSelectElement).value).toBe('2:best');
    expect(generate.lines.mock.calls[0]![0]).toMatchObject({ runId: 2, kind: 'best', count: 50, newOnly: true });
    await waitFor(() => expect(screen.getByTestId('result-count').textContent).toMatch(/50 items/));
    // Virtualized: far fewer rows in the DOM than items.
    const rows = screen.getAllByTestId('generated-item');
    expect(rows.length).toBeLessThan(40);
    expect(screen.getAllByTestId('item-tag').some((t) => t.textContent === 'in training set')).toBe(true);
    expect(screen.getAllByTestId('item-tag').some((t) => t.textContent === 'new')).toBe(true);
    // Most likely first.
    const first = screen.getAllByTestId('item-text')[0]!.textContent!;
    expect(first).toMatch(/x0$/);
    await fireEvent.click(screen.getAllByTestId('item-text')[1]!.closest('button')!);
    await waitFor(() => expect(saved).toHaveLength(1));
    expect(saved[0]).toMatchObject({ runId: 2, checkpointId: 5, source: 'generated', favorite: true, mode: 'lines', novelty: expect.any(String) });
    // Dismiss removes it from the list.
    const dismissed = screen.getAllByTestId('item-text')[2]!.textContent!;
    await fireEvent.click(screen.getByRole('button', { name: `Dismiss ${dismissed}` }));
    expect(screen.getByTestId('result-count').textContent).toMatch(/49 items/);
  });

  it('re-samples as the temperature moves, debounced, cancelling the previous request; same seed same result', async () => {
    const { fake, generate, app } = withGenerate([namesModel], 60);
    render(GenerateView, { props: { app, api: fake.platform.api, debounceMs: 30 } });
    await waitFor(() => expect(screen.getByTestId('result-count').textContent).toMatch(/50 items/));
    const before = screen.getAllByTestId('item-text')[0]!.textContent;
    const slider = screen.getByLabelText('Temperature');
    for (const v of ['0.9', '1', '1.1', '1.2']) await fireEvent.input(slider, { target: { value: v } });
    await waitFor(() => expect(generate.lines).toHaveBeenCalledTimes(2));
    expect(generate.lines.mock.calls[1]![0].temperature).toBe(1.2);
    await waitFor(() => expect(screen.getAllByTestId('item-text')[0]!.textContent).not.toBe(before));
    expect(screen.getByTestId('temperature-value').textContent).toBe('1.20');
    await fireEvent.input(slider, { target: { value: '0' } });
    await waitFor(() => expect(screen.getByTestId('temperature-value').textContent).toBe('0 (argmax)'));
    await waitFor(() => expect(generate.lines).toHaveBeenCalledTimes(3));
    expect(generate.lines.mock.calls[2]![0].temperature).toBe(0);
    // New seed gives new names; the same seed again gives the same ones.
    await fireEvent.input(slider, { target: { value: '0.8' } });
    await waitFor(() => expect(generate.lines).toHaveBeenCalledTimes(4));
    await waitFor(() => expect(generate.lines.mock.results[3]!.type).toBe('return'));
    const seed = (screen.getByLabelText('Seed') as HTMLInputElement).value;
    await waitFor(() => expect(screen.getAllByTestId('item-text')[0]!.textContent).toBe(fakeName(0, Number(seed), 0.8)));
    await fireEvent.click(screen.getByRole('button', { name: 'New seed' }));
    await waitFor(() => expect(generate.lines).toHaveBeenCalledTimes(5));
    expect(generate.lines.mock.calls[4]![0].seed).not.toBe(Number(seed));
    // A request still in flight is cancelled by the next one, and its answer never shown.
    await fireEvent.input(slider, { target: { value: '1.5' } });
    await new Promise((r) => setTimeout(r, 45));
    await fireEvent.input(slider, { target: { value: '1.6' } });
    await waitFor(() => expect(generate.cancel).toHaveBeenCalled());
    await waitFor(() => expect(screen.getAllByTestId('item-text')[0]!.textContent).toBe(fakeName(0, generate.lines.mock.lastCall![0].seed, 1.6)));
  });

  it('applies constraints and handles thousands of items with few DOM rows', async () => {
    const { fake, generate, app } = withGenerate([namesModel]);
    render(GenerateView, { props: { app, api: fake.platform.api, debounceMs: 5 } });
    await waitFor(() => expect(generate.lines).toHaveBeenCalledTimes(1));
    await fireEvent.input(screen.getByLabelText('Starts with'), { target: { value: 'Ma' } });
    await fireEvent.change(screen.getByLabelText('Max length'), { target: { value: '8' } });
    await fireEvent.change(screen.getByLabelText('Count'), { target: { value: '5000' } });
    await waitFor(() => expect(generate.lines.mock.lastCall![0]).toMatchObject({ prefix: 'Ma', maxLength: 8, count: 5000 }));
    await waitFor(() => expect(screen.getByTestId('result-count').textContent).toMatch(/5000 items/));
    expect(screen.getAllByTestId('generated-item').length).toBeLessThan(40);
    const list = screen.getByTestId('generated-list');
    list.scrollTop = 34 * 3000;
    await fireEvent.scroll(list);
    await waitFor(() => expect(screen.getAllByTestId('item-text').some((e) => /x3000$/.test(e.textContent!))).toBe(true));
    await fireEvent.change(screen.getByLabelText('Sort'), { target: { value: 'order' } });
  });

  it('streams text from a prime, and explains unknown characters inline', async () => {
    const { fake, generate, app } = withGenerate([textModel]);
    render(GenerateView, { props: { app, api: fake.platform.api } });
    await waitFor(() => expect(generate.text).toHaveBeenCalledTimes(1));
    await waitFor(() => expect(screen.getByTestId('text-output').textContent).toBe('Hello there'));
    await fireEvent.input(screen.getByLabelText('Prime'), { target: { value: 'Price: 5€ each' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Generate' }));
    const box = await screen.findByTestId('unknown-chars');
    expect(box.textContent).toMatch(/never saw this character/);
    expect(box.textContent).toContain('€ (U+20AC)');
    expect(box.querySelector('pre mark')!.textContent).toBe('€');
    await fireEvent.click(screen.getByRole('button', { name: 'Skip them and generate' }));
    await waitFor(() => expect(generate.text.mock.lastCall![0]).toMatchObject({ skipUnknown: true }));
  });

  it('says when there is no model', async () => {
    const { fake, app } = withGenerate([]);
    render(GenerateView, { props: { app, api: fake.platform.api } });
    await screen.findByText(/No trained model yet/);
  });

  it('marks unknown characters in runs', () => {
    expect(markUnknown('ab€€c', ['€'])).toEqual([
      { text: 'ab', unknown: false },
      { text: '€€', unknown: true },
      { text: 'c', unknown: false },
    ]);
  });
});
