/**
 * The fused whole-sequence recurrent layer: one differentiable op per layer and sequence.
 *
 * Forward: the input projection of all T steps is one matMul ([B*T, I]·[I, G*H], the `linear` op;
 * for the first layer a row lookup in embedding·kernel); each step is one recurrent matMul (two
 * for GRU) plus one fused gate kernel (./sequence-kernels.ts) that also stores the activations the backward
 * pass needs. Backward (tf.customGrad): BPTT with one fused gate-gradient kernel and one matMul by
 * Rᵀ per step, filling dz [B*T, G*H]; then the weight gradients are single large products over all
 * steps: h_{t-1}ᵀ·dz the recurrent kernel, ones·dz the bias, and through `linear` xᵀ·dz the kernel
 * and dz·kernelᵀ the input gradient.
 *
 * Every transposed operand is transposed explicitly first: the wasm backend's matMul with
 * transposeA/transposeB runs an order of magnitude slower than the plain product
 * (docs/PERFORMANCE.md#figures-behind-the-engines-design-notes).
 *
 * Weight layout is exactly tf.layers.lstm/gru/simpleRNN's (LSTM gates i f c o, GRU z r h with
 * reset_after = false, recurrentActivation sigmoid), so checkpoints stay ordinary TF.js models.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CellType } from '../config.ts';
import type { LayerState, LayerWeights, SequenceImpl, SequenceResult } from '../recurrent.ts';
import { referenceSequence, referenceStep } from '../recurrent.ts';
import { alloc, registerFusedKernels, runFused } from './kernels.ts';
import { gruOpGpu, lstmOpGpu, rnnOpGpu } from './gpu-sequence.ts';
import { blockOpsFor, nativeSequence } from './native-sequence.ts';
import { wholeSequenceKernels } from './wasm-sequence.ts';

/** The whole-sequence ops run with WGSL gate kernels on webgpu (./gpu-sequence.ts). */
const onWebGPU = () => tf.getBackend() === 'webgpu';

type T2 = tf.Tensor2D;

function disposeUnless(t: tf.Tensor, ...keep: tf.Tensor[]): void {
  if (!keep.includes(t)) t.dispose();
}

/**
 * x·W as one op whose gradient uses explicitly transposed operands (autodiff's MatMul gradient
 * passes transposeA/transposeB, the slow path on wasm).
 */
export const linear = tf.customGrad(((x: T2, w: T2, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [T2, T2];
      return [tf.matMul(dy as T2, tf.transpose(sw)), tf.matMul(tf.transpose(sx), dy as T2)];
    },
  };
}) as never) as unknown as (x: T2, w: T2) => T2;

/** table[ids] with a JS row copy (wasm's GatherV2 is slow); gradient: segment sum into the rows. */
export function gatherRows(table: T2, ids: tf.Tensor1D): T2 {
  const f = tf.customGrad(((tbl: T2, save: tf.GradSaveFunc) => {
    save([]);
    return {
      value: runFused('CharmerGatherRows', [tbl, ids], {})[0]!,
      gradFunc: (dy: tf.Tensor) => [tf.unsortedSegmentSum(dy, ids, tbl.shape[0])],
    };
  }) as never) as unknown as (t: T2) => T2;
  return f(table);
}

/**
 * Column sums [N, M] -> [M]: one pass (CharmerColumnSum) on cpu and wasm, where tf.sum over axis 0
 * transposes first and a product with ones makes XNNPACK pack all of x; that product on webgpu.
 */
function colSum(x: tf.Tensor): tf.Tensor {
  if (onWebGPU()) return tf.reshape(tf.matMul(tf.ones([1, x.shape[0]!]), x as T2), [x.shape[1]!]);
  return runFused('CharmerColumnSum', [x], { H: x.shape[1]! })[0]!;
}

/** h_{t-1} for every row b*T+t: h0 then the outputs shifted by one step. */
function previousHidden(out3: tf.Tensor3D, h0: T2): T2 {
  const [B, T, H] = out3.shape;
  const parts = [tf.reshape(h0, [B, 1, H])];
  if (T > 1) parts.push(tf.slice(out3, [0, 0, 0], [B, T - 1, H]));
  return tf.reshape(tf.concat(parts, 1), [B * T, H]);
}

