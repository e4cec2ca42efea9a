/**
 * `charmer corpora`: the built-in corpora, with their ids (usable wherever a file path is), items,
 * mode, category columns with their values, and where the data comes from under which licence.
 */
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import { builtinCorpusListing } from '../../engine/index.ts';

const specs: OptionSpecs = {
  json: { type: 'boolean', help: 'one JSON object per corpus: id, name, items, mode, categories, source, licence, url', default: false },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

export const corporaCommand: Command = {
  name: 'corpora',
  summary: 'list the built-in corpora (ids to train on, categories, sources and licences)',
  async run(argv) {
    const { values } = parseOptions(argv, specs);
    if (values.help) {
      process.stdout.write(formatHelp('charmer corpora [--json]', specs, 'The built-in corpora. Train on one with: charmer train ID [--categories col,col].'));
      return 0;
    }
    for (const c of builtinCorpusListing()) {
      if (values.json) {
        process.stdout.write(JSON.stringify(c) + '\n');
        continue;
      }
      const cats = Object.entries(c.categories).map(
        ([k, v]) => `${k}: ${v.length > 8 ? `${v.slice(0, 4).join(', ')} ... ${v.at(-1)} (${v.length})` : v.join(', ')}`,
      );
      process.stdout.write(
        `${c.id}\t${c.name}, ${c.items.toLocaleString('en-US')} items${cats.length ? `; categories ${cats.join('; ')}` : ''}\n  source: ${c.source}\n  licence: ${c.licence}\n`,
      );
    }
    return 0;
  },
};
