/**
 * Inspect for a Transformer, in jsdom with a fake API: the heads ranked by what they track, the text
 * shaded by one head's attention from the chosen character (only the characters it sees), a click
 * choosing another character, layer and head, and every head as a grid. RNN runs keep the cells.
 */
import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import InspectView from '../../src/renderer/views/InspectView.svelte';
import { AppState } from '../../src/renderer/lib/app.svelte.ts';
import { RunsState } from '../../src/renderer/lib/runs.svelte.ts';
import { attentionColor } from '../../src/renderer/lib/attention.svelte.ts';
import type { AttentionInspection, RunSummary } from '../../src/api/index.ts';
import { fakePlatform, run } from './fake-platform.ts';

const TEXT = 'the cat (sat) on the mat\n';
const BLOCK = 8;

function result(): AttentionInspection {
  const chars = [...TEXT];
  const score = (layer: number, head: number, pattern: AttentionInspection['ranked'][number]['pattern'], s: number) => ({
    layer,
    head,
    pattern,
    score: s,
    chance: 0.2,
    positions: 20,
  });
  return {
    id: 'a1',
    runId: 1,
    checkpoint: { kind: 'best', iteration: 200, valLoss: 1.2 },
    chars,
    skipped: 0,
    layers: 2,
    heads: 2,
    blockSize: BLOCK,
    ranked: [score(1, 0, 'previous', 0.93), score(0, 1, 'wordStart', 0.61), score(0, 0, 'sameChar', 0.3), score(1, 1, 'matching', 0.25)],
    all: [
      score(1, 0, 'previous', 0.93),
      score(0, 1, 'wordStart', 0.61),
      score(1, 1, 'previous', 0.4),
      score(0, 0, 'sameChar', 0.3),
      score(1, 1, 'matching', 0.25),
    ],
    positions: { previous: 24, sameChar: 10, wordStart: 11, matching: 4 },
    patterns: { previous: 'previous character', sameChar: 'same character earlier', wordStart: 'start of the word', matching: 'matching quote or bracket' },
  };
}

/** Head (l, h) from position p: all on p-1 for L2 H1, else on the window's first key. */
function weightsAt(position: number) {
  const from = position < BLOCK ? 0 : position - BLOCK + 1;
  const T = position - from + 1;
  const weights = [0, 1].map((l) =>
    [0, 1].map((h) =>
      Array.from({ length: T }, (_, k) => (l === 1 && h === 0 ? (k === T - 2 || (T === 1 && k === 0) ? 1 : 0) : k === 0 ? 0.7 : 0.3 / (T - 1))),
    ),
  );
  return { position, from, weights };
}

async function setup(model: string) {
  const base = run(1);
  const fake = fakePlatform({ runs: [run(1, { config: { ...base.config, model } as RunSummary['config'] })] });
  const api = fake.api as Record<string, unknown> & { on: Record<string, unknown> };
  const inspect = {
    defaultText: vi.fn(async () => ({ text: TEXT, source: 'the last 10% of cats.txt' })),
    run: vi.fn(async () => {
      throw new Error('not for a Transformer');
    }),
    cell: vi.fn(),
    cancel: vi.fn(async () => {}),
    evolution: vi.fn(async () => []),
    attention: vi.fn(async () => result()),
    attentionAt: vi.fn(async ({ position }: { position: number }) => weightsAt(position)),
  };
  api.inspect = inspect;
  api.on.inspectProgress = () => () => {};
  const runs = new RunsState(fake.platform.api);
  await runs.refresh();
  render(InspectView, { props: { app: new AppState(), api: fake.platform.api, runs } });
  await waitFor(() => expect((screen.getByLabelText('Text to inspect') as HTMLTextAreaElement).value).toBe(TEXT));
  return { inspect };
}

