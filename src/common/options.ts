/**
 * The training options, each declared once below (nanoGPT's one-line knobs, grouped as char-rnn's
 * train.lua groups them): its default, one line of help, group, limits, whether it is a whole
 * number, its choices and its command-line flag. Every other description of the options derives
 * from this table: the TrainConfig type, DEFAULT_CONFIG, the zod schema the contract checks input
 * with, the engine's validation and its messages, `charmer train --help` and its option specs, and
 * the Advanced form of the Train view. Adding an option is one entry here plus its use in the
 * engine (docs/OPTIONS.md).
 */
import { z } from 'zod';
import { BACKEND_CHOICES, CELL_NORMS, CORPUS_MODES, LR_SCHEDULES, MODEL_TYPES, OPTIMIZERS, RECURRENT_CELLS, type ModelType } from './enums.ts';

export const OPTION_GROUPS = ['data', 'model', 'optimization', 'bookkeeping'] as const;
export type OptionGroup = (typeof OPTION_GROUPS)[number];

interface CommonDeclaration {
  group: OptionGroup;
  /** One line for --help and the Advanced form. */
  help: string;
  /** The command-line flag without dashes (default: the key in kebab case). */
  flag?: string;
  /** The model types the option means something for (default: all). */
  models?: readonly ModelType[];
  /** May change when a run is resumed (limits and bookkeeping); the rest come from the checkpoint. */
  resumable?: boolean;
}

export interface NumberDeclaration extends CommonDeclaration {
  default: number;
  integer?: boolean;
  /** Lowest allowed value (inclusive). */
  min?: number;
  /** Values must be above this (exclusive lower limit). */
  above?: number;
  /** Highest allowed value (inclusive). */
  max?: number;
  /** Values must be below this (exclusive upper limit). */
  below?: number;
  /** The allowed range in words, when the limits alone would read oddly ("a small positive number"). */
  range?: string;
  /** The sentence's end for a value over `max`, when that is about what fits rather than what is meaningful. */
  tooLarge?: string;
}

export interface ChoiceDeclaration<C extends string> extends CommonDeclaration {
  choices: readonly [C, ...C[]];
  default: NoInfer<C>;
}

/** One option as the rest of the app sees it: the declaration plus its key, flag and zod schema. */
export interface OptionDescriptor<V = number | string> {
  key: string;
  flag: string;
  kind: 'number' | 'choice';
  group: OptionGroup;
  help: string;
  default: V;
  integer: boolean;
  min?: number;
  above?: number;
  max?: number;
  below?: number;
  choices?: readonly string[];
  models?: readonly ModelType[];
  resumable: boolean;
  /** Checks one value and says what was wrong in the words of the engine's messages. */
  schema: z.ZodType<V>;
}

const kebab = (k: string) => k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);

