import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import InspectView from '../../src/renderer/views/InspectView.svelte';
import { AppState } from '../../src/renderer/lib/app.svelte.ts';
import { RunsState } from '../../src/renderer/lib/runs.svelte.ts';
import { activationColor, exportHtml, surpriseColor } from '../../src/renderer/lib/inspect.svelte.ts';
import type { InspectionResult } from '../../src/api/index.ts';
import { fakePlatform, run } from './fake-platform.ts';

const TEXT = 'Ann said "hi"\nBob\n';

function result(): InspectionResult {
  const chars = [...TEXT];
  return {
    id: 'i1',
    runId: 1,
    checkpoint: { kind: 'best', iteration: 300, valLoss: 1.9 },
    chars,
    skipped: 0,
    loss: chars.map((_, i) => (i % 4) + 0.5),
    guesses: chars.map((_, i) => [
      { char: 'a', p: 0.4 },
      { char: 'b', p: 0.3 },
      { char: i === 0 ? 'n' : 'c', p: 0.15 },
      { char: '\n', p: 0.1 },
      { char: '"', p: 0.05 },
    ]),
    meanLoss: 1.9,
    cell: 'lstm',
    hidden: 8,
    layers: [
      { layer: 0, kind: 'h', label: 'layer 1 h' },
      { layer: 0, kind: 'c', label: 'layer 1 tanh(c)' },
    ],
    interesting: [
      { layer: 0, kind: 'c', cell: 5, feature: 'inQuotes', correlation: 0.91 },
      { layer: 0, kind: 'h', cell: 2, feature: 'linePosition', correlation: -0.7 },
    ],
    byFeature: {
      inQuotes: [{ layer: 0, kind: 'c', cell: 5, feature: 'inQuotes', correlation: 0.91 }],
      inBrackets: [],
      linePosition: [],
      afterNewline: [{ layer: 0, kind: 'h', cell: 6, feature: 'afterNewline', correlation: 0.5 }],
      inWord: [],
    },
    features: {
      inQuotes: 'inside double quotes',
      inBrackets: 'inside brackets or parentheses',
      linePosition: 'position in the line',
      afterNewline: 'right after a newline',
      inWord: 'inside a word',
    },
  };
}

async function setup() {
  const fake = fakePlatform({
    runs: [run(1, { config: { ...run(1).config, mode: 'lines' } }), run(2, { iterations: 0, resumable: false, name: 'empty run' })],
  });
  const progress = new Set<(p: unknown) => void>();
  const api = fake.api as Record<string, unknown> & { on: Record<string, unknown> };
  const inspect = {
    defaultText: vi.fn(async () => ({ text: TEXT, source: 'validation items' })),
    run: vi.fn(async ({ inspectId }: { inspectId?: string }) => {
      progress.forEach((l) => l({ inspectId, done: 10, total: TEXT.length }));
      return result();
    }),
    cell: vi.fn(async ({ cell, kind }: { cell: number; kind: string }) => [...TEXT].map((_, i) => ((kind === 'c' ? 1 : -1) * ((i + cell) % 3)) / 2)),
    cancel: vi.fn(async () => {}),
    evolution: vi.fn(async () => [
      { iteration: 100, trainLoss: 2.9, valLoss: 3.0, text: 'Aaaa\nnnn' },
      { iteration: 300, trainLoss: 2.1, valLoss: 2.2, text: 'Marla\nJosh' },
    ]),
  };
  api.inspect = inspect;
  api.on.inspectProgress = (cb: (p: unknown) => void) => {
    progress.add(cb);
    return () => progress.delete(cb);
  };
  const app = new AppState();
  const runs = new RunsState(fake.platform.api);
  await runs.refresh();
  render(InspectView, { props: { app, api: fake.platform.api, runs } });
  return { fake, inspect, app };
}

