/** `charmer baseline FILE`: how far counting goes (Goldberg's reply to the post), in nats/char. */
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import { BUILTIN_NAMES, CharmerError, loadCorpus, ngramBaseline, splitCorpus, type Split } from '../../engine/index.ts';
import { CORPUS_MODES, type CorpusMode } from '../../common/enums.ts';
import { DEFAULT_CONFIG } from '../../common/options.ts';
import { configOptionSpecs } from '../options.ts';

const specs: OptionSpecs = {
  mode: { type: 'string', help: 'text or lines (default: lines for names, text otherwise)', choices: CORPUS_MODES },
  'val-fraction': { ...configOptionSpecs(['valFraction'])['val-fraction']!, group: undefined, default: DEFAULT_CONFIG.valFraction },
  seed: { type: 'int', help: 'seed of the lines-mode split', default: DEFAULT_CONFIG.seed },
  json: { type: 'boolean', help: 'print one JSON object', default: false },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

export const baselineCommand: Command = {
  name: 'baseline',
  summary: 'validation loss of count n-gram models (orders 0-6) on a corpus',
  async run(argv) {
    const { values, positionals } = parseOptions(argv, specs);
    if (values.help) {
      process.stdout.write(formatHelp('charmer baseline [FILE|names] [options]', specs));
      return 0;
    }
    if (positionals.length > 1) throw new CharmerError('BAD_OPTION', 'Give one corpus file.');
    const source = positionals[0] ?? BUILTIN_NAMES;
    const mode = (values.mode as CorpusMode | undefined) ?? (source === BUILTIN_NAMES ? 'lines' : 'text');
    const corpus = await loadCorpus(source, { mode });
    const { train, val } = splitCorpus(corpus, values['val-fraction'] as number, values.seed as number);
    const lines = (s: Split) => (s.mode === 'lines' ? s.items : []);
    const r =
      train.mode === 'text' && val.mode === 'text'
        ? ngramBaseline({ mode: 'text', vocabSize: corpus.vocab.size, train: train.data, val: val.data })
        : ngramBaseline({ mode: 'lines', vocabSize: corpus.vocab.size, boundary: corpus.vocab.indexOf('\n'), train: lines(train), val: lines(val) });
    if (values.json) {
      process.stdout.write(
        JSON.stringify({
          corpus: corpus.name,
          mode,
          best_order: r.order,
          best_k: r.k,
          val_loss: r.valLoss,
          unigram_loss: r.unigramLoss,
          table: r.table.map((t) => ({ order: t.order, k: t.k, val_loss: t.valLoss })),
        }) + '\n',
      );
      return 0;
    }
    const byOrder = new Map<number, { k: number; valLoss: number }>();
    for (const t of r.table) if (!byOrder.has(t.order) || t.valLoss < byOrder.get(t.order)!.valLoss) byOrder.set(t.order, t);
    process.stdout.write(
      `Count n-gram baseline on ${corpus.name} (${mode} mode, ${Math.round((1 - (values['val-fraction'] as number)) * 100)}/${Math.round((values['val-fraction'] as number) * 100)} split), validation loss in nats/char:\n`,
    );
    for (const [order, t] of [...byOrder].sort((a, b) => a[0] - b[0])) {
      process.stdout.write(
        `  order ${order} (${order === 0 ? 'unigram' : `${order + 1}-gram`}): ${t.valLoss.toFixed(3)}  (add-k ${t.k})${order === r.order ? '  <- best' : ''}\n`,
      );
    }
    return 0;
  },
};