function orList(words: readonly string[]): string {
  return words.length === 1 ? words[0]! : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/**
 * "a whole number of at least 1", "above 0 and at most 0.5, such as 0.1", ...: a whole number's
 * limits are said one side at a time (the side that was crossed), a fraction's as its whole range.
 */
function rangeWords(d: NumberDeclaration): string {
  if (d.range) return d.range;
  if (d.integer) {
    if (d.min === undefined) return 'a whole number';
    return d.min === 0 ? 'a whole number, 0 or more' : `a whole number of at least ${d.min}`;
  }
  const upper = d.max !== undefined ? `at most ${d.max}` : d.below !== undefined ? `below ${d.below}` : undefined;
  const lower = d.above !== undefined ? `above ${d.above}` : d.min !== undefined ? (upper ? `at least ${d.min}` : `${d.min} or more`) : undefined;
  const words = [lower, upper].filter(Boolean).join(' and ');
  const lowest = d.above ?? d.min;
  return upper && lowest !== undefined && d.default > lowest ? `${words}, such as ${d.default}` : words;
}

const shown = (input: unknown) => (typeof input === 'string' ? JSON.stringify(input) : String(input));

function numberSchema(flag: string, d: NumberDeclaration): z.ZodNumber {
  const says = ({ input }: { input?: unknown }) => `${flag} must be ${rangeWords(d)} (got ${shown(input)}).`;
  const over = ({ input }: { input?: unknown }) =>
    d.tooLarge ? `${flag} ${shown(input)} ${d.tooLarge}.` : d.integer ? `${flag} must be at most ${d.max} (got ${shown(input)}).` : says({ input });
  let s = z.number({ error: says });
  if (d.integer) s = s.int({ error: says });
  if (d.min !== undefined) s = s.min(d.min, { error: says });
  if (d.above !== undefined) s = s.gt(d.above, { error: says });
  if (d.max !== undefined) s = s.max(d.max, { error: over });
  if (d.below !== undefined) s = s.lt(d.below, { error: says });
  return s;
}

function describe<V extends number | string>(
  key: string,
  d: CommonDeclaration & { default: V },
  rest: Pick<OptionDescriptor<V>, 'kind' | 'schema' | 'integer' | 'choices' | 'min' | 'above' | 'max' | 'below'>,
): OptionDescriptor<V> {
  return {
    key,
    flag: d.flag ?? kebab(key),
    group: d.group,
    help: d.help,
    default: d.default,
    resumable: d.resumable ?? false,
    ...(d.models ? { models: d.models } : {}),
    ...rest,
  };
}

/** A numeric option; `key` is filled in by defineOptions. */
export function numberOption(d: NumberDeclaration): (key: string) => OptionDescriptor<number> {
  return (key) => {
    const flag = d.flag ?? kebab(key);
    const limits = { min: d.min, above: d.above, max: d.max, below: d.below };
    const defined = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
    return describe(key, d, { kind: 'number', integer: d.integer ?? false, schema: numberSchema(flag, d), ...defined });
  };
}

/** An option with a fixed set of words. */
export function choiceOption<const C extends string>(d: ChoiceDeclaration<C>): (key: string) => OptionDescriptor<C> {
  return (key) => {
    const flag = d.flag ?? kebab(key);
    const says = ({ input }: { input?: unknown }) => `${flag} must be ${orList(d.choices)} (got ${String(input)}).`;
    return describe(key, d, {
      kind: 'choice',
      integer: false,
      choices: d.choices,
      schema: z.enum(d.choices as unknown as [C, ...C[]], { error: says }) as unknown as z.ZodType<C>,
    });
  };
}

type Declared = Record<string, (key: string) => OptionDescriptor<number> | OptionDescriptor<string>>;
type Described<T extends Declared> = { [K in keyof T]: ReturnType<T[K]> & { key: K } };

function defineOptions<T extends Declared>(declared: T): Described<T> {
  return Object.fromEntries(Object.entries(declared).map(([k, make]) => [k, make(k)])) as Described<T>;
}

/** Every training option, in the order --help and the Advanced form list them within a group. */
export const OPTIONS = defineOptions({
  // --- data ---
  mode: choiceOption({ group: 'data', choices: CORPUS_MODES, default: 'text', help: 'text: one continuous stream; lines: one item per line (names, titles)' }),
  valFraction: numberOption({
    group: 'data',
    default: 0.1,
    above: 0,
    max: 0.5,
    help: 'fraction held out for validation (text: the tail; lines: a seeded random subset)',
  }),
  // --- model ---
  model: choiceOption({ group: 'model', choices: MODEL_TYPES, default: 'lstm', help: 'model type: lstm, gru, rnn or transformer (GPT-style decoder)' }),
  rnnSize: numberOption({
    group: 'model',
    models: RECURRENT_CELLS,
    default: 128,
    integer: true,
    min: 1,
    max: 4096,
    tooLarge: 'is far beyond what fits; use 4096 or less',
    help: 'hidden units per recurrent layer',
  }),
  numLayers: numberOption({ group: 'model', models: RECURRENT_CELLS, default: 2, integer: true, min: 1, max: 16, help: 'number of recurrent layers' }),
  embeddingSize: numberOption({
    group: 'model',
    models: RECURRENT_CELLS,
    default: 0,
    integer: true,
    min: 0,
    max: 4096,
    help: 'character embedding size (0: same as rnn size)',
  }),
  dropout: numberOption({
    group: 'model',
    default: 0,
    min: 0,
    below: 1,
    help: 'dropout between recurrent layers (0 = none); transformer: on the embeddings and each residual branch',
  }),
  outputDropout: numberOption({
    group: 'model',
    models: RECURRENT_CELLS,
    default: 0,
    min: 0,
    below: 1,
    help: "dropout on the last recurrent layer's output, before the softmax (char-rnn and Zaremba et al. drop there too; 0 = none)",
  }),
  cellNorm: choiceOption({
    group: 'model',
    models: RECURRENT_CELLS,
    choices: CELL_NORMS,
    default: 'none',
    help: 'layer: layer normalisation inside the recurrent cells (Ba et al. 2016; about 6x slower per step: not in the fused kernels); none: off',
  }),
  nLayer: numberOption({ group: 'model', models: ['transformer'], default: 4, integer: true, min: 1, max: 48, help: 'number of blocks' }),
  nHead: numberOption({
    group: 'model',
    models: ['transformer'],
    default: 4,
    integer: true,
    min: 1,
    max: 64,
    help: 'attention heads per block (must divide n-embd)',
  }),
  nEmbd: numberOption({
    group: 'model',
    models: ['transformer'],
    default: 128,
    integer: true,
    min: 1,
    max: 4096,
    tooLarge: 'is far beyond what fits; use 4096 or less',
    help: 'width (embeddings and residual stream)',
  }),
  blockSize: numberOption({
    group: 'model',
    models: ['transformer'],
    default: 64,
    integer: true,
    min: 1,
    max: 4096,
    tooLarge: 'is beyond what fits (attention grows with its square); use 4096 or less',
    help: 'context length in characters (text mode trains on windows this long)',
  }),
  // --- optimization ---
  optimizer: choiceOption({ group: 'optimization', choices: OPTIMIZERS, default: 'adam', help: 'adam or rmsprop' }),
  learningRate: numberOption({
    group: 'optimization',
    default: 2e-3,
    above: 0,
    below: 10,
    range: 'a small positive number such as 0.002',
    help: 'step size (the peak, with warm-up and cosine)',
  }),
  lrSchedule: choiceOption({
    group: 'optimization',
    choices: LR_SCHEDULES,
    default: 'step',
    help: "cosine: down to min-lr-fraction along a cosine over the budget (iterations, or time with max-time); step: char-rnn's decay per epoch (warm-up applies to both)",
  }),
  warmupIters: numberOption({ group: 'optimization', default: 0, integer: true, min: 0, help: 'steps of linear learning-rate warm-up (0 = none)' }),
  minLrFraction: numberOption({ group: 'optimization', default: 0.1, min: 0, max: 1, help: 'the cosine ends at this fraction of the learning rate' }),
  weightDecay: numberOption({
    group: 'optimization',
    default: 0,
    min: 0,
    below: 1,
    help: 'decoupled weight decay (AdamW) on weight matrices, not biases, gains or embeddings (0 = off)',
  }),
  emaDecay: numberOption({
    group: 'optimization',
    default: 0,
    min: 0,
    below: 1,
    help: 'evaluate, save and sample an exponential moving average of the weights with this decay per step, such as 0.999 (0 = off)',
  }),
  learningRateDecay: numberOption({
    group: 'optimization',
    default: 0.97,
    above: 0,
    max: 1,
    help: 'step schedule: multiply the learning rate by this each epoch after decay-after',
  }),
  decayAfter: numberOption({
    group: 'optimization',
    default: 10,
    integer: true,
    min: 0,
    help: 'step schedule: epoch after which the learning rate starts to decay',
  }),
  gradClip: numberOption({ group: 'optimization', default: 5, min: 0, help: 'clip the global gradient norm to this (0 = off)' }),
  batchSize: numberOption({ group: 'optimization', default: 50, integer: true, min: 1, max: 4096, help: 'sequences per step' }),
  seqLength: numberOption({
    group: 'optimization',
    models: RECURRENT_CELLS,
    default: 50,
    integer: true,
    min: 1,
    max: 10000,
    help: 'characters per sequence (truncated BPTT length; in lines mode the longest item allowed)',
  }),
  maxEpochs: numberOption({ group: 'optimization', default: 50, min: 0, resumable: true, help: 'stop after this many passes over the training data' }),
  maxIters: numberOption({ group: 'optimization', default: 0, integer: true, min: 0, resumable: true, help: 'stop after this many steps (0 = no limit)' }),
  maxTime: numberOption({ group: 'optimization', default: 0, min: 0, resumable: true, help: 'stop after this many seconds (0 = no limit)' }),
  explodeFactor: numberOption({ group: 'optimization', default: 3, min: 0, help: 'stop as diverged when the loss exceeds this many times the first loss' }),
  // --- bookkeeping ---
  seed: numberOption({ group: 'bookkeeping', default: 123, integer: true, help: 'random seed (initialisation, batches, dropout, samples)' }),
  evalEvery: numberOption({
    group: 'bookkeeping',
    default: 200,
    integer: true,
    min: 1,
    resumable: true,
    help: 'evaluate on the whole validation split every N steps',
  }),
  sampleEvery: numberOption({ group: 'bookkeeping', default: 200, integer: true, min: 0, resumable: true, help: 'print a sample every N steps (0 = never)' }),
  sampleLength: numberOption({
    group: 'bookkeeping',
    default: 200,
    integer: true,
    min: 1,
    max: 100000,
    resumable: true,
    help: 'characters (text) or items (lines) per training sample',
  }),
  backend: choiceOption({ group: 'bookkeeping', choices: BACKEND_CHOICES, default: 'auto', resumable: true, help: 'auto, tensorflow, webgpu, wasm or cpu' }),
  threads: numberOption({
    group: 'bookkeeping',
    default: 0,
    integer: true,
    min: 0,
    max: 256,
    resumable: true,
    help: 'CPU worker threads for data-parallel training (0 = one per core)',
  }),
});

type Options = typeof OPTIONS;
export type OptionKey = keyof Options;

/** Every training option with its value type (numbers, or the words of its choices). */
export type TrainConfig = { [K in OptionKey]: Options[K]['default'] };

export const OPTION_KEYS = Object.keys(OPTIONS) as OptionKey[];

/** The descriptors in declaration order (for loops that do not care about the key's type). */
export const OPTION_LIST: readonly OptionDescriptor[] = OPTION_KEYS.map((k) => OPTIONS[k] as OptionDescriptor);

export const DEFAULT_CONFIG: Readonly<TrainConfig> = Object.freeze(Object.fromEntries(OPTION_LIST.map((o) => [o.key, o.default])) as TrainConfig);

/** One-line help per option, by group. */
export const OPTION_HELP = Object.fromEntries(
  OPTION_GROUPS.map((g) => [g, Object.fromEntries(OPTION_LIST.filter((o) => o.group === g).map((o) => [o.key, o.help]))]),
) as Record<OptionGroup, Partial<Record<OptionKey, string>>>;

/** The descriptors of one group, in declaration order. */
export function optionsIn(group: OptionGroup): OptionDescriptor[] {
  return OPTION_LIST.filter((o) => o.group === group);
}

/** Options that may change when resuming; the rest come from the checkpoint. */
export const RESUMABLE_OPTIONS: readonly OptionKey[] = OPTION_LIST.filter((o) => o.resumable).map((o) => o.key as OptionKey);

/** Whether an option means anything for this model type. */
export function optionApplies(key: OptionKey, model: ModelType): boolean {
  const models = (OPTIONS[key] as OptionDescriptor).models;
  return !models || models.includes(model);
}

/** Every option typed and bounded (the contract takes it `.partial().strict()`). */
export const trainConfigSchema = z.object(Object.fromEntries(OPTION_LIST.map((o) => [o.key, o.schema])) as { [K in OptionKey]: z.ZodType<TrainConfig[K]> });

/** What is wrong with one option's value, as one sentence naming its flag; undefined when it is fine. */
export function optionProblem(key: OptionKey, value: unknown): string | undefined {
  const r = (OPTIONS[key] as OptionDescriptor).schema.safeParse(value);
  return r.success ? undefined : r.error.issues[0]?.message;
}

/** The first problem of a whole configuration, in declaration order; undefined when all are fine. */
export function configProblem(config: Record<string, unknown>): string | undefined {
  for (const key of OPTION_KEYS) {
    const p = optionProblem(key, config[key]);
    if (p) return p;
  }
  return undefined;
}

type ShapeFields = Pick<TrainConfig, 'model' | 'numLayers' | 'rnnSize'> & Partial<Pick<TrainConfig, 'nLayer' | 'nEmbd' | 'nHead' | 'blockSize'>>;

/** A model's shape for people: "2 x 128 LSTM", "4 x 128 Transformer (4 heads, context 64)". */
export function describeModel(c: ShapeFields): string {
  if (c.model === 'transformer') return `${c.nLayer} x ${c.nEmbd} Transformer (${c.nHead} heads, context ${c.blockSize})`;
  return `${c.numLayers} x ${c.rnnSize} ${c.model.toUpperCase()}`;
}

/** The short form in run names and lists: "lstm 2x128", "transformer 4x128". */
export function shortModelName(c: ShapeFields): string {
  return c.model === 'transformer' ? `transformer ${c.nLayer}x${c.nEmbd}` : `${c.model} ${c.numLayers}x${c.rnnSize}`;
}