const lstmOp = tf.customGrad(((xp: T2, R: T2, bias: tf.Tensor1D, h0: T2, c0: T2, save: tf.GradSaveFunc) => {
  const H = R.shape[0];
  const B = h0.shape[0];
  const T = xp.shape[0] / B;
  const gates = alloc([B * T, 4 * H]);
  const cs = alloc([B * T, H]);
  const tcs = alloc([B * T, H]);
  const out = alloc([B * T, H]);
  let h: tf.Tensor = h0;
  let c: tf.Tensor = c0;
  const whole = wholeSequenceKernels(H);
  if (whole) [h, c] = runFused('CharmerLstmSeq', [xp, R, bias, h0, c0, gates, cs, tcs, out], { B, T, H }) as [tf.Tensor, tf.Tensor];
  for (let t = 0; !whole && t < T; t++) {
    const hr = tf.matMul(h, R);
    const [hn, cn] = runFused('CharmerLstmFwd', [xp, hr, bias, c, gates, cs, tcs, out], { t, T, H });
    hr.dispose();
    disposeUnless(h, h0);
    disposeUnless(c, c0);
    h = hn!;
    c = cn!;
  }
  const value = tf.concat([tf.reshape(out, [B, T, H]), tf.reshape(c, [B, 1, H])], 1);
  save([R, h0, c0, gates, cs, tcs, out]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sR, sh0, sc0, sg, scs, stcs, sout] = saved as [T2, T2, T2, T2, T2, T2, T2];
      const RT = tf.transpose(sR);
      const dz = alloc([B * T, 4 * H]);
      let dhr: tf.Tensor;
      let dc: tf.Tensor;
      if (whole) [dhr, dc] = runFused('CharmerLstmSeqGrad', [dy, RT, sg, scs, stcs, sc0, dz], { B, T, H }) as [tf.Tensor, tf.Tensor];
      else {
        dhr = tf.zeros([B, H]);
        dc = tf.reshape(tf.slice(dy, [0, T, 0], [B, 1, H]), [B, H]);
      }
      for (let t = T - 1; !whole && t >= 0; t--) {
        const [dzt, dcPrev] = runFused('CharmerLstmBwd', [dy, dhr, dc, sg, scs, stcs, sc0, dz], { t, T, Tv: T + 1, H });
        dhr.dispose();
        dc.dispose();
        dhr = tf.matMul(dzt!, RT);
        dzt!.dispose();
        dc = dcPrev!;
      }
      const hPrev = previousHidden(tf.reshape(sout, [B, T, H]), sh0);
      return [dz, tf.matMul(tf.transpose(hPrev), dz as T2), colSum(dz), dhr, dc];
    },
  };
}) as never) as unknown as (xp: T2, R: T2, b: tf.Tensor1D, h0: T2, c0: T2) => tf.Tensor3D;

