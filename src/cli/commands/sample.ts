/**
 * `charmer sample CHECKPOINT`: text streamed character by character (text models), or N items
 * tagged train / val / new (lines models). --json: one object per sample.
 */
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs, type ParsedValues } from '../args.ts';
import { existsSync } from 'node:fs';
import { findStarter } from '../../services/starters.ts';
import { BACKEND_CHOICES } from '../../common/enums.ts';
import { OPTIONS } from '../../common/options.ts';
import { DEFAULT_GUIDANCE, MAX_GUIDANCE } from '../../common/samples.ts';
import {
  CharmerError,
  checkLineConstraints,
  chooseBackend,
  loadCheckpoint,
  lookupName,
  nameKindOf,
  nearestBrands,
  sampleLines,
  sampleText,
  type BackendName,
} from '../../engine/index.ts';

const specs: OptionSpecs = {
  temperature: { type: 'number', help: 'randomness: 0 = always the likeliest character, 1 = the model as learned, above 1 wilder', default: 0.8 },
  'top-k': { type: 'int', help: 'draw only from the k likeliest characters (0 = all)', default: 0 },
  prime: { type: 'string', help: 'text to continue from (text models)', default: '' },
  'skip-unknown': { type: 'boolean', help: 'drop prime characters the model never saw instead of stopping', default: false },
  length: { type: 'int', help: 'characters per sample (text models)', default: 500 },
  count: { type: 'int', help: 'number of samples (lines models: items)', default: 1 },
  seed: { type: 'int', help: 'random seed (the same seed gives the same samples)' },
  'new-only': { type: 'boolean', help: 'lines models: only items not in the training corpus', default: false },
  prefix: { type: 'string', help: 'lines models: items start with this' },
  contains: { type: 'string', help: 'lines models: items contain this' },
  suffix: { type: 'string', help: 'lines models: items end with this' },
  'min-length': { type: 'int', help: 'lines models: shortest item' },
  'max-length': { type: 'int', help: 'lines models: longest item' },
  category: {
    type: 'string',
    help: 'lines models with categories: a value to generate for ("F", "1920s", or "sex=F"); repeat for more (several values of one column are a mix)',
  },
  guidance: {
    type: 'number',
    help: `lines models with categories, a category asked for: how hard each character is pushed towards it and away from the other values (classifier-free guidance; 0 = the model as learned, at most ${MAX_GUIDANCE})`,
    default: DEFAULT_GUIDANCE,
  },
  backend: { type: 'string', help: OPTIONS.backend.help, default: 'auto', choices: BACKEND_CHOICES },
  json: {
    type: 'boolean',
    help: 'one JSON object per sample: text, logprob; lists add novelty, category (asked), categories (written for), known {sex, births, peak_year} for a known baby name, nearest_brand for a brand model',
    default: false,
  },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

/** --category may be repeated: collected here, as the option parser keeps one value per option. */
function takeCategories(argv: string[]): { asked: string[]; rest: string[] } {
  const asked: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--category') {
      if (i + 1 >= argv.length) throw new CharmerError('BAD_OPTION', '--category needs a value, for example --category F.');
      asked.push(argv[++i]!);
    } else if (a.startsWith('--category=')) asked.push(a.slice('--category='.length));
    else rest.push(a);
  }
  return { asked, rest };
}

/** Out-of-range values and impossible constraints (a prefix longer than --max-length...), refused before any work. */
function checkOptions(v: ParsedValues): void {
  const temperature = v.temperature as number;
  if (temperature < 0) throw new CharmerError('BAD_OPTION', `--temperature must be 0 or more (got ${temperature}).`);
  const count = v.count as number;
  if (count < 1) throw new CharmerError('BAD_OPTION', `--count must be at least 1 (got ${count}).`);
  if ((v['top-k'] as number) < 0) throw new CharmerError('BAD_OPTION', `--top-k must be 0 (all characters) or more (got ${v['top-k']}).`);
  const g = v.guidance as number;
  if (!(g >= 0 && g <= MAX_GUIDANCE)) throw new CharmerError('BAD_OPTION', `--guidance must be between 0 (none) and ${MAX_GUIDANCE} (got ${g}).`);
  if ((v.length as number) < 1) throw new CharmerError('BAD_OPTION', `--length must be at least 1 (got ${v.length}).`);
  for (const k of ['min-length', 'max-length'] as const) {
    if (v[k] !== undefined && (v[k] as number) < 1) throw new CharmerError('BAD_OPTION', `--${k} must be at least 1 (got ${v[k]}).`);
  }
  const minL = v['min-length'] as number | undefined;
  const maxL = v['max-length'] as number | undefined;
  if (minL !== undefined && maxL !== undefined && minL > maxL) {
    throw new CharmerError('BAD_OPTION', `--min-length ${minL} is above --max-length ${maxL}, so no item can fit. Lower --min-length or raise --max-length.`);
  }
  checkLineConstraints({
    count,
    minLength: minL,
    maxLength: maxL,
    prefix: v.prefix as string | undefined,
    contains: v.contains as string | undefined,
    suffix: v.suffix as string | undefined,
  });
}

