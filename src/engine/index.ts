/** The engine's public API: everything the shells (CLI, worker, services) use. See docs/ENGINE.md. */
export * from './config.ts';
export * from './events.ts';
export { CharmerError, isCharmerError, type CharmerErrorCode } from './errors.ts';
export { Vocabulary, MAX_VOCAB, describeChar } from './vocabulary.ts';
export { loadCorpus, corpusFromString, guessMode, splitCorpus, corpusItems, corpusPreview, MAX_ITEM_LENGTH, type Corpus, type Split, type LoadOptions } from './corpus.ts';
export { BUILTIN_NAMES, builtinNamesText } from './names.ts';
export { chooseBackend, currentBackend } from './backend.ts';
export { CharModel, buildLayersModel, type ModelSpec, type CharmerMetadata } from './model.ts';
export { loadCheckpoint, saveCheckpoint, readCheckpointInfo, resolveCheckpointDir, type CheckpointInfo, type CheckpointData } from './checkpoint.ts';
export { train, evaluate, resolveConfig, checkTraining, checkCorpusFits, type TrainOptions } from './train.ts';
export { sampleText, sampleTextAll, sampleLines, checkLineConstraints, type SampleTextOptions, type SampleLinesOptions, type SampleResult, type LineSample, type Novelty } from './sample.ts';
export { ngramBaseline, type NgramInput, type NgramResult } from './ngram.ts';
export { Rng } from './rng.ts';
export { inspectText, collectInspection, findInterestingCells, interestingCellsByFeature, textFeatures, TEXT_FEATURES, type InspectOptions, type InspectChunk, type InspectResult, type LayerActivations, type ActivationKind, type Guess, type TextFeature, type CellMatch, type FindCellsOptions } from './inspect.ts';