const gruOp = tf.customGrad(((xp: T2, R: T2, bias: tf.Tensor1D, h0: T2, save: tf.GradSaveFunc) => {
  const H = R.shape[0];
  const B = h0.shape[0];
  const T = xp.shape[0] / B;
  const R1 = tf.slice(R, [0, 0], [H, 2 * H]);
  const R2 = tf.slice(R, [0, 2 * H], [H, H]);
  const gates = alloc([B * T, 3 * H]);
  const rhs = alloc([B * T, H]);
  const out = alloc([B * T, H]);
  let h: tf.Tensor = h0;
  const whole = wholeSequenceKernels(H);
  if (whole) h = runFused('CharmerGruSeq', [xp, R1, R2, bias, h0, gates, rhs, out], { B, T, H })[0]!;
  for (let t = 0; !whole && t < T; t++) {
    const hzr = tf.matMul(h, R1);
    const [rh] = runFused('CharmerGruFwdA', [xp, hzr, bias, h, gates, rhs], { t, T, H });
    hzr.dispose();
    const hhr = tf.matMul(rh!, R2);
    rh!.dispose();
    const [hn] = runFused('CharmerGruFwdB', [xp, hhr, bias, h, gates, out], { t, T, H });
    hhr.dispose();
    disposeUnless(h, h0);
    h = hn!;
  }
  h.dispose();
  const value = tf.reshape(out, [B, T, H]);
  save([R, h0, gates, rhs, out]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sR, sh0, sg, srhs, sout] = saved as [T2, T2, T2, T2, T2];
      const R1T = tf.transpose(tf.slice(sR, [0, 0], [H, 2 * H]));
      const R2T = tf.transpose(tf.slice(sR, [0, 2 * H], [H, H]));
      const dz = alloc([B * T, 3 * H]);
      let carryD: tf.Tensor = tf.zeros([B, H]);
      let carryM: tf.Tensor = tf.zeros([B, H]);
      // The whole-sequence kernel returns dh0 = carryD + carryM itself.
      if (whole) carryD = runFused('CharmerGruSeqGrad', [dy, R1T, R2T, sg, sout, sh0, dz], { B, T, H })[0]!;
      for (let t = T - 1; !whole && t >= 0; t--) {
        const [dzh, dhTot] = runFused('CharmerGruBwdA', [dy, carryD, carryM, sg, sout, sh0, dz], { t, T, H });
        const drh = tf.matMul(dzh!, R2T);
        dzh!.dispose();
        carryD.dispose();
        carryM.dispose();
        const [dzzr, cd] = runFused('CharmerGruBwdB', [drh, dhTot!, sg, sout, sh0, dz], { t, T, H });
        drh.dispose();
        dhTot!.dispose();
        carryD = cd!;
        carryM = tf.matMul(dzzr!, R1T);
        dzzr!.dispose();
      }
      const dh0 = whole ? carryD : tf.add(carryD, carryM);
      const hPrev = previousHidden(tf.reshape(sout, [B, T, H]), sh0);
      const dz2 = dz as T2;
      const dR1 = tf.matMul(tf.transpose(hPrev), tf.slice(dz2, [0, 0], [B * T, 2 * H]));
      const dR2 = tf.matMul(tf.transpose(srhs), tf.slice(dz2, [0, 2 * H], [B * T, H]));
      const dR = tf.concat([dR1, dR2], 1);
      return [dz2, dR, colSum(dz2), dh0];
    },
  };
}) as never) as unknown as (xp: T2, R: T2, b: tf.Tensor1D, h0: T2) => tf.Tensor3D;

const rnnOp = tf.customGrad(((xp: T2, R: T2, bias: tf.Tensor1D, h0: T2, save: tf.GradSaveFunc) => {
  const H = R.shape[0];
  const B = h0.shape[0];
  const T = xp.shape[0] / B;
  const out = alloc([B * T, H]);
  let h: tf.Tensor = h0;
  const whole = wholeSequenceKernels(H);
  if (whole) h = runFused('CharmerRnnSeq', [xp, R, bias, h0, out], { B, T, H })[0]!;
  for (let t = 0; !whole && t < T; t++) {
    const hr = tf.matMul(h, R);
    const [hn] = runFused('CharmerRnnFwd', [xp, hr, bias, out], { t, T, H });
    hr.dispose();
    disposeUnless(h, h0);
    h = hn!;
  }
  h.dispose();
  const value = tf.reshape(out, [B, T, H]);
  save([R, h0, out]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sR, sh0, sout] = saved as [T2, T2, T2];
      const RT = tf.transpose(sR);
      const dz = alloc([B * T, H]);
      let dhr: tf.Tensor = whole ? runFused('CharmerRnnSeqGrad', [dy, RT, sout, dz], { B, T, H })[0]! : tf.zeros([B, H]);
      for (let t = T - 1; !whole && t >= 0; t--) {
        const [dzt] = runFused('CharmerRnnBwd', [dy, dhr, sout, dz], { t, T, H });
        dhr.dispose();
        dhr = tf.matMul(dzt!, RT);
        dzt!.dispose();
      }
      const hPrev = previousHidden(tf.reshape(sout, [B, T, H]), sh0);
      return [dz, tf.matMul(tf.transpose(hPrev), dz as T2), colSum(dz), dhr];
    },
  };
}) as never) as unknown as (xp: T2, R: T2, b: tf.Tensor1D, h0: T2) => tf.Tensor3D;

