/**
 * `charmer train [FILE|names] [options]`: train a model, print progress, write checkpoints, and
 * record the run in the library (unless --no-store). Ctrl-C finishes the step, writes `latest`
 * and exits cleanly; a second Ctrl-C quits at once.
 */
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import { EventPrinter } from '../events.ts';
import type { TrainConfig } from '../../common/options.ts';
import { configFromValues, configOptionSpecs } from '../options.ts';
import { join } from 'node:path';
import {
  BUILTIN_NAMES,
  checkTraining,
  isBuiltinCorpus,
  loadBuiltinCorpus,
  loadCheckpoint,
  loadCorpus,
  loadTableCorpus,
  sampleLines,
  train,
  CharmerError,
  type BabyNameFilter,
} from '../../engine/index.ts';
import { loadLibraryCorpus } from '../../services/library.ts';
import { PRESETS, findPreset } from '../../common/presets/index.ts';
import { resolveDataDir } from '../../services/open.ts';
import { beginForegroundRun, type ForegroundRun } from '../../services/training.ts';

const specs: OptionSpecs = {
  ...configOptionSpecs(),
  preset: {
    type: 'string',
    group: 'data',
    help: `start from a preset: ${PRESETS.map((p) => p.id).join(', ')} (us-baby-names and startup-names: names-large unless another is named)`,
    choices: PRESETS.map((p) => p.id),
  },
  out: { type: 'string', group: 'bookkeeping', help: 'folder for the checkpoints (DIR/best, DIR/latest); default: the run folder in the library' },
  resume: { type: 'boolean', group: 'bookkeeping', help: 'continue exactly from DIR/latest (needs --out)', default: false },
  'init-from': { type: 'string', group: 'bookkeeping', help: 'fine-tune from this checkpoint folder' },
  'data-dir': { type: 'string', group: 'bookkeeping', help: 'the library folder (default: CHARMER_DATA_DIR or the platform location)' },
  store: { type: 'boolean', group: 'bookkeeping', help: 'record the run in the library (--no-store: do not)', default: true },
  name: { type: 'string', group: 'bookkeeping', help: 'a name for the run in the library' },
  json: { type: 'boolean', group: 'bookkeeping', help: 'one JSON object per event on stdout', default: false },
  quiet: { type: 'boolean', group: 'bookkeeping', help: 'print only the end', default: false, short: 'q' },
  categories: {
    type: 'string',
    group: 'data',
    help: "category columns, comma-separated (a CSV/TSV header's names; us-baby-names: sex,decade): one model for all, generation per category",
  },
  'name-column': { type: 'string', group: 'data', help: 'the name column of a CSV/TSV (default: name/title/brand/item, else the first)' },
  sex: { type: 'string', group: 'data', help: 'us-baby-names subset: F or M', choices: ['F', 'M'] },
  since: { type: 'int', group: 'data', help: 'us-baby-names subset: births from this year on' },
  until: { type: 'int', group: 'data', help: 'us-baby-names subset: births up to this year' },
  'min-births': { type: 'int', group: 'data', help: 'us-baby-names subset: at least this many births in those years' },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

const USAGE = 'charmer train [FILE|names|us-baby-names|startup-names] [options]';

export function parseCategoryList(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const list = String(v)
    .split(',')
    .map((c) => c.trim());
  if (list.some((c) => c === ''))
    throw new CharmerError(
      'BAD_OPTION',
      `--categories has an empty column name ("${v}"). Name the columns separated by commas, for example --categories sex,decade.`,
    );
  return list;
}

/** After a lines-mode run, show what it can do: a few items that are not in the corpus. */
async function printNewNames(bestDir: string): Promise<void> {
  const ck = await loadCheckpoint(bestDir).catch(() => null);
  if (!ck) return;
  try {
    const items = await sampleLines(ck.model, { count: 20, temperature: 0.8, newOnly: true, items: ck.items });
    process.stderr.write(`New items from the best checkpoint (not in the corpus; more with: charmer sample ${bestDir} --count 100 --new-only):\n`);
    process.stdout.write(items.map((i) => i.text).join('\n') + '\n');
  } finally {
    ck.model.dispose();
  }
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a model on a text file, a CSV/TSV list with categories, or a built-in corpus',
  async run(argv) {
    const { values, positionals } = parseOptions(argv, specs);
    if (values.help) {
      process.stdout.write(
        formatHelp(
          USAGE,
          specs,
          'Trains a character-level language model. FILE may be a built-in corpus id (charmer corpora lists them: names, us-baby-names, startup-names) and defaults to "names". A CSV/TSV list trains with --categories col,col as one model that generates per category.',
        ),
      );
      return 0;
    }
    if (positionals.length > 1) throw new CharmerError('BAD_OPTION', `Give one corpus file (got ${positionals.length}: ${positionals.join(', ')}).`);
    const source = positionals[0] ?? BUILTIN_NAMES;
    const categories = parseCategoryList(values.categories);
    const nameColumn = values['name-column'] as string | undefined;
    const filter: BabyNameFilter = {};
    if (values.sex !== undefined) filter.sex = values.sex as 'F' | 'M';
    if (values.since !== undefined) filter.since = values.since as number;
    if (values.until !== undefined) filter.until = values.until as number;
    if (values['min-births'] !== undefined) filter.minBirths = values['min-births'] as number;
    const hasFilter = Object.keys(filter).length > 0;
    if (hasFilter && source !== 'us-baby-names')
      throw new CharmerError('BAD_OPTION', '--sex, --since, --until and --min-births choose a subset of us-baby-names; they do not apply to other corpora.');

    // The built-in name lists train with the names-large preset unless another is named.
    const presetId = (values.preset as string | undefined) ?? (source === 'us-baby-names' || source === 'startup-names' ? 'names-large' : undefined);
    const preset = presetId ? findPreset(presetId) : undefined;
    const config: Partial<TrainConfig> = { ...preset?.config, ...configFromValues(values) };
    if (isBuiltinCorpus(source) || categories || /\.(csv|tsv)$/i.test(source)) config.mode = 'lines';

    let out = values.out as string | undefined;
    const resume = values.resume as boolean;
    if (resume && !out)
      throw new CharmerError('BAD_OPTION', 'Resuming needs the checkpoint folder: --resume --out DIR (or use "charmer resume RUN" for a run in the library).');

    const controller = new AbortController();
    let interrupts = 0;
    const onSignal = () => {
      if (++interrupts > 1) process.exit(130);
      process.stderr.write('\nStopping after this step (Ctrl-C again to quit at once)...\n');
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    let fg: ForegroundRun | null = null;
    const printer = new EventPrinter({ json: values.json as boolean, quiet: values.quiet as boolean });
    let exit = 0;
    try {
      if (!out && !(values.store && !resume)) throw new CharmerError('BAD_OPTION', 'With --no-store, say where the checkpoints go: --out DIR.');
      const showLoad = !values.json && !values.quiet && process.stderr.isTTY;
      const onProgress = showLoad
        ? (p: { bytesRead: number; totalBytes: number }) => process.stderr.write(`\rReading ${Math.round((100 * p.bytesRead) / p.totalBytes)}%`)
        : undefined;
      // Read from its source first, so that whatever train() would refuse is refused before the
      // library gets a run or a folder.
      let corpus = isBuiltinCorpus(source)
        ? loadBuiltinCorpus(source, { ...(categories ? { categories } : {}), ...(hasFilter ? { filter } : {}) })
        : categories || nameColumn || /\.(csv|tsv)$/i.test(source)
          ? await loadTableCorpus(source, { categories: categories ?? [], ...(nameColumn ? { nameColumn } : {}) })
          : await loadCorpus(source, { mode: config.mode, signal: controller.signal, onProgress });
      if (showLoad) process.stderr.write('\r\x1b[2K');
      config.mode ??= corpus.mode;
      // Everything train() would refuse is refused here, before the library gets a run or a folder.
      if (!resume) await checkTraining({ corpus, config, initFrom: values['init-from'] as string | undefined });
      if (values.store && !resume) {
        fg = await beginForegroundRun({
          dataDir: resolveDataDir(values['data-dir'] as string | undefined),
          corpus: source,
          config,
          name: values.name as string | undefined,
          initFrom: values['init-from'] as string | undefined,
          ...(categories ? { categories } : {}),
          ...(nameColumn ? { nameColumn } : {}),
          ...(hasFilter ? { filter } : {}),
        });
        if (fg.store.notice) process.stderr.write(`charmer: ${fg.store.notice}\n`);
        out ??= fg.outDir;
        if (!values.json && !values.quiet) process.stderr.write(`Run ${fg.run.id} in the library; checkpoints in ${out}\n`);
        // The run trains on the library's copy, under the library's name and built-in id (name cards
        // look the id up); it holds what was just checked.
        corpus = await loadLibraryCorpus(fg.store, fg.corpus, { mode: config.mode ?? corpus.mode, signal: controller.signal });
      }
      if (!out) throw new CharmerError('BAD_OPTION', 'With --no-store, say where the checkpoints go: --out DIR.');
      for await (const ev of train({ corpus, config, out, resume, initFrom: values['init-from'] as string | undefined, signal: controller.signal })) {
        fg?.record(ev);
        printer.handle(ev);
        if (ev.type === 'error') exit = 1;
      }
      fg?.finish();
      if (exit === 0 && corpus.mode === 'lines' && !values.json && !values.quiet) await printNewNames(join(out, 'best'));
    } catch (e) {
      fg?.finish(e);
      if (values.json && e instanceof CharmerError) {
        process.stdout.write(JSON.stringify({ type: 'error', code: e.code, message: e.message }) + '\n');
      }
      throw e;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return exit;
  },
};
