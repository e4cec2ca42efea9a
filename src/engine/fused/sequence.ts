/**
 * The fused whole-sequence recurrent layer: one differentiable op per layer and sequence.
 *
 * Forward: the input projection of all T steps is one matMul ([B*T, I]·[I, G*H]); each step is one
 * recurrent matMul (two for GRU) plus one fused gate kernel (./kernels.ts) that also stores the
 * activations the backward pass needs. Backward (tf.customGrad): BPTT with one fused gate-gradient
 * kernel and one matMul by Rᵀ per step, filling dz [B*T, G*H]; then the weight gradients are single
 * large products over all steps: [x | h_{t-1}]ᵀ·dz gives kernel and recurrent kernel together,
 * sum(dz) the bias, dz·kernelᵀ the input gradient.
 *
 * Every transposed operand is transposed explicitly first: the wasm backend's matMul with
 * transposeA/transposeB runs at 0.5-2 GFLOP/s here, against 20-31 GFLOP/s plain (bench/README).
 *
 * Weight layout is exactly tf.layers.lstm/gru/simpleRNN's (LSTM gates i f c o, GRU z r h with
 * reset_after = false, recurrentActivation sigmoid), so checkpoints stay ordinary TF.js models.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CellType } from '../config.ts';
import type { LayerState, LayerWeights, SequenceImpl, SequenceResult } from '../recurrent.ts';
import { referenceSequence } from '../recurrent.ts';
import { alloc, registerFusedKernels, runFused } from './kernels.ts';

type T2 = tf.Tensor2D;

function disposeUnless(t: tf.Tensor, ...keep: tf.Tensor[]): void {
  if (!keep.includes(t)) t.dispose();
}

/** Gradients of [x | hPrev]ᵀ·dz split into kernel and recurrent-kernel parts, plus bias and dx. */
function weightGrads(x2: T2, hPrev: T2, dz: T2, kernel: T2, I: number, H: number, GH: number) {
  const xh = tf.concat([x2, hPrev], 1);
  const dw = tf.matMul(tf.transpose(xh), dz);
  const dK = tf.slice(dw, [0, 0], [I, GH]);
  const dR = tf.slice(dw, [I, 0], [H, GH]);
  const db = tf.sum(dz, 0);
  const dx2 = tf.matMul(dz, tf.transpose(kernel));
  return { dK, dR, db, dx2 };
}

/** h_{t-1} for every row b*T+t: h0 then the outputs shifted by one step. */
function previousHidden(out3: tf.Tensor3D, h0: T2): T2 {
  const [B, T, H] = out3.shape;
  const parts = [tf.reshape(h0, [B, 1, H])];
  if (T > 1) parts.push(tf.slice(out3, [0, 0, 0], [B, T - 1, H]));
  return tf.reshape(tf.concat(parts, 1), [B * T, H]);
}

const lstmOp = tf.customGrad(((x: tf.Tensor3D, K: T2, R: T2, bias: tf.Tensor1D, h0: T2, c0: T2, save: tf.GradSaveFunc) => {
  const [B, T, I] = x.shape;
  const H = R.shape[0];
  const xp = tf.matMul(tf.reshape(x, [B * T, I]), K);
  const gates = alloc([B * T, 4 * H]);
  const cs = alloc([B * T, H]);
  const tcs = alloc([B * T, H]);
  const out = alloc([B * T, H]);
  let h: tf.Tensor = h0;
  let c: tf.Tensor = c0;
  for (let t = 0; t < T; t++) {
    const hr = tf.matMul(h, R);
    const [hn, cn] = runFused('CharmerLstmFwd', [xp, hr, bias, c, gates, cs, tcs, out], { t, T, H });
    hr.dispose();
    disposeUnless(h, h0);
    disposeUnless(c, c0);
    h = hn!;
    c = cn!;
  }
  const value = tf.concat([tf.reshape(out, [B, T, H]), tf.reshape(c, [B, 1, H])], 1);
  save([x, K, R, h0, c0, gates, cs, tcs, out]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sK, sR, sh0, sc0, sg, scs, stcs, sout] = saved as [tf.Tensor3D, T2, T2, T2, T2, T2, T2, T2, T2];
      const RT = tf.transpose(sR);
      const dz = alloc([B * T, 4 * H]);
      let dhr: tf.Tensor = tf.zeros([B, H]);
      let dc: tf.Tensor = tf.reshape(tf.slice(dy, [0, T, 0], [B, 1, H]), [B, H]);
      for (let t = T - 1; t >= 0; t--) {
        const [dzt, dcPrev] = runFused('CharmerLstmBwd', [dy, dhr, dc, sg, scs, stcs, sc0, dz], { t, T, Tv: T + 1, H });
        dhr.dispose();
        dc.dispose();
        dhr = tf.matMul(dzt!, RT);
        dzt!.dispose();
        dc = dcPrev!;
      }
      const hPrev = previousHidden(tf.reshape(sout, [B, T, H]), sh0);
      const g = weightGrads(tf.reshape(sx, [B * T, I]), hPrev, dz as T2, sK, I, H, 4 * H);
      return [tf.reshape(g.dx2, [B, T, I]), g.dK, g.dR, g.db, dhr, dc];
    },
  };
}) as never) as unknown as (x: tf.Tensor3D, K: T2, R: T2, b: tf.Tensor1D, h0: T2, c0: T2) => tf.Tensor3D;

