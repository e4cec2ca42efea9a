import type { Preset } from './index.ts';

/** Prose or verse of a few hundred KB to a few MB; char-rnn's default-sized model. */
export const writingMedium: Preset = {
  id: 'writing-medium',
  label: 'Writing: medium',
  description:
    "Running text (stories, essays, verse). 2 x 256 LSTM with a little dropout: char-rnn's model for prose, carrying its state across batches so it keeps context beyond each 50-character window; 20 minutes on a CPU.",
  config: {
    mode: 'text',
    model: 'lstm',
    rnnSize: 256,
    numLayers: 2,
    dropout: 0.1,
    batchSize: 50,
    seqLength: 50,
    learningRate: 2e-3,
    maxTime: 1200,
    evalEvery: 250,
    sampleEvery: 250,
    sampleLength: 300,
  },
};
