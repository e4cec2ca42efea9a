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
  optionApplies,
  optionProblem,
  optionsIn,
  type OptionDescriptor,
  type OptionGroup,
  type OptionKey,
  type TrainConfig,
} from '../common/options.ts';
export type { BackendChoice, BackendName, CellType, CorpusMode, ModelType, OptimizerName } from '../common/enums.ts';
