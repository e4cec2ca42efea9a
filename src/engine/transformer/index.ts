/** The Transformer's public surface (see docs/ENGINE.md, "Transformer"). */
import { CharmerError } from '../errors.ts';
import type { CharModel } from '../model.ts';
import { gptShape } from '../model.ts';
import { gptAttentionMaps } from './gpt.ts';

export { causalSelfAttention, referenceCausalSelfAttention, setAttentionImpl, attentionProbabilities, causalMask, type AttentionImpl } from './attention.ts';
export { CausalSelfAttention, PositionEmbedding, buildGptLayersModel, type GptShape } from './layers.ts';
export { gptForward, gptStep, windowStart, slideKeep, type GptWeights, type GptBlock } from './gpt.ts';

/**
 * Attention probabilities of a Transformer for a text given as vocabulary ids (at most its block
 * size): maps[layer][head] is a [T, T] row-major Float32Array; row i is how position i (reading
 * ids[i], predicting ids[i + 1]) spreads its attention over positions 0..i (entries past i are 0).
 */
export async function attentionMaps(model: CharModel, ids: ArrayLike<number>): Promise<Float32Array[][]> {
  if (!model.gpt) throw new CharmerError('BAD_OPTION', 'Only Transformer models have attention; this one is recurrent (inspect its cells instead).');
  const T = ids.length;
  if (T < 1) throw new CharmerError('BAD_OPTION', 'Give at least one character to show attention for.');
  if (T > model.context)
    throw new CharmerError(
      'BAD_OPTION',
      `This Transformer reads at most ${model.context} characters at once (its block size); the text has ${T}. Show attention for a part of it.`,
    );
  return gptAttentionMaps(model.gpt, gptShape(model.spec), Array.from(ids));
}
