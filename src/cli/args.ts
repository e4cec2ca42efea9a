/**
 * A small typed option parser on top of node:util parseArgs: every option has a type, a default
 * and a one-line help, grouped (char-rnn's data / model / optimization / bookkeeping), so --help
 * lists them all and a bad value gets a message naming the option and what it accepts.
 */
import { parseArgs } from 'node:util';
import { CharmerError } from '../common/errors.ts';

export type OptionType = 'string' | 'number' | 'int' | 'boolean';

export interface OptionSpec {
  type: OptionType;
  help: string;
  group?: string;
  default?: string | number | boolean;
  /** Shown in --help when the default comes from elsewhere (a preset or the engine's config). */
  helpDefault?: string | number | boolean;
  /** Allowed values for a string option. */
  choices?: readonly string[];
  short?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export type ParsedValues = Record<string, string | number | boolean | undefined>;

export interface Parsed {
  values: ParsedValues;
  positionals: string[];
}

export function parseOptions(argv: string[], specs: OptionSpecs): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string', ...(spec.short ? { short: spec.short } : {}) };
    if (spec.type === 'boolean') options[`no-${name}`] = { type: 'boolean' };
  }
  let raw;
  try {
    raw = parseArgs({ args: joinDashValues(argv, specs), options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CharmerError('BAD_OPTION', parseErrorSentence(e as Error & { code?: string }));
  }
  const values: ParsedValues = {};
  for (const [name, spec] of Object.entries(specs)) {
    const v = (raw.values as Record<string, string | boolean | undefined>)[name];
    if (spec.type === 'boolean') {
      const negated = (raw.values as Record<string, boolean | undefined>)[`no-${name}`];
      values[name] = negated ? false : v !== undefined ? Boolean(v) : (spec.default as boolean | undefined);
      continue;
    }
    if (v === undefined) {
      values[name] = spec.default;
      continue;
    }
    values[name] = convert(name, spec, String(v));
  }
  return { values, positionals: raw.positionals };
}

const NUMBER_LIKE = /^-(\d|\.\d|Infinity$)/;

/**
 * `--rnn-size -3` means `--rnn-size=-3`: node's parseArgs refuses a value that starts with a dash
 * as ambiguous, so a number (or, for a text option, anything that is not one of our options) after
 * an option that takes a value is joined to it. Then the value gets our own check and sentence.
 */
function joinDashValues(argv: string[], specs: OptionSpecs): string[] {
  const known = new Set<string>();
  for (const [name, spec] of Object.entries(specs)) {
    known.add(`--${name}`);
    if (spec.type === 'boolean') known.add(`--no-${name}`);
    if (spec.short) known.add(`-${spec.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const spec = a.startsWith('--') && !a.includes('=') ? specs[a.slice(2)] : undefined;
    const next = argv[i + 1];
    if (spec && spec.type !== 'boolean' && next !== undefined && next.startsWith('-') && next !== '--') {
      const numeric = spec.type !== 'string' && NUMBER_LIKE.test(next);
      if (numeric || (spec.type === 'string' && !known.has(next.split('=')[0]!))) {
        out.push(`${a}=${next}`);
        i++;
        continue;
      }
    }
    out.push(a);
  }
  return out;
}

/** node:util's parse errors, as one sentence of ours. */
function parseErrorSentence(e: Error & { code?: string }): string {
  const option = /'(-{1,2}[^' ]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `Unknown option '${option ?? e.message}'. See --help for the options.`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    if (/ambiguous/.test(e.message))
      return `${option} needs a value, but the next argument is an option. Give the value after it (${option} VALUE, or ${option}=VALUE when it starts with a dash).`;
    if (/missing/.test(e.message)) return `${option} needs a value. Give it after the option (${option} VALUE).`;
    return `${option} takes no value. See --help for the options.`;
  }
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `Unexpected argument. See --help for the options.`;
  return `${e.message.split('\n')[0]!.replace(/\.$/, '')}. See --help for the options.`;
}

function convert(name: string, spec: OptionSpec, v: string): string | number {
  if (spec.type === 'string') {
    if (spec.choices && !spec.choices.includes(v)) {
      throw new CharmerError('BAD_OPTION', `--${name} must be one of ${spec.choices.join(', ')} (got "${v}").`);
    }
    return v;
  }
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) {
    throw new CharmerError('BAD_OPTION', `--${name} needs a number (got "${v}").`);
  }
  if (spec.type === 'int' && !Number.isInteger(n)) {
    throw new CharmerError('BAD_OPTION', `--${name} needs a whole number (got "${v}").`);
  }
  return n;
}

/** Help text: usage, then options by group, each with its default. */
export function formatHelp(usage: string, specs: OptionSpecs, description = ''): string {
  const groups = new Map<string, string[]>();
  for (const [name, spec] of Object.entries(specs)) {
    const g = spec.group ?? 'options';
    const flag = `--${name}${spec.type === 'boolean' ? '' : spec.choices ? ` ${spec.choices.join('|')}` : ` ${spec.type === 'string' ? 'VALUE' : 'N'}`}`;
    const shown = spec.default ?? spec.helpDefault;
    const def = shown === undefined || shown === '' ? '' : ` (default: ${shown})`;
    const lines = groups.get(g) ?? [];
    lines.push(`  ${flag.padEnd(30)} ${spec.help}${def}`);
    groups.set(g, lines);
  }
  const parts = [`Usage: ${usage}`];
  if (description) parts.push('', description);
  for (const [g, lines] of groups) parts.push('', `${g[0]!.toUpperCase()}${g.slice(1)}:`, ...lines);
  return parts.join('\n') + '\n';
}
