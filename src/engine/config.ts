/**
 * The training options and the words the engine's options take, as the engine's modules import
 * them. Both are declared once in src/common (options.ts: every option's default, help, group and
 * limits; enums.ts: corpus modes, cells, optimizers, backends), which the contract, the command line
 * and the Train view derive from too.
 */
export {
  DEFAULT_CONFIG,
  OPTIONS,
  OPTION_GROUPS,
  OPTION_HELP,
  OPTION_KEYS,
  OPTION_LIST,
  RESUMABLE_OPTIONS,
  configProblem,
  describeModel,
  shortModelName,
  optionApplies,
  optionProblem,
  optionsIn,
  type OptionDescriptor,
  type OptionGroup,
  type OptionKey,
  type TrainConfig,
} from '../common/options.ts';
export type { BackendChoice, BackendName, CellNorm, CellType, CorpusMode, LrSchedule, ModelType, OptimizerName } from '../common/enums.ts';
import type { TrainConfig } from '../common/options.ts';

/**
 * What a checkpoint written before the schedule, weight-decay, cell-norm, output-dropout and averaging options existed
 * trained with: char-rnn's step decay, no warm-up, no weight decay, plain cells. Resuming one fills
 * its missing options from here, so it continues as it started.
 */
export const LEGACY_CONFIG: Readonly<
  Pick<TrainConfig, 'cellNorm' | 'lrSchedule' | 'warmupIters' | 'minLrFraction' | 'weightDecay' | 'outputDropout' | 'emaDecay'>
> = Object.freeze({
  cellNorm: 'none',
  outputDropout: 0,
  emaDecay: 0,
  lrSchedule: 'step',
  warmupIters: 0,
  minLrFraction: 0.1,
  weightDecay: 0,
});
