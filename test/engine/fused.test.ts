/**
 * The fused recurrent layers (src/engine/fused) against the stock TF.js layers (forward) and the
 * autodiff reference loop (gradients w.r.t. x, kernel, recurrent kernel, bias and initial state),
 * within 1e-4 relative, on every backend that has fused kernels: cpu and wasm (JS loops), webgpu (WGSL
 * kernels; skipped with a note where no adapter exists, e.g. without Mesa 25's lavapipe), tensorflow
 * (TensorFlow's block ops; skipped where tfjs-node is not installed, as on a fresh machine).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { benchModel } from '../../src/bench/harness.ts';
import { chooseBackend } from '../../src/engine/backend.ts';
import type { CellType } from '../../src/engine/config.ts';
import { setFmaGemm } from '../../src/engine/fused/gemm.ts';
import { fusedSequence, fusedSequenceFromIds, fusedStep, fusedStepFromIds, releaseFusedCaches } from '../../src/engine/fused/sequence.ts';
import { Optimizer } from '../../src/engine/optimizer.ts';
import { maskedLoss } from '../../src/engine/train.ts';
import { referenceFromIds, referenceSequence, referenceStep, setSequenceImpl, type IdsSequenceImpl, type SequenceImpl } from '../../src/engine/recurrent.ts';
import { backendOrSkip } from './backend-or-skip.ts';

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

/**
 * Gradients (embedding, kernel, recurrent kernel, bias, initial state) through the first layer
 * from character ids: the autodiff reference (lookup, then the loop) and the fused table path.
 */
