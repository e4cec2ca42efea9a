/**
 * The fused recurrent layers (src/engine/fused) against the stock TF.js layers (forward) and the
 * autodiff reference loop (gradients w.r.t. x, kernel, recurrent kernel, bias and initial state),
 * within 1e-4 relative, on every backend that has fused kernels (cpu, wasm). WebGPU has no fused
 * kernels yet: there the fused entry point falls back to the reference (checked when an adapter exists).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/engine/backend.ts';
import type { CellType } from '../../src/engine/config.ts';
import { fusedSequence, fusedSequenceFromIds, fusedStep, fusedStepFromIds, releaseFusedCaches } from '../../src/engine/fused/sequence.ts';
import { referenceFromIds, referenceSequence, referenceStep, setSequenceImpl, type IdsSequenceImpl, type SequenceImpl } from '../../src/engine/recurrent.ts';

const CELLS: CellType[] = ['lstm', 'gru', 'rnn'];
const gates = (c: CellType) => (c === 'lstm' ? 4 : c === 'gru' ? 3 : 1);

function maxRelErr(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  expect(a.shape).toEqual(b.shape);
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < y.length; i++) {
    diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return diff / scale;
}

interface Case {
  x: tf.Tensor3D;
  K: tf.Tensor2D;
  R: tf.Tensor2D;
  b: tf.Tensor1D;
  state: tf.Tensor2D[];
}

function makeCase(cell: CellType, B: number, T: number, I: number, H: number, seed: number, zeroState = false): Case {
  const G = gates(cell);
  const r = (s: number[], k: number, std = 0.5) => tf.randomNormal(s, 0, std, 'float32', seed * 100 + k);
  const state = Array.from({ length: cell === 'lstm' ? 2 : 1 }, (_, k) => (zeroState ? tf.zeros([B, H]) : r([B, H], 5 + k)) as tf.Tensor2D);
  return { x: r([B, T, I], 1) as tf.Tensor3D, K: r([I, G * H], 2) as tf.Tensor2D, R: r([H, G * H], 3) as tf.Tensor2D, b: r([G * H], 4) as tf.Tensor1D, state };
}

/** Loss = weighted sum of outputs and final states, so every output path gets a gradient. */
function gradsOf(impl: SequenceImpl, cell: CellType, c: Case): tf.Tensor[] {
  const [B, T] = c.x.shape;
  const H = c.R.shape[0];
  const wy = tf.randomNormal([B, T, H], 0, 1, 'float32', 7);
  const ws = c.state.map((_, k) => tf.randomNormal([B, H], 0, 1, 'float32', 8 + k));
  const f = (x: tf.Tensor, K: tf.Tensor, R: tf.Tensor, b: tf.Tensor, ...st: tf.Tensor[]) => {
    const res = impl(cell, { kernel: K as tf.Tensor2D, recurrentKernel: R as tf.Tensor2D, bias: b as tf.Tensor1D }, x as tf.Tensor3D, st as tf.Tensor2D[]);
    let loss = tf.sum(tf.mul(res.outputs, wy));
    res.state.forEach((s, k) => (loss = tf.add(loss, tf.sum(tf.mul(s, ws[k]!)))));
    return loss as tf.Scalar;
  };
  const run = impl(cell, { kernel: c.K, recurrentKernel: c.R, bias: c.b }, c.x, c.state);
  return [run.outputs, ...run.state, ...tf.grads(f as never)([c.x, c.K, c.R, c.b, ...c.state])];
}

/** The stock layer with the same weights (zero initial state: the layers API's default). */
function stockOutputs(cell: CellType, c: Case): tf.Tensor {
  const H = c.R.shape[0];
  const common = { units: H, returnSequences: true, kernelInitializer: 'zeros', recurrentInitializer: 'zeros' } as const;
  const layer =
    cell === 'lstm'
      ? tfl.layers.lstm({ ...common, recurrentActivation: 'sigmoid' })
      : cell === 'gru'
        ? tfl.layers.gru({ ...common, recurrentActivation: 'sigmoid', resetAfter: false } as never)
        : tfl.layers.simpleRNN(common);
  tf.dispose(layer.apply(c.x) as tf.Tensor); // builds it
  layer.setWeights([c.K, c.R, c.b]);
  const y = layer.apply(c.x) as tf.Tensor;
  layer.dispose();
  return y;
}