export const sampleCommand: Command = {
  name: 'sample',
  summary: 'generate text or names from a checkpoint',
  async run(argv) {
    const { asked, rest } = takeCategories(argv);
    const { values: v, positionals } = parseOptions(rest, specs);
    if (v.help || positionals.length !== 1) {
      process.stdout.write(
        formatHelp(
          'charmer sample CHECKPOINT [options]',
          specs,
          "CHECKPOINT is a checkpoint folder (a run's best/ or latest/) or a starter model (charmer models lists them: baby-names, shakespeare).",
        ),
      );
      return v.help ? 0 : 2;
    }
    checkOptions(v);
    const temperature = v.temperature as number;
    const count = v.count as number;
    await chooseBackend(v.backend as BackendName | 'auto');
    // A folder of that name wins; otherwise a starter id reads the shipped checkpoint directly,
    // with no library to open, so a first command answers quickly.
    const starter = existsSync(positionals[0]!) ? undefined : findStarter(positionals[0]!);
    if (!starter && !existsSync(positionals[0]!) && !/[\\/]/.test(positionals[0]!)) {
      throw new CharmerError(
        'FILE_NOT_FOUND',
        `There is no starter model or checkpoint folder called "${positionals[0]}". charmer models lists the starters; or give a run's best/ or latest/ folder.`,
      );
    }
    const ck = await loadCheckpoint(starter ? starter.dir : positionals[0]!);
    const model = ck.model;
    const seed = v.seed as number | undefined;
    try {
      // Unknown prime characters are refused before anything is printed.
      if (model.meta.mode !== 'lines') model.vocab.encode(v.prime as string, v['skip-unknown'] as boolean);
      if (model.meta.mode === 'lines') {
        const items = await sampleLines(model, {
          count,
          temperature,
          topK: v['top-k'] as number,
          seed,
          prefix: v.prefix as string | undefined,
          contains: v.contains as string | undefined,
          suffix: v.suffix as string | undefined,
          minLength: v['min-length'] as number | undefined,
          maxLength: v['max-length'] as number | undefined,
          newOnly: v['new-only'] as boolean,
          guidance: v.guidance as number,
          items: ck.items,
          ...(asked.length ? { categories: asked } : {}),
        });
        const kind = nameKindOf(model);
        for (const it of items) {
          if (!v.json) {
            process.stdout.write(`${it.text}\t${it.novelty}${it.category ? `\t${Object.values(it.category).join(' ')}` : ''}\n`);
            continue;
          }
          const line: Record<string, unknown> = { text: it.text, logprob: it.logprob, novelty: it.novelty, category: asked };
          if (it.category) line.categories = it.category;
          if (kind === 'brand') {
            const b = nearestBrands(it.text).nearest[0];
            line.nearest_brand = b ? { name: b.name, distance: b.distance, sounds_alike: b.soundsAlike } : null;
          } else {
            const k = lookupName(it.text);
            line.known = k ? { sex: k.sex, births: k.births, peak_year: k.peakYear } : null;
          }
          process.stdout.write(JSON.stringify(line) + '\n');
        }
        if (items.length < count) process.stderr.write(`Found ${items.length} of ${count} items that fit the constraints.\n`);
        return 0;
      }
      for (let i = 0; i < count; i++) {
        const gen = sampleText(model, {
          prime: v.prime as string,
          length: v.length as number,
          temperature,
          topK: v['top-k'] as number,
          seed: seed === undefined ? undefined : seed + i,
          skipUnknown: v['skip-unknown'] as boolean,
        });
        if (!v.json) process.stdout.write(v.prime as string);
        for (;;) {
          const r = await gen.next();
          if (r.done) {
            if (v.json) process.stdout.write(JSON.stringify({ text: r.value.text, logprob: r.value.logprob, prime: v.prime }) + '\n');
            else process.stdout.write(count > 1 ? '\n\n' : '\n');
            break;
          }
          if (!v.json) process.stdout.write(r.value);
        }
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
