/**
 * The command line's view of the training options: one flag per declared option
 * (src/common/options.ts), with its type, group, help, choices and default taken from the
 * declaration, so `charmer train --help` lists a new option without an edit here.
 */
import { OPTION_LIST, type OptionDescriptor, type OptionKey, type TrainConfig } from '../common/options.ts';
import type { OptionSpec, OptionSpecs, ParsedValues } from './args.ts';

function specOf(o: OptionDescriptor, withDefault: boolean): OptionSpec {
  const only = o.models ? ` (${o.models.join('/')} only)` : '';
  return {
    group: o.group,
    help: o.help + only,
    type: o.kind === 'choice' ? 'string' : o.integer ? 'int' : 'number',
    ...(withDefault ? { helpDefault: o.default } : {}),
    ...(o.choices ? { choices: o.choices } : {}),
  };
}

/**
 * Flags for the given options (default: all of them, in declaration order). `withDefault: false`
 * where the default comes from elsewhere (a resumed run's own configuration).
 */
export function configOptionSpecs(keys?: readonly OptionKey[], { withDefault = true } = {}): OptionSpecs {
  const chosen = keys ? OPTION_LIST.filter((o) => keys.includes(o.key as OptionKey)) : OPTION_LIST;
  return Object.fromEntries(chosen.map((o) => [o.flag, specOf(o, withDefault)]));
}

/** The options a person set on the command line, by their TrainConfig keys. */
export function configFromValues(values: ParsedValues): Partial<TrainConfig> {
  const out: Record<string, unknown> = {};
  for (const o of OPTION_LIST) {
    const v = values[o.flag];
    if (v !== undefined) out[o.key] = v;
  }
  return out as Partial<TrainConfig>;
}