describe('Inspect view', () => {
  it('loads the validation text and the sample evolution of the first trained run', async () => {
    const { inspect } = await setup();
    await waitFor(() => expect((screen.getByLabelText('Text to inspect') as HTMLTextAreaElement).value).toBe(TEXT));
    expect(inspect.defaultText).toHaveBeenCalledWith({ runId: 1 });
    expect(screen.getByText(/From validation items/)).toBeTruthy();
    // Runs that never trained are not offered.
    expect(within(screen.getByLabelText('Run')).queryByText(/empty run/)).toBeNull();
    const strip = await screen.findByLabelText('Sample evolution');
    expect(strip.textContent).toMatch(/iteration 100.*loss 2\.900.*iteration 300.*loss 2\.100/s);
    expect(strip.textContent).toContain('Marla');
  });

  it('inspects, shades by the best cell, switches cells and layers, shows five guesses on hover, surprise mode', async () => {
    const { inspect } = await setup();
    await waitFor(() => expect((screen.getByLabelText('Text to inspect') as HTMLTextAreaElement).value).toBe(TEXT));
    await fireEvent.click(screen.getByRole('button', { name: 'Inspect' }));
    await waitFor(() =>
      expect(inspect.run).toHaveBeenCalledWith(expect.objectContaining({ runId: 1, checkpoint: 'best', text: TEXT, inspectId: expect.any(String) })),
    );
    // The best interesting cell is shown first.
    await waitFor(() => expect(screen.getByTestId('caption').textContent).toBe('layer 1 tanh(c), cell 5'));
    expect(inspect.cell).toHaveBeenCalledWith({ id: 'i1', layer: 0, kind: 'c', cell: 5 });
    const text = screen.getByTestId('cell-text');
    const spans = text.querySelectorAll<HTMLSpanElement>('span.ch');
    expect(spans).toHaveLength(TEXT.length);
    expect(text.querySelectorAll('br')).toHaveLength(2);
    const v5 = [...TEXT].map((_, i) => ((i + 5) % 3) / 2);
    await waitFor(() => expect(spans[1]!.style.backgroundColor).toBe(cssColor(activationColor(v5[1]!))));

    // Interesting cells: one click shows each.
    const cells = screen.getByLabelText('Interesting cells');
    expect(cells.textContent).toMatch(/L1 c #5.*inside double quotes.*r = 0\.91/s);
    await fireEvent.click(within(cells).getByText('L1 h #2'));
    await waitFor(() => expect(screen.getByTestId('caption').textContent).toBe('layer 1 h, cell 2'));
    const v2 = [...TEXT].map((_, i) => -((i + 2) % 3) / 2);
    await waitFor(() => expect(spans[0]!.style.backgroundColor).toBe(cssColor(activationColor(v2[0]!))));

    // The best cells for one feature.
    await fireEvent.change(screen.getByLabelText('Feature'), { target: { value: 'afterNewline' } });
    expect(
      within(cells)
        .getAllByRole('button')
        .map((b) => b.textContent!.replace(/\s+/g, ' ').trim()),
    ).toEqual(['L1 h #6 right after a newline r = 0.50']);
    await fireEvent.change(screen.getByLabelText('Feature'), { target: { value: 'inBrackets' } });
    expect(cells.textContent).toMatch(/No cell tracks inside brackets/);
    await fireEvent.change(screen.getByLabelText('Feature'), { target: { value: 'all' } });
    expect(within(cells).getAllByRole('button')).toHaveLength(2);

    // By number, and the next/previous buttons.
    await fireEvent.change(screen.getByLabelText('Cell'), { target: { value: '7' } });
    await waitFor(() => expect(screen.getByTestId('caption').textContent).toBe('layer 1 h, cell 7'));
    await fireEvent.click(screen.getByRole('button', { name: 'Next cell' }));
    await waitFor(() => expect(screen.getByTestId('caption').textContent).toBe('layer 1 h, cell 0'));
    await fireEvent.change(screen.getByLabelText('Layer'), { target: { value: '0/c' } });
    await waitFor(() => expect(screen.getByTestId('caption').textContent).toBe('layer 1 tanh(c), cell 0'));
    expect(inspect.cell).toHaveBeenLastCalledWith({ id: 'i1', layer: 0, kind: 'c', cell: 0 });

    // Hover: the five guesses for the next character, the right one marked.
    await fireEvent.mouseOver(spans[0]!);
    const guesses = await screen.findAllByTestId('guess');
    expect(guesses).toHaveLength(5);
    expect(guesses.map((g) => g.textContent!.replace(/\s+/g, ' ').trim())).toEqual(['a 40%', 'b 30%', 'n 15%', '↵ 10%', '" 5.0%']);
    expect(guesses[2]!.classList.contains('hit')).toBe(true);
    expect(guesses[0]!.style.backgroundColor).not.toBe('');
    expect(spans[0]!.classList.contains('sel')).toBe(true);

    // Surprise: shaded by loss.
    await fireEvent.click(screen.getByRole('button', { name: 'Surprise' }));
    expect(screen.getByTestId('caption').textContent).toMatch(/surprise/);
    await waitFor(() => expect(spans[3]!.style.backgroundColor).toBe(cssColor(surpriseColor(3.5))));
  });

  it('shows the service’s message when inspecting fails', async () => {
    const { inspect } = await setup();
    inspect.run.mockRejectedValueOnce(
      Object.assign(new Error('Run “x” has no best checkpoint yet: train it until it saves one.'), { code: 'CHECKPOINT_MISSING' }),
    );
    await waitFor(() => expect((screen.getByLabelText('Text to inspect') as HTMLTextAreaElement).value).toBe(TEXT));
    await fireEvent.click(screen.getByRole('button', { name: 'Inspect' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/no best checkpoint yet/);
  });

  it('exports a standalone HTML page with the colours inlined', () => {
    const html = exportHtml('run: inspect', 'layer 1 h, cell 3', ['a', '<', '\n'], ['rgba(1, 2, 3, 0.5)', 'red', 'blue'], [[{ char: 'b', p: 0.5 }], [], []]);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<span style="background:rgba(1, 2, 3, 0.5)" title="b 50.0%">a</span>');
    expect(html).toContain('&lt;');
    expect(html).toContain('↵</span><br>');
    expect(html).not.toMatch(/<script|<link|src=/);
  });
});

/** How jsdom reports a colour set through the CSSOM. */
function cssColor(c: string): string {
  const el = document.createElement('span');
  el.style.backgroundColor = c;
  return el.style.backgroundColor;
}