describe('Inspect for a Transformer', () => {
  it('ranks the heads, draws one head’s attention from the chosen character, and follows clicks', async () => {
    const { inspect } = await setup('transformer');
    await fireEvent.click(screen.getByRole('button', { name: 'Inspect' }));
    await waitFor(() => expect(inspect.attention).toHaveBeenCalledWith(expect.objectContaining({ runId: 1, checkpoint: 'best', text: TEXT })));
    expect(inspect.run).not.toHaveBeenCalled();

    // The ranked list, best first, and the best head shown from the last character of the first block.
    const heads = await screen.findByLabelText('Ranked heads');
    expect(
      within(heads)
        .getAllByRole('button')
        .map((b) => b.textContent!.replace(/\s+/g, ' ').trim()),
    ).toEqual(['L2 H1 previous character 0.93', 'L1 H2 start of the word 0.61', 'L1 H1 same character earlier 0.30', 'L2 H2 matching quote or bracket 0.25']);
    await waitFor(() => expect(inspect.attentionAt).toHaveBeenCalledWith({ id: 'a1', position: BLOCK - 1 }));
    const caption = screen.getByTestId('attention-caption');
    await waitFor(() => expect(caption.textContent).toBe(`L2 H1 (tracks previous character, 0.93), from character ${BLOCK - 1}`));
    const spans = screen.getByTestId('cell-text').querySelectorAll<HTMLSpanElement>('span.ch');
    expect(spans).toHaveLength(TEXT.length);
    await waitFor(() => expect(spans[BLOCK - 2]!.style.backgroundColor).toBe(cssColor(attentionColor(1, 1))));
    expect(spans[BLOCK - 1]!.classList.contains('mark')).toBe(true);
    const none = cssColor(attentionColor(0, 1));
    expect(spans[0]!.style.backgroundColor).toBe(none);
    expect(spans[BLOCK]!.style.backgroundColor).toBe(none); // after the position: never attended

    // Click a later character: attention from there, over the block behind it only.
    await fireEvent.click(spans[15]!);
    await waitFor(() => expect(inspect.attentionAt).toHaveBeenLastCalledWith({ id: 'a1', position: 15 }));
    await waitFor(() => expect(spans[14]!.style.backgroundColor).toBe(cssColor(attentionColor(1, 1))));
    expect(spans[15]!.classList.contains('mark')).toBe(true);
    expect(spans[BLOCK - 1]!.classList.contains('mark')).toBe(false);

    // Another head from the list: the window's first key darkest.
    await fireEvent.click(within(heads).getByText('L1 H2'));
    await waitFor(() => expect(caption.textContent).toBe('L1 H2 (tracks start of the word, 0.61), from character 15'));
    expect(spans[15 - BLOCK + 1]!.style.backgroundColor).toBe(cssColor(attentionColor(0.7, 0.7)));
    expect(spans[15 - BLOCK]!.style.backgroundColor).toBe(none); // before the window
    await fireEvent.mouseOver(spans[15 - BLOCK + 1]!);
    expect(screen.getByTestId('attention-info').textContent).toMatch(/L1 H2 puts 70% of its attention/);

    // The best heads for one pattern.
    await fireEvent.change(screen.getByLabelText('Pattern'), { target: { value: 'previous' } });
    expect(
      within(heads)
        .getAllByRole('button')
        .map((b) => b.textContent!.replace(/\s+/g, ' ').trim()),
    ).toEqual(['L2 H1 previous character 0.93', 'L2 H2 previous character 0.40']);

    // Layer and head by selects; every head as a grid, a click there chooses the head.
    await fireEvent.change(screen.getByLabelText('Attention layer'), { target: { value: '1' } });
    await fireEvent.change(screen.getByLabelText('Attention head'), { target: { value: '1' } });
    await waitFor(() => expect(caption.textContent).toMatch(/^L2 H2 /));
    await fireEvent.click(screen.getByLabelText('all heads'));
    const grid = await screen.findAllByTestId('grid-head');
    expect(grid).toHaveLength(4);
    expect(grid[2]!.textContent).toMatch(/L2 H1.*previous character 0\.93/);
    await fireEvent.click(grid[2]!);
    await waitFor(() => expect(caption.textContent).toMatch(/^L2 H1 /));
    expect(grid[2]!.classList.contains('on')).toBe(true);
  });

  it('keeps the cells for a recurrent model', async () => {
    const { inspect } = await setup('lstm');
    await fireEvent.click(screen.getByRole('button', { name: 'Inspect' }));
    await waitFor(() => expect(inspect.run).toHaveBeenCalled());
    expect(inspect.attention).not.toHaveBeenCalled();
    expect(screen.queryByLabelText('Ranked heads')).toBeNull();
  });
});

function cssColor(c: string): string {
  const el = document.createElement('span');
  el.style.backgroundColor = c;
  return el.style.backgroundColor;
}
