/**
 * A gradient worker: its own TF.js backend (wasm: one core each), its own copy of the weights
 * (read from shared memory when the trainer's version changes), and per step the loss and
 * gradients of its rows of the batch, written straight into its shared gradient buffer.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend, hostView } from '../backend.ts';
import { CharModel, type CharmerMetadata } from '../model.ts';
import type { LayerState } from '../recurrent.ts';
import { shardGradients } from '../train-step.ts';
import { Vocabulary } from '../vocabulary.ts';
import type { FromWorker, InitMessage, StepMessage, ToWorker } from './protocol.ts';

const port = parentPort!;
let model: CharModel | null = null;
let weights: Float32Array;
let grads: Float32Array;
let version = -1;

function post(m: FromWorker): void {
  port.postMessage(m);
}

async function init(m: InitMessage): Promise<void> {
  await chooseBackend(m.backend);
  const vocab = new Vocabulary(m.chars);
  model = CharModel.create(m.spec, vocab, { vocab: vocab.chars } as unknown as CharmerMetadata, 0);
  weights = new Float32Array(m.weights);
  grads = new Float32Array(m.grads);
  post({ type: 'ready' });
}

function loadWeights(): void {
  // tidy: assign() keeps the new value's storage but not its tensor, which (outside a scope)
  // would hold the previous weights forever: every step leaked a copy of the weights here.
  tf.tidy(() => {
    let off = 0;
    for (const v of model!.variables) {
      // wasm's tf.tensor copies into its heap; the cpu backend would keep (alias) the shared array.
      const values = weights.subarray(off, off + v.size);
      v.assign(tf.tensor(tf.getBackend() === 'wasm' ? values : values.slice(), v.shape));
      off += v.size;
    }
  });
}

function step(m: StepMessage): void {
  const mdl = model!;
  if (m.version !== version) {
    loadWeights();
    version = m.version;
  }
  const H = mdl.spec.hidden;
  const prev: LayerState[] = m.state.map((l) => l.map((a) => tf.tensor2d(a, [m.rows, H])));
  const { value, grads: g, next } = shardGradients(mdl, m.dropoutSeed)(m, prev);
  // Reads outside any tidy (on wasm a dataSync inside tidy costs ~70 ms: docs/DESIGN.md).
  let off = 0;
  for (const v of mdl.variables) {
    const t = g[v.name]!;
    grads.set(hostView(t) ?? (t.dataSync() as Float32Array), off);
    off += v.size;
  }
  const loss = value.dataSync()[0]!;
  const state = next.map((l) => l.map((s) => s.dataSync() as Float32Array));
  tf.dispose([value, ...Object.values(g), ...prev.flat(), ...next.flat()]);
  post({ type: 'done', loss, state, tensors: tf.memory().numTensors });
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'close') {
    model?.dispose();
    port.close();
    return;
  }
  const run = m.type === 'init' ? init(m) : Promise.resolve(step(m));
  run.catch((e: unknown) => post({ type: 'error', message: (e as Error)?.stack ?? String(e) }));
});
