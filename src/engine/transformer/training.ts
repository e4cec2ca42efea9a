/**
 * What training needs to know about the Transformer beyond the shared loop (../train-*.ts): its
 * windows are its block size, its shape must be possible, a list's items must fit its context,
 * fine-tuning keeps the checkpoint's shape, and its weights copy across vocabularies.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TrainConfig } from '../config.ts';
import type { Corpus } from '../corpus.ts';
import { CharmerError } from '../errors.ts';
import type { CharModel, ModelSpec } from '../model.ts';

/** Characters per training row: the Transformer's context (block size), or the RNNs' BPTT length. */
export function windowLength(c: Pick<TrainConfig, 'model' | 'seqLength' | 'blockSize'>): number {
  return c.model === 'transformer' ? c.blockSize : c.seqLength;
}

/** The shape the options cannot check one at a time: heads must split the width evenly. */
export function checkTransformerShape(c: TrainConfig): void {
  if (c.model !== 'transformer' || c.nEmbd % c.nHead === 0) return;
  const below = c.nEmbd - (c.nEmbd % c.nHead);
  const near = [below, below + c.nHead].filter((w) => w > 0);
  throw new CharmerError(
    'BAD_OPTION',
    `n-head ${c.nHead} does not divide n-embd ${c.nEmbd}: every head takes an equal share of the width. Use an n-embd that is a multiple of ${c.nHead} (such as ${near.join(' or ')}), or another n-head.`,
  );
}

/**
 * A Transformer reads at most blockSize characters at once, so in lines mode each item with its
 * start marker (and category tokens) must fit: refused with the block size that would fit.
 */
export function checkItemsFitContext(corpus: Corpus, c: Pick<TrainConfig, 'model' | 'blockSize'>): void {
  if (c.model !== 'transformer' || !corpus.items) return;
  const o = corpus.items.offsets;
  let longest = 0;
  for (let i = 0; i + 1 < o.length; i++) longest = Math.max(longest, o[i + 1]! - o[i]!);
  if (longest + 1 > c.blockSize) {
    throw new CharmerError(
      'BAD_OPTION',
      `The longest item has ${longest} characters (with its category tokens) but a Transformer with block-size ${c.blockSize} reads at most ${c.blockSize - 1} besides the start of the line. Use --block-size ${longest + 1} or more.`,
    );
  }
}

/** A config with the model shape of a checkpoint's spec (fine-tuning keeps the model it starts from). */
export function adoptShape(config: TrainConfig, s: ModelSpec): TrainConfig {
  return s.cell === 'transformer'
    ? { ...config, model: s.cell, nEmbd: s.hidden, nLayer: s.layers, nHead: s.heads!, blockSize: s.blockSize! }
    : { ...config, model: s.cell, rnnSize: s.hidden, numLayers: s.layers, embeddingSize: s.embeddingSize, cellNorm: s.cellNorm ?? 'none' };
}

/** Fine-tuning: every Transformer weight but the vocabulary-sized ones (embedding, head) is copied as is, in model order. */
export function copyGptWeights(src: CharModel, dst: CharModel): void {
  if (!src.gpt) return;
  const vocabSized = new Set<tf.Variable>([src.embedding, src.outKernel, src.outBias]);
  tf.tidy(() => src.variables.forEach((v, i) => vocabSized.has(v) || dst.variables[i]!.assign(v)));
}