function fromIdsGradients(cell: CellType): { want: tf.Tensor[]; got: tf.Tensor[] } {
  const [B, T, V, I, H] = [3, 6, 7, 5, 4];
  const c = makeCase(cell, B, T, I, H, 21);
  const E = tf.randomNormal([V, I], 0, 0.5, 'float32', 99);
  const ids = tf.tensor2d(
    Array.from({ length: B * T }, (_, i) => (i * 5 + 3) % V),
    [B, T],
    'int32',
  );
  const wy = tf.randomNormal([B, T, H], 0, 1, 'float32', 7);
  const run = (impl: IdsSequenceImpl) =>
    tf.grads(((e: tf.Tensor2D, K: tf.Tensor2D, R: tf.Tensor2D, b: tf.Tensor1D, ...st: tf.Tensor2D[]) => {
      const r = impl(cell, { kernel: K, recurrentKernel: R, bias: b }, e, ids, st);
      return tf.add(tf.sum(tf.mul(r.outputs, wy)), tf.sum(r.state[r.state.length - 1]!));
    }) as never)([E, c.K, c.R, c.b, ...c.state]);
  return { want: run(referenceFromIds), got: run(fusedSequenceFromIds) };
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

for (const backend of ['cpu', 'wasm', 'tensorflow'] as const) {
  describe(`fused recurrent layers on ${backend}${backend === 'tensorflow' ? ' (block ops; where tfjs-node is installed)' : ''}`, () => {
    for (const cell of CELLS) {
      it(`${cell}: outputs equal the stock tf.layers ${cell} layer`, async (ctx) => {
        if (!(await backendOrSkip(backend, ctx))) return;
        tf.tidy(() => {
          const c = makeCase(cell, 3, 7, 5, 8, 11, true);
          const fused = fusedSequence(cell, { kernel: c.K, recurrentKernel: c.R, bias: c.b }, c.x, c.state);
          expect(maxRelErr(fused.outputs, stockOutputs(cell, c))).toBeLessThan(1e-4);
        });
      });

      it(`${cell}: outputs, final state and every gradient equal the autodiff reference`, async (ctx) => {
        if (!(await backendOrSkip(backend, ctx))) return;
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
      it(`${cell}: the first layer from ids (embedding·kernel table) equals lookup + reference, with gradients`, async (ctx) => {
        if (!(await backendOrSkip(backend, ctx))) return;
        setSequenceImpl(null); // referenceFromIds then runs the autodiff reference
        tf.tidy(() => {
          const { want, got } = fromIdsGradients(cell);
          got.forEach((g, i) => expect(maxRelErr(g, want[i]!), `gradient ${i}`).toBeLessThan(1e-4));
        });
      });
    }

    it('the sampling step equals the reference step for every cell (JS loops at 9 units, SIMD on wasm at 8)', async (ctx) => {
      if (backend === 'tensorflow') return ctx.skip('the batched sampling step is the reference there: nothing to compare');
      if (!(await backendOrSkip(backend, ctx))) return;
      for (const cell of CELLS)
        for (const H of [9, 8]) {
          tf.tidy(() => {
            const c = makeCase(cell, 4, 1, 6, H, 31);
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

    it('leaves no tensors behind (forward and backward)', async (ctx) => {
      if (!(await backendOrSkip(backend, ctx))) return;
      const c = makeCase('lstm', 2, 4, 3, 5, 3);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) tf.tidy(() => void gradsOf(fusedSequence, 'lstm', c));
      tf.tidy(() => void gradsOf(fusedSequence, 'gru', makeCase('gru', 2, 4, 3, 5, 3)));
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('whole-sequence kernels on wasm (one kernel call per layer and direction)', () => {
  afterAll(() => setFmaGemm(true));
  // Products through the FMA GEMM (./gemm.ts: 4-row tiles, then 1-row; 8-column panels, then a
  // half panel at H = 12) and through XNNPACK (5 rows: the last row split off, 3 rows: not).
  for (const cell of CELLS) {
    for (const [B, H, fma] of [
      [3, 8, false],
      [5, 8, false],
      [5, 8, true],
      [6, 12, true],
    ] as const)
      it(`${cell}, ${B} rows, ${H} units, products by ${fma ? 'FMA GEMM' : 'XNNPACK'}: runs as one forward and one backward kernel, equal to the reference, no tensors left`, async () => {
        await chooseBackend('wasm');
        setFmaGemm(fma);
        const name = { lstm: 'CharmerLstmSeq', gru: 'CharmerGruSeq', rnn: 'CharmerRnnSeq' }[cell];
        const c = makeCase(cell, B, 6, 5, H, 41);
        const before = tf.memory().numTensors;
        const profile = await tf.profile(() => {
          tf.tidy(() => {
            const want = gradsOf(referenceSequence, cell, c);
            gradsOf(fusedSequence, cell, c).forEach((g, i) => expect(maxRelErr(g, want[i]!), `${cell} result ${i}`).toBeLessThan(1e-4));
          });
        });
        const used = profile.kernels.map((k) => k.name);
        expect(used.filter((n) => n === name)).toHaveLength(2); // the value, and the forward inside tf.grads
        expect(used.filter((n) => n === `${name}Grad`)).toHaveLength(1);
        expect(used.some((n) => /^Charmer(Lstm|Gru|Rnn)(Fwd|Bwd)/.test(n))).toBe(false); // no per-step kernels
        expect(tf.memory().numTensors).toBe(before);
      });
  }
});

/** Max |a-b| over max |b|, read through data() (webgpu has no synchronous reads in Node). */
async function maxRelErrAsync(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  expect(a.shape).toEqual(b.shape);
  const [x, y] = [await a.data(), await b.data()];
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < y.length; i++) {
    diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return diff / scale;
}

describe('fused recurrent layers on webgpu (WGSL gate kernels)', () => {
  for (const cell of CELLS) {
    it(`${cell}: outputs, final state and every gradient equal the autodiff reference`, async (ctx) => {
      if (!(await backendOrSkip('webgpu', ctx))) return;
      const names = cell === 'lstm' ? NAMES : NAMES.filter((n) => n !== 'c_T' && n !== 'dc0');
      for (const [B, T, I, H] of [
        [3, 5, 4, 6],
        [4, 9, 16, 12],
        [2, 1, 3, 5],
        [5, 4, 7, 70], // more than one workgroup per step
      ] as const) {
        const c = makeCase(cell, B, T, I, H, B + T);
        const want = gradsOf(referenceSequence, cell, c);
        const got = gradsOf(fusedSequence, cell, c);
        expect(got.length).toBe(want.length);
        for (let i = 0; i < got.length; i++) expect(await maxRelErrAsync(got[i]!, want[i]!), `${names[i]} [${B},${T},${I},${H}]`).toBeLessThan(1e-4);
        tf.dispose([...want, ...got, c.x, c.K, c.R, c.b, ...c.state]);
      }
    });

    it(`${cell}: the first layer from ids equals lookup + reference, with gradients`, async (ctx) => {
      if (!(await backendOrSkip('webgpu', ctx))) return;
      setSequenceImpl(null);
      const { want, got } = fromIdsGradients(cell);
      for (let i = 0; i < got.length; i++) expect(await maxRelErrAsync(got[i]!, want[i]!), `gradient ${i}`).toBeLessThan(1e-4);
    });
  }

  it('leaves no tensors behind (forward and backward)', async (ctx) => {
    if (!(await backendOrSkip('webgpu', ctx))) return;
    const c = makeCase('lstm', 2, 4, 3, 5, 3);
    const before = tf.memory().numTensors;
    for (const cell of CELLS) {
      const cc = cell === 'lstm' ? c : makeCase(cell, 2, 4, 3, 5, 3);
      const n = tf.memory().numTensors;
      tf.tidy(() => void gradsOf(fusedSequence, cell, cc));
      expect(tf.memory().numTensors).toBe(n);
      if (cc !== c) tf.dispose([cc.x, cc.K, cc.R, cc.b, ...cc.state]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a short training run gives the same losses as on wasm (1e-3)', async (ctx) => {
    if (!(await backendOrSkip('webgpu', ctx))) return;
    const losses = async (backend: 'wasm' | 'webgpu', cell: CellType): Promise<number[]> => {
      await chooseBackend(backend);
      const [B, T, V] = [4, 8, 13];
      const model = benchModel({ cell, layers: 2, hidden: 24, batch: B, seq: T, vocab: V });
      const opt = new Optimizer('adam', model.variables);
      let state = model.zeroState(B);
      const out: number[] = [];
      for (let i = 0; i < 5; i++) {
        const x = tf.tensor2d(
          Int32Array.from({ length: B * T }, (_, k) => (k * 7) % V),
          [B, T],
          'int32',
        );
        const y = tf.tensor1d(
          Int32Array.from({ length: B * T }, (_, k) => (k * 5) % V),
          'int32',
        );
        let next: typeof state = [];
        const r = tf.variableGrads(() => {
          const f = model.forward(x, state);
          next = f.state.map((l) => l.map((s) => tf.keep(s)));
          return maskedLoss(f.logits, y, null, B * T);
        }, model.variables);
        out.push((await r.value.data())[0]!);
        // A clip small enough to act on every step: the global norm must be right on webgpu too.
        opt.apply(
          model.variables.map((v) => r.grads[v.name]!),
          2e-3,
          0.1,
        );
        tf.dispose([x, y, r.value, ...Object.values(r.grads), ...state.flat()]);
        state = next;
      }
      tf.dispose(state.flat());
      opt.dispose();
      model.dispose();
      return out;
    };
    for (const cell of CELLS) {
      const want = await losses('wasm', cell);
      const got = await losses('webgpu', cell);
      got.forEach((l, i) => expect(Math.abs(l - want[i]!), `${cell} step ${i}: ${l} vs ${want[i]}`).toBeLessThan(1e-3));
      expect(want[4]).toBeLessThan(want[0]!); // it did learn
    }
  });
});

afterAll(async () => {
  await chooseBackend('cpu');
});
