/**
 * A small typed option parser on top of node:util parseArgs: every option has a type, a default
 * and a one-line help, grouped (char-rnn's data / model / optimization / bookkeeping), so --help
 * lists them all and a bad value gets a message naming the option and what it accepts.
 */
import { parseArgs } from 'node:util';
import { CharmerError } from '../engine/errors.ts';

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
    raw = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CharmerError('BAD_OPTION', `${(e as Error).message.replace(/\. To specify.*$/s, '')}. See --help for the options.`);
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
