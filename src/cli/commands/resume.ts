/** `charmer resume RUN [--data-dir DIR] [--max-iters N] [--max-time S] [--json]`: continue a run from its latest checkpoint. */
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import type { TrainConfig } from '../../engine/config.ts';
import { resolveDataDir } from '../../store/datadir.ts';
import { loadEngine } from '../../services/engine.ts';
import { resumeForegroundRun } from '../../services/training.ts';
import { parseId } from './runs.ts';

const specs: OptionSpecs = {
  'data-dir': { type: 'string', help: 'the library folder (default: CHARMER_DATA_DIR or the platform location)' },
  'max-iters': { type: 'int', help: 'stop after this many steps in all (0 = no limit)' },
  'max-epochs': { type: 'number', help: 'stop after this many epochs in all' },
  'max-time': { type: 'number', help: 'stop after this many seconds (0 = no limit)' },
  json: { type: 'boolean', help: 'print events as JSON lines', default: false },
  quiet: { type: 'boolean', help: 'print only the end', default: false, short: 'q' },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

const USAGE = 'charmer resume RUN [--data-dir DIR] [--max-iters N] [--max-time S]';

function snake(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`), v]));
}

export const resumeCommand: Command = {
  name: 'resume',
  summary: 'continue an interrupted or stopped run from its last checkpoint',
  async run(argv) {
    const { values, positionals } = parseOptions(argv, specs);
    if (values.help) {
      process.stdout.write(formatHelp(USAGE, specs, 'Continues exactly where runs/<id>/latest left off and records into the same run.'));
      return 0;
    }
    const runId = parseId(positionals[0], 'run');
    const fg = resumeForegroundRun({ dataDir: resolveDataDir(values['data-dir'] as string | undefined), runId });
    const limits: Partial<TrainConfig> = {};
    if (values['max-iters'] !== undefined) limits.maxIters = values['max-iters'] as number;
    if (values['max-epochs'] !== undefined) limits.maxEpochs = values['max-epochs'] as number;
    if (values['max-time'] !== undefined) limits.maxTime = values['max-time'] as number;
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const err = (s: string) => process.stderr.write(s);
    try {
      if (!values.quiet && !values.json) err(`Resuming run ${runId} ("${fg.run.name}") from iteration ${fg.fromIteration}.\n`);
      const engine = await loadEngine();
      const corpus = await engine.loadCorpus(fg.corpusFile, { mode: fg.run.config.mode });
      let exit = 0;
      for await (const ev of engine.train({ corpus, config: { ...fg.run.config, ...limits }, out: fg.outDir, resume: true, signal: controller.signal })) {
        fg.record(ev);
        if (values.json) process.stdout.write(JSON.stringify(snake({ ...ev, run_id: runId } as Record<string, unknown>)) + '\n');
        else if (!values.quiet) {
          if (ev.type === 'eval') err(`iter ${ev.iteration}: val loss ${ev.valLoss.toFixed(4)} (best ${ev.bestValLoss.toFixed(4)})\n`);
          else if (ev.type === 'progress' && ev.iteration % 50 === 0) err(`iter ${ev.iteration}/${ev.totalIters}: train loss ${ev.trainLoss.toFixed(4)}, ${Math.round(ev.charsPerS)} chars/s\n`);
        }
        if (ev.type === 'done' && !values.json) err(`Run ${runId} ${ev.reason === 'stopped' ? 'stopped' : 'finished'} at iteration ${ev.iteration}; best val loss ${ev.bestValLoss?.toFixed(4) ?? '-'}.\n`);
        if (ev.type === 'error') {
          if (!values.json) err(`charmer: ${ev.message}\n`);
          exit = 2;
        }
      }
      fg.finish();
      return exit;
    } catch (e) {
      fg.finish(e);
      throw e;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
