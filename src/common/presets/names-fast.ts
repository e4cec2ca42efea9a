import type { Preset } from './index.ts';

/** A list of names or titles in about a minute on a laptop CPU. */
export const namesFast: Preset = {
  id: 'names-fast',
  label: 'Names: fast',
  description:
    'Lists of short items (names, titles). 2 x 128 LSTM: items of a few characters need no long context, and a small recurrent model takes the most steps per minute; a minute on a CPU gives plausible new names.',
  config: {
    mode: 'lines',
    model: 'lstm',
    rnnSize: 128,
    numLayers: 2,
    dropout: 0,
    batchSize: 64,
    learningRate: 3e-3,
    maxTime: 60,
    maxEpochs: 20,
    evalEvery: 100,
    sampleEvery: 100,
    sampleLength: 20,
  },
};