const gruOp = tf.customGrad(((x: tf.Tensor3D, K: T2, R: T2, bias: tf.Tensor1D, h0: T2, save: tf.GradSaveFunc) => {
  const [B, T, I] = x.shape;
  const H = R.shape[0];
  const xp = tf.matMul(tf.reshape(x, [B * T, I]), K);
  const R1 = tf.slice(R, [0, 0], [H, 2 * H]);
  const R2 = tf.slice(R, [0, 2 * H], [H, H]);
  const gates = alloc([B * T, 3 * H]);
  const rhs = alloc([B * T, H]);
  const out = alloc([B * T, H]);
  let h: tf.Tensor = h0;
  for (let t = 0; t < T; t++) {
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
  save([x, K, R, h0, gates, rhs, out]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sK, sR, sh0, sg, srhs, sout] = saved as [tf.Tensor3D, T2, T2, T2, T2, T2, T2];
      const R1T = tf.transpose(tf.slice(sR, [0, 0], [H, 2 * H]));
      const R2T = tf.transpose(tf.slice(sR, [0, 2 * H], [H, H]));
      const dz = alloc([B * T, 3 * H]);
      let carryD: tf.Tensor = tf.zeros([B, H]);
      let carryM: tf.Tensor = tf.zeros([B, H]);
      for (let t = T - 1; t >= 0; t--) {
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
      const dh0 = tf.add(carryD, carryM);
      const hPrev = previousHidden(tf.reshape(sout, [B, T, H]), sh0);
      const x2 = tf.reshape(sx, [B * T, I]);
      const dz2 = dz as T2;
      const dK = tf.matMul(tf.transpose(x2), dz2);
      const dR1 = tf.matMul(tf.transpose(hPrev), tf.slice(dz2, [0, 0], [B * T, 2 * H]));
      const dR2 = tf.matMul(tf.transpose(srhs), tf.slice(dz2, [0, 2 * H], [B * T, H]));
      const dR = tf.concat([dR1, dR2], 1);
      const db = tf.sum(dz2, 0);
      const dx = tf.reshape(tf.matMul(dz2, tf.transpose(sK)), [B, T, I]);
      return [dx, dK, dR, db, dh0];
    },
  };
}) as never) as unknown as (x: tf.Tensor3D, K: T2, R: T2, b: tf.Tensor1D, h0: T2) => tf.Tensor3D;

const rnnOp = tf.customGrad(((x: tf.Tensor3D, K: T2, R: T2, bias: tf.Tensor1D, h0: T2, save: tf.GradSaveFunc) => {
  const [B, T, I] = x.shape;
  const H = R.shape[0];
  const xp = tf.matMul(tf.reshape(x, [B * T, I]), K);
  const out = alloc([B * T, H]);
  let h: tf.Tensor = h0;
  for (let t = 0; t < T; t++) {
    const hr = tf.matMul(h, R);
    const [hn] = runFused('CharmerRnnFwd', [xp, hr, bias, out], { t, T, H });
    hr.dispose();
    disposeUnless(h, h0);
    h = hn!;
  }
  h.dispose();
  const value = tf.reshape(out, [B, T, H]);
  save([x, K, R, h0, out]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sK, sR, sh0, sout] = saved as [tf.Tensor3D, T2, T2, T2, T2];
      const RT = tf.transpose(sR);
      const dz = alloc([B * T, H]);
      let dhr: tf.Tensor = tf.zeros([B, H]);
      for (let t = T - 1; t >= 0; t--) {
        const [dzt] = runFused('CharmerRnnBwd', [dy, dhr, sout, dz], { t, T, H });
        dhr.dispose();
        dhr = tf.matMul(dzt!, RT);
        dzt!.dispose();
      }
      const hPrev = previousHidden(tf.reshape(sout, [B, T, H]), sh0);
      const g = weightGrads(tf.reshape(sx, [B * T, I]), hPrev, dz as T2, sK, I, H, H);
      return [tf.reshape(g.dx2, [B, T, I]), g.dK, g.dR, g.db, dhr];
    },
  };
}) as never) as unknown as (x: tf.Tensor3D, K: T2, R: T2, b: tf.Tensor1D, h0: T2) => tf.Tensor3D;

/** The fused implementation for backends with fused kernels (cpu, wasm); the reference elsewhere. */
export const fusedSequence: SequenceImpl = (cell: CellType, w: LayerWeights, x: tf.Tensor3D, state: LayerState): SequenceResult => {
  if (!registerFusedKernels(tf.getBackend())) return referenceSequence(cell, w, x, state);
  return tf.tidy(() => {
    const [B, T] = x.shape;
    const H = w.recurrentKernel.shape[0];
    if (x.dtype !== 'float32') x = tf.cast(x, 'float32');
    if (cell === 'lstm') {
      const v = lstmOp(x, w.kernel, w.recurrentKernel, w.bias, state[0]!, state[1]!);
      const outputs = tf.slice(v, [0, 0, 0], [B, T, H]) as tf.Tensor3D;
      const h = tf.reshape(tf.slice(v, [0, T - 1, 0], [B, 1, H]), [B, H]) as T2;
      const c = tf.reshape(tf.slice(v, [0, T, 0], [B, 1, H]), [B, H]) as T2;
      return { outputs, state: [h, c] };
    }
    const outputs = (cell === 'gru' ? gruOp : rnnOp)(x, w.kernel, w.recurrentKernel, w.bias, state[0]!);
    const h = tf.reshape(tf.slice(outputs, [0, T - 1, 0], [B, 1, H]), [B, H]) as T2;
    return { outputs, state: [h] };
  }) as unknown as SequenceResult;
};
