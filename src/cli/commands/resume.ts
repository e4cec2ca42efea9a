/** `charmer resume RUN [--data-dir DIR] [--max-iters N] [--max-time S] [--json]`: continue a run from its latest checkpoint. */
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import { configFromValues, configOptionSpecs } from '../options.ts';
import type { TrainConfig } from '../../common/options.ts';
import { resolveConfig } from '../../engine/train.ts';
import { resolveDataDir } from '../../store/datadir.ts';
import { loadEngine } from '../../services/engine.ts';
import { resumeForegroundRun } from '../../services/training.ts';
import { parseId } from './runs.ts';
import { EventPrinter } from '../events.ts';

const specs: OptionSpecs = {
  'data-dir': { type: 'string', help: 'the library folder (default: CHARMER_DATA_DIR or the platform location)' },
  ...configOptionSpecs(['maxIters', 'maxEpochs', 'maxTime'], { withDefault: false }),
  json: { type: 'boolean', help: 'print events as JSON lines', default: false },
  quiet: { type: 'boolean', help: 'print only the end', default: false, short: 'q' },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

const USAGE = 'charmer resume RUN [--data-dir DIR] [--max-iters N] [--max-time S]';

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
    const limits: Partial<TrainConfig> = configFromValues(values);
    // A bad limit is refused before the run is touched (it would otherwise end marked failed).
    resolveConfig(limits);
    const fg = resumeForegroundRun({ dataDir: resolveDataDir(values['data-dir'] as string | undefined), runId });
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const printer = new EventPrinter({ json: values.json as boolean, quiet: values.quiet as boolean, extra: { run_id: runId } });
    try {
      if (!values.quiet && !values.json) process.stderr.write(`Resuming run ${runId} ("${fg.run.name}") from iteration ${fg.fromIteration}.\n`);
      const engine = await loadEngine();
      const corpus = await engine.loadCorpus(fg.corpusFile, { mode: fg.run.config.mode });
      let exit = 0;
      for await (const ev of engine.train({ corpus, config: { ...fg.run.config, ...limits }, out: fg.outDir, resume: true, signal: controller.signal })) {
        fg.record(ev);
        printer.handle(ev);
        if (ev.type === 'error') exit = 2;
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
