import type { Preset } from './index.ts';

/** The seed post's large models (3 x 512), for a GPU (WebGPU or tfjs-node-gpu). */
export const largeGpu: Preset = {
  id: 'large-gpu',
  label: 'Large: GPU',
  description:
    "Big corpora (MBs of text, code). 3 x 512 LSTM with dropout 0.25: the seed post's large model, which needs the many passes over a big text that only a GPU gives in reasonable time; hours on a CPU.",
  config: {
    mode: 'text',
    model: 'lstm',
    rnnSize: 512,
    numLayers: 3,
    dropout: 0.25,
    batchSize: 100,
    seqLength: 100,
    learningRate: 2e-3,
    maxEpochs: 30,
    evalEvery: 500,
    sampleEvery: 500,
    sampleLength: 500,
  },
};
