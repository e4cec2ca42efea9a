/**
 * The fused whole-sequence ops on the webgpu backend: the same structure as ./sequence.ts's
 * (one tf.customGrad op per layer and sequence, one recurrent matMul per step, GRU two), with the
 * gate arithmetic in one WGSL kernel per step forward and one backward (GRU: two each), written
 * in place into one state buffer per sequence (./webgpu.ts explains the layout). Per step the
 * forward is the matMul, the gate kernel and one copy of h_t out of the state buffer for the next
 * matMul: 3 dispatches (GRU 6), where the autodiff reference records ~15 ops per step and replays
 * their gradients (docs/PERFORMANCE.md has the counts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gpuAlloc, gpuStep } from './webgpu.ts';

type T2 = tf.Tensor2D;

/** A contiguous block of a flat or shaped buffer, viewed as `shape`. */
function block(buf: tf.Tensor, begin: number[], size: number[], shape: number[]): tf.Tensor {
  return tf.tidy(() => tf.reshape(tf.slice(buf, begin, size), shape));
}

/** h_{t-1} for every time-major row t*B+b: h0, then hs [T, B, H] shifted by one step. */
function previousHiddenTM(hs: tf.Tensor, h0: tf.Tensor, T: number, B: number, H: number): T2 {
  const first = tf.reshape(h0, [1, B, H]);
  const all = T > 1 ? tf.concat([first, tf.slice(hs, [0, 0, 0], [T - 1, B, H])], 0) : first;
  return tf.reshape(all, [T * B, H]) as T2;
}

/** Time-major [T, B, K] -> batch-major rows b*T+t, as the input projection xp has them. */
function toBatchMajor(x: tf.Tensor, T: number, B: number, K: number): T2 {
  return tf.reshape(tf.transpose(tf.reshape(x, [T, B, K]), [1, 0, 2]), [B * T, K]) as T2;
}

function swap(old: tf.Tensor, next: tf.Tensor, ...keep: tf.Tensor[]): tf.Tensor {
  if (!keep.includes(old)) old.dispose();
  return next;
}

export const lstmOpGpu = tf.customGrad(((xp: T2, R: T2, bias: tf.Tensor1D, h0: T2, c0: T2, save: tf.GradSaveFunc) => {
  const H = R.shape[0];
  const B = h0.shape[0];
  const T = xp.shape[0] / B;
  const S = gpuAlloc([T, 7, B, H]);
  let h: tf.Tensor = h0;
  for (let t = 0; t < T; t++) {
    const hr = tf.matMul(h, R);
    gpuStep('lstmFwd', [xp, hr, bias, c0], S, t, T, B, H);
    hr.dispose();
    h = swap(h, block(S, [t, 0, 0, 0], [1, 1, B, H], [B, H]), h0);
  }
  h.dispose();
  const out3 = tf.transpose(block(S, [0, 0, 0, 0], [T, 1, B, H], [T, B, H]), [1, 0, 2]);
  const value = tf.concat([out3, block(S, [T - 1, 1, 0, 0], [1, 1, B, H], [B, 1, H])], 1);
  save([R, h0, c0, S]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sR, sh0, sc0, sS] = saved as [T2, T2, T2, tf.Tensor];
      const P = B * H;
      const RT = tf.transpose(sR);
      const D = gpuAlloc([T * 4 * P + 2 * P]);
      let dhr: tf.Tensor = tf.zeros([B, H]);
      for (let t = T - 1; t >= 0; t--) {
        gpuStep('lstmBwd', [dy, dhr, sS, sc0], D, t, T, B, H);
        dhr = swap(
          dhr,
          tf.tidy(() => tf.matMul(block(D, [t * 4 * P], [4 * P], [B, 4 * H]) as T2, RT)),
        );
      }
      const dzTM = block(D, [0], [T * 4 * P], [T * B, 4 * H]) as T2;
      const hPrev = previousHiddenTM(block(sS, [0, 0, 0, 0], [T, 1, B, H], [T, B, H]), sh0, T, B, H);
      const dc0 = block(D, [T * 4 * P], [P], [B, H]);
      return [toBatchMajor(dzTM, T, B, 4 * H), tf.matMul(tf.transpose(hPrev), dzTM), tf.sum(dzTM, 0), dhr, dc0];
    },
  };
}) as never) as unknown as (xp: T2, R: T2, b: tf.Tensor1D, h0: T2, c0: T2) => tf.Tensor3D;

