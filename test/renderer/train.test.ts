import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import TrainView from '../../src/renderer/views/TrainView.svelte';
import { AppState } from '../../src/renderer/lib/app.svelte.ts';
import { LibraryState } from '../../src/renderer/lib/library.svelte.ts';
import { RunsState } from '../../src/renderer/lib/runs.svelte.ts';
import { DEFAULT_CONFIG, OPTIONS, OPTION_LIST, PRESETS } from '../../src/api/training.ts';
import { MODEL_TYPES } from '../../src/common/enums.ts';
import { fakePlatform, run } from './fake-platform.ts';
import { plots } from './setup-uplot.ts';

async function setup(opts: Parameters<typeof fakePlatform>[0] = {}) {
  const fake = fakePlatform(opts);
  const app = new AppState();
  const library = new LibraryState(fake.platform);
  const runs = new RunsState(fake.platform.api);
  await library.refresh();
  await runs.refresh();
  render(TrainView, { props: { app, api: fake.platform.api, library, runs, corpusId: 1 } });
  return { fake, app, library, runs };
}

const nextFrame = () => new Promise((r) => setTimeout(r, 40));

describe('Training view', () => {
  it('offers the presets with size and time estimates', async () => {
    const { fake } = await setup();
    for (const p of PRESETS) expect(screen.getByRole('radio', { name: new RegExp(p.label) })).toBeTruthy();
    await waitFor(() => expect(screen.getAllByTestId('preset-estimate')[0]!.textContent).toMatch(/277K parameters · about 2 min/));
    expect(screen.getAllByTestId('preset-estimate')[0]!.textContent).toMatch(/rough figure/);
    expect(fake.api.runs.estimate).toHaveBeenCalledWith(expect.objectContaining({ corpusId: 1 }));
  });

  it('puts every declared option behind Advanced: a field under its group with its help, default and choices, model-specific ones with their models only', async () => {
    await setup();
    expect(screen.queryByLabelText('rnn-size')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: /Advanced/ }));
    const chooseModel = (m: string) => fireEvent.change(screen.getByLabelText(OPTIONS.model.flag), { target: { value: m } });
    for (const o of OPTION_LIST) {
      if (o.models) {
        const other = MODEL_TYPES.find((m) => !o.models!.includes(m));
        if (other) {
          await chooseModel(other);
          expect(screen.queryByLabelText(o.flag), `${o.key} with ${other}`).toBeNull();
        }
        await chooseModel(o.models[0]!);
      }
      const input = screen.getByLabelText(o.flag);
      expect(input.closest('fieldset')!.querySelector('legend')!.textContent, o.key).toBe(o.group);
      const row = input.closest('.opt')!.textContent!;
      expect(row).toContain(o.help);
      expect(row).toContain(`(default ${String(o.default)})`);
      if (o.choices) expect([...(input as HTMLSelectElement).options].map((x) => x.value)).toEqual([...o.choices]);
      else expect((input as HTMLInputElement).step).toBe(o.integer ? '1' : 'any');
    }
    await chooseModel('transformer');
    expect(screen.getByLabelText('n-head')).toBeTruthy();
    expect(screen.queryByLabelText('rnn-size')).toBeNull();
  });

  it('starts a run with the preset and the advanced edits, then shows it live', async () => {
    const { fake, runs } = await setup();
    await fireEvent.click(screen.getByRole('button', { name: /Advanced/ }));
    await fireEvent.change(screen.getByLabelText('rnn-size'), { target: { value: '64' } });
    await fireEvent.change(screen.getByLabelText('model'), { target: { value: 'gru' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Start training' }));
    await waitFor(() => expect(fake.api.runs.start).toHaveBeenCalled());
    const sent = fake.api.runs.start.mock.calls[0]![0];
    expect(sent.corpusId).toBe(1);
    expect(sent.config).toMatchObject({ ...PRESETS[0]!.config, rnnSize: 64, model: 'gru', mode: 'lines' });
    await waitFor(() => expect(screen.getByTestId('run-title').textContent).toBe('new run'));
    const id = runs.openId!;

    fake.emitRun({
      runId: id,
      kind: 'train',
      event: {
        type: 'start',
        config: { ...DEFAULT_CONFIG },
        backend: { backend: 'wasm', device: 'CPU (WebAssembly, 1 thread)', threads: 1 },
        vocabSize: 54,
        params: 277000,
        trainChars: 50000,
        valChars: 5000,
        itersPerEpoch: 100,
        totalIters: 1000,
        startIteration: 0,
        baselineValLoss: 2.15,
        baselineOrder: 3,
      },
    });
    for (let i = 1; i <= 20; i++)
      fake.emitRun({
        runId: id,
        kind: 'train',
        event: {
          type: 'progress',
          iteration: i,
          epoch: i / 100,
          trainLoss: 4 - i * 0.05,
          lr: 0.002,
          charsPerS: 2800,
          elapsedS: i,
          etaS: 300,
          totalIters: 1000,
        },
      });
    fake.emitRun({ runId: id, kind: 'train', event: { type: 'eval', iteration: 20, epoch: 0.2, valLoss: 3.1, bestValLoss: 3.1, trainLoss: 3 } });
    fake.emitRun({ runId: id, kind: 'train', event: { type: 'sample', iteration: 20, text: 'Marla\nJosie', valLoss: 3.1, temperature: 1 } });
    await nextFrame();
    await waitFor(() => expect(screen.getByTestId('live-iteration').textContent).toBe('20 / 1000'));
    expect(screen.getByTestId('live-speed').textContent).toBe((2800).toLocaleString());
    expect(screen.getByTestId('run-backend').textContent).toContain('CPU (WebAssembly, 1 thread)');
    expect(screen.getByTestId('samples').textContent).toContain('Marla');
    const chart = screen.getByTestId('loss-chart');
    expect(chart.dataset.series).toBe('train,validation');
    expect(chart.dataset.points).toBe('20,1');
    expect(chart.dataset.baseline).toBe('2.15');
    const plot = plots.at(-1)!;
    expect(plot.opts.series.map((s) => s.label)).toEqual(['iteration', 'train', 'validation', 'n-gram baseline']);
    expect(plot.data[0]).toHaveLength(20);
    // 20 of 1000 iterations, but 20 s of the preset's 60 s budget: the time budget ends it first.
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe(String(Math.round((20 / PRESETS[0]!.config.maxTime!) * 100)));
  });

  it('pauses, continues and stops the open run', async () => {
    const { fake, runs } = await setup({ runs: [run(1, { status: 'running' })] });
    await runs.openRun(1);
    await fireEvent.click(await screen.findByRole('button', { name: 'Pause' }));
    await waitFor(() => expect(fake.api.runs.pause).toHaveBeenCalledWith({ id: 1 }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Continue' }));
    await waitFor(() => expect(fake.api.runs.continue).toHaveBeenCalledWith({ id: 1 }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Stop' }));
    await waitFor(() => expect(fake.api.runs.stop).toHaveBeenCalledWith({ id: 1 }));
    await waitFor(() => expect(screen.getByTestId('run-status').textContent).toBe('stopped'));
    await fireEvent.click(await screen.findByRole('button', { name: 'Resume training' }));
    await waitFor(() => expect(fake.api.runs.resume).toHaveBeenCalledWith({ id: 1 }));
  });

  it('reopens a past run with its curve, samples and checkpoints, and overlays another to compare', async () => {
    await setup({ runs: [run(1), run(2, { name: 'bigger' })] });
    const list = screen.getByRole('list', { name: 'Runs' });
    await fireEvent.click(within(list).getByRole('button', { name: /#1/ }));
    await waitFor(() => expect(screen.getByTestId('run-title').textContent).toBe('names lstm 2x128 #1'));
    expect(screen.getByTestId('loss-chart').dataset.points).toBe('2,1');
    expect(screen.getByTestId('samples').textContent).toContain('Marlen');
    expect(screen.getByTestId('checkpoints').textContent).toContain('latest · iteration 100');
    const boxes = within(list).getAllByRole('checkbox');
    await fireEvent.click(boxes[1]!);
    await waitFor(() => expect(screen.getByTestId('loss-chart').dataset.series).toBe('train,validation,bigger (val)'));
  });

  it('draws a compared run with a single validation point as a dot (a line of one point draws nothing)', async () => {
    await setup({ runs: [run(1), run(2, { name: 'young' })] });
    const list = screen.getByRole('list', { name: 'Runs' });
    // Compare only: the fake run's metrics hold one validation point.
    await fireEvent.click(within(list).getAllByRole('checkbox')[1]!);
    await waitFor(() => expect(screen.getByTestId('loss-chart').dataset.series).toBe('young (val)'));
    const plot = plots.at(-1)! as unknown as { opts: { series: Array<{ label?: string; points?: { show?: unknown } }> }; data: unknown[][] };
    const i = plot.opts.series.findIndex((s) => s.label === 'young (val)');
    expect((plot.data[i] as Array<number | null>).filter((v) => v != null)).toEqual([2.8]);
    const show = plot.opts.series[i]!.points!.show;
    expect(typeof show === 'function' ? show(plot, i) : show).toBe(true);
  });

  it('the run list shows the live iteration and validation loss of a run that is training', async () => {
    const { fake } = await setup({ runs: [run(1, { status: 'running', iterations: 0, bestValLoss: null }), run(2, { name: 'other' })] });
    const list = screen.getByRole('list', { name: 'Runs' });
    const meta = () => within(list).getAllByTestId('run-meta')[0]!.textContent;
    expect(meta()).toMatch(/0 it · val —/);
    for (let i = 1; i <= 79; i++)
      fake.emitRun({
        runId: 1,
        kind: 'train',
        event: { type: 'progress', iteration: i, epoch: i / 100, trainLoss: 3, lr: 0.002, charsPerS: 2800, elapsedS: i, etaS: 300, totalIters: 1000 },
      });
    fake.emitRun({ runId: 1, kind: 'train', event: { type: 'eval', iteration: 79, epoch: 0.79, valLoss: 2.61, bestValLoss: 2.61, trainLoss: 2.7 } });
    await nextFrame();
    await waitFor(() => expect(meta()).toMatch(/79 it · val 2\.61/));
  });

  it('shows a backend error as the message the services gave', async () => {
    const { fake, app } = await setup();
    fake.api.runs.start.mockRejectedValueOnce(
      Object.assign(new Error('No backend could start: install tfjs-node or use wasm.'), { name: 'ApiError', code: 'BACKEND_UNAVAILABLE' }),
    );
    await fireEvent.click(screen.getByRole('button', { name: 'Start training' }));
    await waitFor(() => expect(app.notices.at(-1)?.text).toBe('No backend could start: install tfjs-node or use wasm.'));
    expect(app.notices.at(-1)?.code).toBe('BACKEND_UNAVAILABLE');
  });
});
