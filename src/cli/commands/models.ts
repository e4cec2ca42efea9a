/**
 * `charmer models [--json]`: every model that can be sampled: the shipped starters (by id, e.g.
 * `charmer sample shakespeare`) and the library's runs (by run id). A starter's library copy is
 * listed once, as the starter.
 */
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import { openLibraryStore } from '../../services/open.ts';
import { listStarters, starterOfRun } from '../../services/starters.ts';
import type { CorpusMode } from '../../common/enums.ts';

const specs: OptionSpecs = {
  'data-dir': { type: 'string', help: 'the library folder (default: CHARMER_DATA_DIR or the platform location)' },
  json: { type: 'boolean', help: 'one JSON object per model and line: id, name, kind (text or lines), source, val_loss', default: false },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

interface ModelLine {
  id: string | number;
  name: string;
  kind: CorpusMode;
  source: 'starter' | 'run';
  val_loss: number | null;
  status: string;
}

export const modelsCommand: Command = {
  name: 'models',
  summary: 'list the models you can sample: the starters and the library runs',
  async run(argv) {
    const { values } = parseOptions(argv, specs);
    if (values.help) {
      process.stdout.write(
        formatHelp(
          'charmer models [--json] [--data-dir DIR]',
          specs,
          'Sample one with charmer sample ID (a starter id such as shakespeare, or a checkpoint folder).',
        ),
      );
      return 0;
    }
    const lines: ModelLine[] = listStarters().map((s) => ({ id: s.id, name: s.name, kind: s.mode, source: 'starter', val_loss: s.valLoss, status: 'starter' }));
    const store = openLibraryStore(values['data-dir'] as string | undefined);
    try {
      for (const r of store.listRuns()) {
        if (starterOfRun(store, r.id)) continue;
        lines.push({ id: r.id, name: r.name, kind: r.config.mode, source: 'run', val_loss: r.bestValLoss, status: r.status });
      }
    } finally {
      store.close();
    }
    for (const m of lines) {
      process.stdout.write(
        values.json
          ? JSON.stringify(m) + '\n'
          : `${String(m.id).padEnd(14)} ${m.kind.padEnd(5)} ${m.val_loss === null ? '     -' : m.val_loss.toFixed(4)}  ${m.name}\n`,
      );
    }
    return 0;
  },
};
