/** `charmer gallery [list | search TEXT | favorite ID | unfavorite ID | export]`: texts kept in the library. */
import fs from 'node:fs';
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import { CharmerError } from '../../common/errors.ts';
import { openLibraryStore } from '../../services/open.ts';
import { createGalleryService } from '../../services/gallery.ts';
import type { SampleQuery, SampleRow } from '../../services/types.ts';
import { EXPORT_FORMATS, SAMPLE_SORTS, type ExportFormat, type SampleSort } from '../../common/enums.ts';
import { parseId } from './runs.ts';

const specs: OptionSpecs = {
  'data-dir': { type: 'string', help: 'the library folder (default: CHARMER_DATA_DIR or the platform location)' },
  run: { type: 'int', help: 'only texts of this run' },
  favorites: { type: 'boolean', help: 'only favourites', default: false },
  training: { type: 'boolean', help: 'include the samples printed during training', default: false },
  sort: { type: 'string', help: 'order', choices: SAMPLE_SORTS, default: 'newest' },
  limit: { type: 'int', help: 'at most this many', default: 100 },
  format: { type: 'string', help: 'export format', choices: EXPORT_FORMATS, default: 'csv' },
  out: { type: 'string', help: 'export to this file (default: standard output)' },
  json: { type: 'boolean', help: 'list as JSON lines', default: false },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

const USAGE = 'charmer gallery [list | search TEXT | favorite ID | unfavorite ID | export] [options]';

function line(s: SampleRow): string {
  const text = s.text.length > 70 ? `${s.text.slice(0, 67).replace(/\n/g, '⏎')}...` : s.text.replace(/\n/g, '⏎');
  return `${String(s.id).padStart(5)} ${s.favorite ? '★' : ' '} ${text}${s.runName ? `  [${s.runName}]` : ''}`;
}

export const galleryCommand: Command = {
  name: 'gallery',
  summary: 'list, search, favourite and export the generated texts kept in the library',
  async run(argv) {
    const { values, positionals } = parseOptions(argv, specs);
    if (values.help) {
      process.stdout.write(formatHelp(USAGE, specs));
      return 0;
    }
    const [action = 'list', ...rest] = positionals;
    const store = openLibraryStore(values['data-dir'] as string | undefined);
    try {
      const gallery = createGalleryService(store);
      const q: SampleQuery = {
        sort: values.sort as SampleSort,
        limit: values.limit as number,
        ...(values.run !== undefined ? { runId: values.run as number } : {}),
        ...(values.favorites ? { favorite: true } : {}),
        ...(values.training ? {} : { source: 'generated' as const }),
      };
      const print = (items: SampleRow[], total: number) => {
        if (values.json) for (const s of items) process.stdout.write(JSON.stringify(s) + '\n');
        else {
          for (const s of items) process.stdout.write(line(s) + '\n');
          if (total > items.length) process.stdout.write(`(${total - items.length} more; use --limit)\n`);
          if (!total) process.stdout.write('Nothing here yet.\n');
        }
      };
      switch (action) {
        case 'list': {
          const r = await gallery.listSamples(q);
          print(r.items, r.total);
          return 0;
        }
        case 'search': {
          const text = rest.join(' ');
          if (!text) throw new CharmerError('BAD_OPTION', 'Give the text to search for: charmer gallery search TEXT');
          const r = await gallery.listSamples({ ...q, search: text });
          print(r.items, r.total);
          return 0;
        }
        case 'favorite':
        case 'favourite':
        case 'unfavorite':
        case 'unfavourite': {
          const id = parseId(rest[0], 'text');
          await gallery.setFavorite(id, !action.startsWith('un'));
          process.stdout.write(`${action.startsWith('un') ? 'Unmarked' : 'Marked'} ${id} as a favourite.\n`);
          return 0;
        }
        case 'export': {
          const ids = rest.length
            ? rest.map((r) => parseId(r, 'text'))
            : (await gallery.listSamples({ ...q, limit: 100_000, sort: values.sort === 'newest' ? 'oldest' : (values.sort as SampleSort) })).items.map(
                (s) => s.id,
              );
          const content = await gallery.exportSamples(ids, values.format as ExportFormat);
          if (values.out) {
            const tmp = `${values.out}.tmp-${process.pid}`;
            fs.writeFileSync(tmp, content);
            fs.renameSync(tmp, values.out as string);
            process.stderr.write(`Wrote ${ids.length} text${ids.length === 1 ? '' : 's'} to ${values.out}\n`);
          } else process.stdout.write(content);
          return 0;
        }
        default:
          throw new CharmerError('BAD_OPTION', `Unknown action "${action}". Usage: ${USAGE}`);
      }
    } finally {
      store.close();
    }
  },
};