/** The recurrence over a precomputed input projection xp = x·kernel ([B*T, G*H], bias not added). */
function fromProjection(cell: CellType, w: LayerWeights, xp: T2, B: number, T: number, state: LayerState): SequenceResult {
  const H = w.recurrentKernel.shape[0];
  const gpu = onWebGPU();
  if (cell === 'lstm') {
    const v = (gpu ? lstmOpGpu : lstmOp)(xp, w.recurrentKernel, w.bias, state[0]!, state[1]!);
    const outputs = tf.slice(v, [0, 0, 0], [B, T, H]) as tf.Tensor3D;
    const h = tf.reshape(tf.slice(v, [0, T - 1, 0], [B, 1, H]), [B, H]) as T2;
    const c = tf.reshape(tf.slice(v, [0, T, 0], [B, 1, H]), [B, H]) as T2;
    return { outputs, state: [h, c] };
  }
  const outputs = (cell === 'gru' ? (gpu ? gruOpGpu : gruOp) : gpu ? rnnOpGpu : rnnOp)(xp, w.recurrentKernel, w.bias, state[0]!);
  const h = tf.reshape(tf.slice(outputs, [0, T - 1, 0], [B, 1, H]), [B, H]) as T2;
  return { outputs, state: [h] };
}

/** The fused implementation for backends with fused kernels (cpu, wasm, webgpu) or block ops (tensorflow: ./native-sequence.ts); the reference elsewhere. */
export const fusedSequence: SequenceImpl = (cell: CellType, w: LayerWeights, x: tf.Tensor3D, state: LayerState): SequenceResult => {
  if (blockOpsFor(w.recurrentKernel.shape[0])) return nativeSequence(cell, w, x, state);
  if (!onWebGPU() && !registerFusedKernels(tf.getBackend())) return referenceSequence(cell, w, x, state);
  return tf.tidy(() => {
    const [B, T, I] = x.shape;
    if (x.dtype !== 'float32') x = tf.cast(x, 'float32');
    return fromProjection(cell, w, linear(tf.reshape(x, [B * T, I]) as T2, w.kernel), B, T, state) as never;
  }) as unknown as SequenceResult;
};

/**
 * The first layer straight from character ids: the embedding lookup followed by the input
 * projection is a lookup in the table embedding·kernel ([V, G*H], one small product), which saves
 * the [B*T, I]·[I, G*H] product and both of its gradient products (about a quarter of a 2-layer
 * model's FLOPs). The embedding gradient is then dtable·kernelᵀ, a [V, G*H] product.
 */
export function fusedSequenceFromIds(cell: CellType, w: LayerWeights, embedding: tf.Tensor2D, ids: tf.Tensor2D, state: LayerState): SequenceResult {
  const [B, T] = ids.shape;
  if (onWebGPU()) {
    // webgpu's GatherV2 is a plain kernel there (its gradient, UnsortedSegmentSum, too)
    return tf.tidy(() => {
      const table = linear(embedding, w.kernel);
      return fromProjection(cell, w, tf.gather(table, tf.reshape(ids, [-1])) as T2, B, T, state) as never;
    }) as unknown as SequenceResult;
  }
  const native = blockOpsFor(w.recurrentKernel.shape[0]);
  if (native || !registerFusedKernels(tf.getBackend())) {
    return tf.tidy(() => {
      const x = tf.reshape(tf.gather(embedding, tf.reshape(ids, [-1])), [B, T, embedding.shape[1]]) as tf.Tensor3D;
      return (native ? nativeSequence : referenceSequence)(cell, w, x, state) as never;
    }) as unknown as SequenceResult;
  }
  return tf.tidy(() => {
    const table = linear(embedding, w.kernel);
    return fromProjection(cell, w, gatherRows(table, tf.reshape(ids, [-1]) as tf.Tensor1D), B, T, state) as never;
  }) as unknown as SequenceResult;
}