const NAMES = ['outputs', 'h_T', 'c_T', 'dx', 'dkernel', 'drecurrent', 'dbias', 'dh0', 'dc0'];

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`fused recurrent layers on ${backend}`, () => {
    for (const cell of CELLS) {
      it(`${cell}: outputs equal the stock tf.layers ${cell} layer`, async () => {
        await chooseBackend(backend);
        tf.tidy(() => {
          const c = makeCase(cell, 3, 7, 5, 8, 11, true);
          const fused = fusedSequence(cell, { kernel: c.K, recurrentKernel: c.R, bias: c.b }, c.x, c.state);
          expect(maxRelErr(fused.outputs, stockOutputs(cell, c))).toBeLessThan(1e-4);
        });
      });

      it(`${cell}: outputs, final state and every gradient equal the autodiff reference`, async () => {
        await chooseBackend(backend);
        tf.tidy(() => {
          for (const [B, T, I, H] of [
            [3, 5, 4, 6],
            [4, 9, 16, 12],
            [2, 1, 3, 5],
          ] as const) {
            const c = makeCase(cell, B, T, I, H, B + T);
            const want = gradsOf(referenceSequence, cell, c);
            const got = gradsOf(fusedSequence, cell, c);
            const names = cell === 'lstm' ? NAMES : NAMES.filter((n) => n !== 'c_T' && n !== 'dc0');
            expect(got.length).toBe(want.length);
            got.forEach((g, i) => expect(maxRelErr(g, want[i]!), `${names[i]} [${B},${T},${I},${H}]`).toBeLessThan(1e-4));
          }
        });
      });
    }

    for (const cell of CELLS) {
      it(`${cell}: the first layer from ids (embedding·kernel table) equals lookup + reference, with gradients`, async () => {
        await chooseBackend(backend);
        setSequenceImpl(null); // referenceFromIds then runs the autodiff reference
        tf.tidy(() => {
          const [B, T, V, I, H] = [3, 6, 7, 5, 4];
          const c = makeCase(cell, B, T, I, H, 21);
          const E = tf.randomNormal([V, I], 0, 0.5, 'float32', 99);
          const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i * 5 + 3) % V), [B, T], 'int32');
          const wy = tf.randomNormal([B, T, H], 0, 1, 'float32', 7);
          const run = (impl: IdsSequenceImpl) =>
            tf.grads(((e: tf.Tensor2D, K: tf.Tensor2D, R: tf.Tensor2D, b: tf.Tensor1D, ...st: tf.Tensor2D[]) => {
              const r = impl(cell, { kernel: K, recurrentKernel: R, bias: b }, e, ids, st);
              return tf.add(tf.sum(tf.mul(r.outputs, wy)), tf.sum(r.state[r.state.length - 1]!));
            }) as never)([E, c.K, c.R, c.b, ...c.state]);
          const want = run(referenceFromIds);
          const got = run(fusedSequenceFromIds);
          got.forEach((g, i) => expect(maxRelErr(g, want[i]!), `gradient ${i}`).toBeLessThan(1e-4));
        });
      });
    }

    it('the sampling step equals the reference step for every cell', async () => {
      await chooseBackend(backend);
      for (const cell of CELLS) {
        tf.tidy(() => {
          const c = makeCase(cell, 4, 1, 6, 9, 31);
          const x = tf.reshape(c.x, [4, 6]) as tf.Tensor2D;
          const w = { kernel: c.K, recurrentKernel: c.R, bias: c.b };
          const want = referenceStep(cell, w, x, c.state);
          const got = fusedStep(cell, w, x, c.state);
          got.forEach((g, i) => expect(maxRelErr(g, want[i]!), `${cell} state ${i}`).toBeLessThan(1e-4));
          const E = tf.randomNormal([11, 6], 0, 0.5, 'float32', 5) as tf.Tensor2D;
          const ids = tf.tensor1d([3, 0, 10, 3], 'int32');
          const wantIds = referenceStep(cell, w, tf.gather(E, ids) as tf.Tensor2D, c.state);
          fusedStepFromIds(cell, w, E, ids, c.state).forEach((g, i) => expect(maxRelErr(g, wantIds[i]!), `${cell} from ids, state ${i}`).toBeLessThan(1e-4));
        });
      }
      releaseFusedCaches();
    });

    it('leaves no tensors behind (forward and backward)', async () => {
      await chooseBackend(backend);
      const c = makeCase('lstm', 2, 4, 3, 5, 3);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) tf.tidy(() => void gradsOf(fusedSequence, 'lstm', c));
      tf.tidy(() => void gradsOf(fusedSequence, 'gru', makeCase('gru', 2, 4, 3, 5, 3)));
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('fused recurrent layers on webgpu', () => {
  it('falls back to the reference and matches it where an adapter exists', async (ctx) => {
    try {
      await chooseBackend('webgpu');
    } catch (e) {
      ctx.skip(`no WebGPU adapter here (${(e as Error).message.slice(0, 120)})`);
      return;
    }
    // (webgpu has no synchronous reads in Node: compare through data())
    const c = makeCase('lstm', 2, 3, 4, 5, 1);
    const got = gradsOf(fusedSequence, 'lstm', c);
    const want = gradsOf(referenceSequence, 'lstm', c);
    for (let i = 0; i < got.length; i++) {
      const [a, b] = [await got[i]!.data(), await want[i]!.data()];
      const scale = Math.max(1e-6, ...Array.from(b, Math.abs));
      expect(Math.max(...Array.from(a, (v, k) => Math.abs(v - b[k]!))) / scale).toBeLessThan(1e-4);
    }
  });
});

afterAll(async () => {
  await chooseBackend('cpu');
});