export const gruOpGpu = tf.customGrad(((xp: T2, R: T2, bias: tf.Tensor1D, h0: T2, save: tf.GradSaveFunc) => {
  const H = R.shape[0];
  const B = h0.shape[0];
  const T = xp.shape[0] / B;
  const R1 = tf.slice(R, [0, 0], [H, 2 * H]);
  const R2 = tf.slice(R, [0, 2 * H], [H, H]);
  const S = gpuAlloc([T, 5, B, H]);
  let h: tf.Tensor = h0;
  for (let t = 0; t < T; t++) {
    const hzr = tf.matMul(h, R1);
    gpuStep('gruFwdA', [xp, hzr, bias, h0], S, t, T, B, H);
    hzr.dispose();
    const hhr = tf.tidy(() => tf.matMul(block(S, [t, 4, 0, 0], [1, 1, B, H], [B, H]) as T2, R2));
    gpuStep('gruFwdB', [xp, hhr, bias, h0], S, t, T, B, H);
    hhr.dispose();
    h = swap(h, block(S, [t, 0, 0, 0], [1, 1, B, H], [B, H]), h0);
  }
  h.dispose();
  const value = tf.transpose(block(S, [0, 0, 0, 0], [T, 1, B, H], [T, B, H]), [1, 0, 2]);
  save([R, h0, S]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sR, sh0, sS] = saved as [T2, T2, tf.Tensor];
      const P = B * H;
      const R1T = tf.transpose(tf.slice(sR, [0, 0], [H, 2 * H]));
      const R2T = tf.transpose(tf.slice(sR, [0, 2 * H], [H, H]));
      const D = gpuAlloc([T * 3 * P + 2 * P]);
      let carryM: tf.Tensor = tf.zeros([B, H]);
      for (let t = T - 1; t >= 0; t--) {
        gpuStep('gruBwdA', [dy, carryM, sS, sh0], D, t, T, B, H);
        const drh = tf.tidy(() => tf.matMul(block(D, [t * 3 * P + 2 * P], [P], [B, H]) as T2, R2T));
        gpuStep('gruBwdB', [drh, sS, sh0], D, t, T, B, H);
        drh.dispose();
        carryM = swap(
          carryM,
          tf.tidy(() => tf.matMul(block(D, [t * 3 * P], [2 * P], [B, 2 * H]) as T2, R1T)),
        );
      }
      const dh0 = tf.add(block(D, [T * 3 * P], [P], [B, H]), carryM);
      const blocks = block(D, [0], [T * 3 * P], [T, 3 * P]);
      const dzzr = tf.reshape(tf.slice(blocks, [0, 0], [T, 2 * P]), [T * B, 2 * H]) as T2;
      const dzh = tf.reshape(tf.slice(blocks, [0, 2 * P], [T, P]), [T * B, H]) as T2;
      const dzTM = tf.concat([dzzr, dzh], 1) as T2;
      const hPrev = previousHiddenTM(block(sS, [0, 0, 0, 0], [T, 1, B, H], [T, B, H]), sh0, T, B, H);
      const rhs = block(sS, [0, 4, 0, 0], [T, 1, B, H], [T * B, H]) as T2;
      const dR = tf.concat([tf.matMul(tf.transpose(hPrev), dzzr), tf.matMul(tf.transpose(rhs), dzh)], 1);
      return [toBatchMajor(dzTM, T, B, 3 * H), dR, tf.sum(dzTM, 0), dh0];
    },
  };
}) as never) as unknown as (xp: T2, R: T2, b: tf.Tensor1D, h0: T2) => tf.Tensor3D;

export const rnnOpGpu = tf.customGrad(((xp: T2, R: T2, bias: tf.Tensor1D, h0: T2, save: tf.GradSaveFunc) => {
  const H = R.shape[0];
  const B = h0.shape[0];
  const T = xp.shape[0] / B;
  const S = gpuAlloc([T, B, H]);
  let h: tf.Tensor = h0;
  for (let t = 0; t < T; t++) {
    const hr = tf.matMul(h, R);
    gpuStep('rnnFwd', [xp, hr, bias], S, t, T, B, H);
    hr.dispose();
    h = swap(h, block(S, [t, 0, 0], [1, B, H], [B, H]), h0);
  }
  h.dispose();
  const value = tf.transpose(S, [1, 0, 2]);
  save([R, h0, S]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sR, sh0, sS] = saved as [T2, T2, tf.Tensor];
      const RT = tf.transpose(sR);
      const D = gpuAlloc([T, B, H]);
      let dhr: tf.Tensor = tf.zeros([B, H]);
      for (let t = T - 1; t >= 0; t--) {
        gpuStep('rnnBwd', [dy, dhr, sS], D, t, T, B, H);
        dhr = swap(
          dhr,
          tf.tidy(() => tf.matMul(block(D, [t, 0, 0], [1, B, H], [B, H]) as T2, RT)),
        );
      }
      const dzTM = tf.reshape(D, [T * B, H]) as T2;
      const hPrev = previousHiddenTM(sS, sh0, T, B, H);
      return [toBatchMajor(dzTM, T, B, H), tf.matMul(tf.transpose(hPrev), dzTM), tf.sum(dzTM, 0), dhr];
    },
  };
}) as never) as unknown as (xp: T2, R: T2, b: tf.Tensor1D, h0: T2) => tf.Tensor3D;