/**
 * The recurrent kernel's GRU column blocks [H, 2H] and [H, H], sliced once per weight value (a
 * per-step slice costs ~15 ms at 512 units on wasm). A few entries, oldest disposed first, so the
 * tensor count stays bounded while training replaces the weights.
 */
const gruBlocks = new Map<object, [T2, T2]>();
function gruBlocksOf(R: T2): [T2, T2] {
  const hit = gruBlocks.get(R.dataId);
  if (hit && !hit[0].isDisposed) return hit;
  const H = R.shape[0];
  const blocks = tf.tidy(() => [tf.keep(tf.slice(R, [0, 0], [H, 2 * H])), tf.keep(tf.slice(R, [0, 2 * H], [H, H]))]) as [T2, T2];
  gruBlocks.set(R.dataId, blocks);
  while (gruBlocks.size > 4) {
    const [k, v] = gruBlocks.entries().next().value as [object, [T2, T2]];
    tf.dispose(v);
    gruBlocks.delete(k);
  }
  return blocks;
}

/** Dispose the sampling caches (GRU kernel blocks, first-layer tables; also replaced as the weights change). */
export function releaseFusedCaches(): void {
  for (const v of gruBlocks.values()) tf.dispose(v);
  gruBlocks.clear();
  for (const t of tables.splice(0)) t.table.dispose();
}

/**
 * One time step for sampling (stateful, batched across streams): per layer the input product,
 * the recurrent product(s) and one fused gate kernel (two for GRU), instead of the reference's ~17
 * ops and, for GRU, a slice of the recurrent kernel per step.
 */
export function fusedStep(cell: CellType, w: LayerWeights, x: T2, state: LayerState): LayerState {
  if (!registerFusedKernels(tf.getBackend())) return referenceStep(cell, w, x, state);
  return stepFromProjection(cell, w, () => tf.matMul(x.dtype === 'float32' ? x : tf.cast(x, 'float32'), w.kernel), state);
}

function stepFromProjection(cell: CellType, w: LayerWeights, projection: () => tf.Tensor, state: LayerState): LayerState {
  const H = w.recurrentKernel.shape[0];
  const blocks = cell === 'gru' ? gruBlocksOf(w.recurrentKernel) : null;
  return tf.tidy(() => {
    const xp = projection();
    const h = state[0]!;
    if (blocks) {
      const [rh] = runFused('CharmerGruStepA', [xp, tf.matMul(h, blocks[0]), w.bias, h], { H });
      return runFused('CharmerGruStepB', [xp, tf.matMul(rh!, blocks[1]), w.bias, h], { H }) as T2[];
    }
    const hr = tf.matMul(h, w.recurrentKernel);
    return (cell === 'lstm' ? runFused('CharmerLstmStep', [xp, hr, w.bias, state[1]!], { H }) : runFused('CharmerRnnStep', [xp, hr, w.bias], { H })) as T2[];
  });
}

/** embedding·kernel of the first layer for sampling, per weight values (few entries, oldest disposed). */
const tables: Array<{ e: object; k: object; table: T2 }> = [];
function tableOf(embedding: T2, kernel: T2): T2 {
  const hit = tables.find((t) => t.e === embedding.dataId && t.k === kernel.dataId && !t.table.isDisposed);
  if (hit) return hit.table;
  const table = tf.tidy(() => tf.keep(tf.matMul(embedding, kernel))) as T2;
  tables.push({ e: embedding.dataId, k: kernel.dataId, table });
  while (tables.length > 4) tables.shift()!.table.dispose();
  return table;
}

/**
 * The first layer's sampling step from character ids: one row of the cached table
 * embedding·kernel instead of the lookup and a [B, I]·[I, G*H] product (at 2x512 that product
 * reads a quarter of the model's weights per character).
 */
export function fusedStepFromIds(cell: CellType, w: LayerWeights, embedding: T2, ids: tf.Tensor1D, state: LayerState): LayerState {
  if (!registerFusedKernels(tf.getBackend())) return referenceStep(cell, w, tf.gather(embedding, ids) as T2, state);
  const table = tableOf(embedding, w.kernel);
  return stepFromProjection(cell, w, () => gatherRows(table, ids), state);
}
