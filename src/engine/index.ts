/** The engine's public API: everything the shells (CLI, worker, services) use. See docs/ENGINE.md. */
export * from './config.ts';
export * from './events.ts';
export { CharmerError, isCharmerError, type CharmerErrorCode } from './errors.ts';
export { Vocabulary, MAX_VOCAB, describeChar } from './vocabulary.ts';
export {
  loadCorpus,
  corpusFromString,
  guessMode,
  splitCorpus,
  corpusItems,
  corpusPreview,
  MAX_ITEM_LENGTH,
  type Corpus,
  type Split,
  type LoadOptions,
} from './corpus.ts';
export { BUILTIN_NAMES, builtinNamesText } from './names.ts';
export { chooseBackend, currentBackend } from './backend.ts';
export { CharModel, buildLayersModel, type ModelSpec, type CharmerMetadata } from './model.ts';
export { attentionMaps, causalSelfAttention, setAttentionImpl, windowStart } from './transformer/index.ts';
export { loadCheckpoint, saveCheckpoint, readCheckpointInfo, resolveCheckpointDir, type CheckpointInfo, type CheckpointData } from './checkpoint.ts';
export { train, evaluate, resolveConfig, checkTraining, checkCorpusFits, type TrainOptions } from './train.ts';
export {
  sampleText,
  sampleTextAll,
  checkLineConstraints,
  type SampleTextOptions,
  type SampleLinesOptions,
  type SampleResult,
  type LineSample,
  type Novelty,
} from './sample.ts';
export { sampleLines } from './sample-lines.ts';
export { ngramBaseline, type NgramInput, type NgramResult } from './ngram.ts';
export { Rng } from './rng.ts';
export {
  inspectText,
  collectInspection,
  findInterestingCells,
  interestingCellsByFeature,
  textFeatures,
  TEXT_FEATURES,
  type InspectOptions,
  type InspectChunk,
  type InspectResult,
  type LayerActivations,
  type ActivationKind,
  type Guess,
  type TextFeature,
  type CellMatch,
  type FindCellsOptions,
} from './inspect.ts';
export {
  parseTable,
  tableItems,
  itemsToTsv,
  categorisedCorpus,
  loadTableCorpus,
  resolveCategoryRequest,
  stripCategoryTokens,
  isCategoryToken,
  MAX_CATEGORY_VALUES,
  type CategorySpec,
  type CategoryColumn,
  type Table,
  type TableItems,
} from './categories.ts';
export {
  BUILTIN_CORPORA,
  builtinCorpusInfo,
  isBuiltinCorpus,
  builtinTable,
  builtinLabel,
  loadBuiltinCorpus,
  builtinCorpusListing,
  type BuiltinCorpusInfo,
  type BuiltinRequest,
} from './builtin-corpora.ts';
export {
  babyNames,
  knownNames,
  lookupName,
  startupNames,
  filterBabyNames,
  describeBabyNameFilter,
  checkBabyNameFilter,
  nearestKnownNames,
  nearestBrands,
  isBrand,
  soundsAlike,
  nameDataManifest,
  type BabyNameFilter,
  type BabyNameRecord,
  type KnownName,
  type Neighbour,
  type BrandMatch,
  type Sex,
} from './namedata.ts';
export { buildNameCard, knownCard, nameKindOf, type NameCard, type NameKind, type KnownNameCard } from './namecard.ts';
export { scoreLine, type LineScore } from './sample.ts';
export { attentionSourceOf, encodeKnown } from './attention-model.ts';
export {
  HEAD_PATTERNS,
  MIN_PATTERN_POSITIONS,
  HeadScorer,
  rankHeads,
  scanAttention,
  attentionAt,
  attentionWindows,
  attentionWindowStart,
  segmentStarts,
  textLinks,
  type HeadPattern,
  type HeadScore,
  type HeadRanking,
  type PositionAttention,
  type AttentionSource,
  type ScanOptions,
  type TextLinks,
} from './attention.ts';
