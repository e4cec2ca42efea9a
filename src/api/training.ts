/**
 * Plain training data the renderer needs: the options as src/common/options.ts declares them
 * (defaults, help, groups, limits, choices), the engine's presets (plain data), and the size/time
 * arithmetic behind their estimates.
 */
import { DEFAULT_CONFIG, type TrainConfig } from '../common/options.ts';

export {
  DEFAULT_CONFIG,
  OPTIONS,
  OPTION_GROUPS,
  OPTION_HELP,
  OPTION_KEYS,
  OPTION_LIST,
  optionApplies,
  optionsIn,
  describeModel,
  shortModelName,
} from '../common/options.ts';
export type { OptionDescriptor, OptionGroup, OptionKey } from '../common/options.ts';

/**
 * The engine's presets (plain data: src/engine/presets). In the UI a preset sets the model and the
 * budget; the mode always follows the corpus (changeable under Advanced).
 */
export { PRESETS, type Preset } from '../common/presets/index.ts';

/**
 * Parameters of Embedding -> numLayers recurrent layers -> Dense softmax (stock TF.js layouts), or
 * of the Transformer: token and position embeddings, per block 12·C² + 13·C (q|k|v, output
 * projection, 4x MLP, two LayerNorms), the final LayerNorm and the head.
 */
export function countParams(
  config: Pick<TrainConfig, 'model' | 'rnnSize' | 'numLayers' | 'embeddingSize'> & Partial<Pick<TrainConfig, 'nLayer' | 'nEmbd' | 'blockSize'>>,
  vocabSize: number,
): number {
  if (config.model === 'transformer') {
    const c = config.nEmbd ?? DEFAULT_CONFIG.nEmbd;
    const blocks = config.nLayer ?? DEFAULT_CONFIG.nLayer;
    return vocabSize * c + (config.blockSize ?? DEFAULT_CONFIG.blockSize) * c + blocks * (12 * c * c + 13 * c) + 2 * c + c * vocabSize + vocabSize;
  }
  const h = config.rnnSize;
  const e = config.embeddingSize > 0 ? config.embeddingSize : h;
  const gates = config.model === 'lstm' ? 4 : config.model === 'gru' ? 3 : 1;
  let params = vocabSize * e;
  for (let l = 0; l < config.numLayers; l++) {
    const input = l === 0 ? e : h;
    params += gates * (input * h + h * h + h);
  }
  params += h * vocabSize + vocabSize;
  return params;
}

/**
 * Reference speed when this machine has not trained anything yet: about 6 FLOPs per parameter per
 * character (forward and backward), at an effective rate that grows with the matrix sizes (small
 * models are bound by per-op overhead, big ones by GEMM). Calibrated on the figures in ../shared/DESIGN.md for
 * a 2-core CPU: ~1,400 chars/s for 2×128 (wasm), ~400 for 2×512.
 */
export function referenceCharsPerS(params: number): number {
  return effectiveFlops(params) / (6 * Math.max(1, params));
}

function effectiveFlops(params: number): number {
  return 15e9 * (params / (params + 2e6));
}

/** Scale a measured speed (at measuredParams) to another model size with the same curve. */
export function scaleCharsPerS(measuredCharsPerS: number, measuredParams: number, params: number): number {
  const measuredFlops = measuredCharsPerS * 6 * measuredParams;
  const ratio = effectiveFlops(params) / effectiveFlops(measuredParams);
  return (measuredFlops * ratio) / (6 * Math.max(1, params));
}

/** Training characters a run will process, and how long that takes at charsPerS. */
export function estimateWork(
  config: Pick<TrainConfig, 'valFraction' | 'maxEpochs' | 'maxIters' | 'maxTime' | 'batchSize' | 'seqLength'> &
    Partial<Pick<TrainConfig, 'model' | 'blockSize'>>,
  corpusChars: number,
  charsPerS: number,
): { trainChars: number; totalChars: number; seconds: number } {
  const trainChars = Math.max(1, Math.round(corpusChars * (1 - config.valFraction)));
  let totalChars = trainChars * Math.max(0, config.maxEpochs);
  if (config.maxIters > 0)
    totalChars = Math.min(
      totalChars || Infinity,
      config.maxIters * config.batchSize * (config.model === 'transformer' ? (config.blockSize ?? DEFAULT_CONFIG.blockSize) : config.seqLength),
    );
  let seconds = totalChars / Math.max(1e-9, charsPerS);
  if (config.maxTime > 0) seconds = Math.min(seconds, config.maxTime);
  return { trainChars, totalChars, seconds };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(seconds < 36000 ? 1 : 0)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}K`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}
