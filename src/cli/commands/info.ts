/** `charmer info CHECKPOINT`: configuration, vocabulary and validation-loss history of a checkpoint. */
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import { snakeKeys } from '../events.ts';
import { describeChar, describeModel, readCheckpointInfo } from '../../engine/index.ts';

const specs: OptionSpecs = {
  json: { type: 'boolean', help: 'print one JSON object', default: false },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

export const infoCommand: Command = {
  name: 'info',
  summary: "show a checkpoint's settings, vocabulary and loss history",
  async run(argv) {
    const { values, positionals } = parseOptions(argv, specs);
    if (values.help || positionals.length !== 1) {
      process.stdout.write(formatHelp('charmer info CHECKPOINT [--json]', specs));
      return values.help ? 0 : 2;
    }
    const info = await readCheckpointInfo(positionals[0]!);
    const m = info.meta;
    const valHistory = m.history.filter((h) => h.valLoss !== undefined).map((h) => ({ iteration: h.iteration, valLoss: h.valLoss! }));
    if (values.json) {
      process.stdout.write(
        JSON.stringify({
          path: info.path,
          mode: m.mode,
          config: snakeKeys(m.config),
          vocab: m.vocab,
          vocab_size: m.vocab.length,
          params: info.params,
          iteration: m.iteration,
          epoch: m.epoch,
          val_loss: m.valLoss,
          best_val_loss: m.bestValLoss,
          baseline_val_loss: m.baselineValLoss,
          corpus: m.corpusName,
          corpus_hash: m.corpusHash,
          val_history: valHistory.map((h) => ({ iteration: h.iteration, val_loss: h.valLoss })),
          train_history: m.history.filter((h) => h.trainLoss !== undefined).map((h) => ({ iteration: h.iteration, train_loss: h.trainLoss })),
        }) + '\n',
      );
      return 0;
    }
    const c = m.config;
    const lines = [
      `Checkpoint   ${info.path}`,
      `Model        ${describeModel(c)}, ${info.params.toLocaleString('en-US')} parameters (${(info.sizeBytes / 1e6).toFixed(1)} MB)`,
      `Corpus       ${m.corpusName} (${m.mode} mode)`,
      `Trained      ${m.iteration} iterations, ${m.epoch.toFixed(2)} epochs`,
      `Val loss     ${m.valLoss?.toFixed(4) ?? '-'} nats/char (best ${m.bestValLoss?.toFixed(4) ?? '-'}; count n-gram baseline ${m.baselineValLoss?.toFixed(4) ?? '-'})`,
      `Vocabulary   ${m.vocab.length} characters: ${m.vocab.map((ch) => (ch.trim() && ch.codePointAt(0)! >= 32 ? ch : describeChar(ch))).join('')}`,
      `Settings     ${Object.entries(c)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
      'Val history  ' + (valHistory.length ? valHistory.map((h) => `${h.iteration}:${h.valLoss.toFixed(3)}`).join(' ') : '-'),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
