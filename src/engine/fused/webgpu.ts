/**
 * The fused gate kernels for the webgpu backend: one WGSL compute program per time step for the
 * forward gate arithmetic and one for the backward gate gradients (GRU: two each, split by its
 * second recurrent product), run through tfjs-backend-webgpu's own program mechanism
 * (`backend.runWebGPUProgram`, the way its unary/binary ops run). The matMuls stay TF.js ops.
 *
 * A program has one writable binding (`result`), so each layer and sequence gets one buffer that
 * every step's kernel writes into in place (runWebGPUProgram's `output` argument) and reads its
 * previous step back from (`result` is read_write): the forward state buffer S holds, per step,
 * planes of [B, H] (LSTM: h c tanh(c) i f g o; GRU: h z r hh r*h; RNN: h), time-major, so h_t is a
 * contiguous block: one copy (a slice) feeds the next recurrent matMul. The backward buffer D holds
 * dz per step (contiguous, for the product with Rᵀ) and the carried gradients (LSTM dc; GRU
 * dh and the direct-path carry) in slots after it. Time-major order suits the weight gradients
 * (h_{t-1}ᵀ·dz sums over rows in any order); only dx is transposed back to batch-major, once.
 *
 * Nothing here goes through tf.registerKernel: the in-place writes return no new tensor, and the
 * new tensors (the buffers, from `gpuAlloc`) are wrapped with engine.makeTensorFromTensorInfo, so
 * tidy and tf.memory() see them as usual.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What TF.js's WebGPU backend takes as a program (its own type is not exported). */
export interface Program {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size: boolean;
  uniforms: string;
  getUserCode(): string;
}
export interface WebGPUBackendLike {
  runWebGPUProgram(
    p: Program,
    inputs: tf.TensorInfo[],
    dtype: string,
    uniforms: Array<{ type: string; data: number[] }>,
    output?: tf.TensorInfo,
  ): tf.TensorInfo;
  makeTensorInfo(shape: number[], dtype: string): tf.TensorInfo;
}

const WG = 64;
/** Shared WGSL: sigmoid and a tanh that stays finite for large |x| (WGSL's tanh may give NaN there). */
const PRELUDE = `
  fn sig(x : f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
  fn tnh(x : f32) -> f32 { let e = exp(-2.0 * abs(x)); return sign(x) * (1.0 - e) / (1.0 + e); }
`;

/** One thread per (b, j) of a [B, H] step; uniforms t, T, H, B (in that order). */
function program(key: string, variableNames: string[], B: number, H: number, body: string): Program {
  const outputShape = [B * H];
  return {
    variableNames,
    outputShape,
    shaderKey: `charmer_${key}`,
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil((B * H) / WG), 1, 1],
    workgroupSize: [WG, 1, 1],
    size: true,
    uniforms: 't : i32, T : i32, H : i32, B : i32,',
    getUserCode: () => `
      ${PRELUDE}
      fn gateStep(index : i32) {
        let t = uniforms.t; let T = uniforms.T; let H = uniforms.H; let B = uniforms.B;
        let b = index / H; let j = index % H; let P = B * H; let bj = b * H + j;
        ${body}
      }
      fn main(index : i32) {
        if (index < uniforms.size) { gateStep(index); }
      }
    `,
  };
}

// ---- the kernels' bodies (row b*T+t of xp; planes of P = B*H elements) ----

const LSTM_FWD = `
  let G = 4 * H; let xo = (b * T + t) * G; let ho = b * G;
  let i = sig(XP[xo + j] + BIAS[j] + HR[ho + j]);
  let f = sig(XP[xo + H + j] + BIAS[H + j] + HR[ho + H + j]);
  let g = tnh(XP[xo + 2 * H + j] + BIAS[2 * H + j] + HR[ho + 2 * H + j]);
  let o = sig(XP[xo + 3 * H + j] + BIAS[3 * H + j] + HR[ho + 3 * H + j]);
  var cp : f32;
  if (t == 0) { cp = C0[bj]; } else { cp = result[((t - 1) * 7 + 1) * P + bj]; }
  let cn = f * cp + i * g;
  let tc = tnh(cn);
  let s = t * 7 * P + bj;
  result[s] = o * tc; result[s + P] = cn; result[s + 2 * P] = tc;
  result[s + 3 * P] = i; result[s + 4 * P] = f; result[s + 5 * P] = g; result[s + 6 * P] = o;
`;

/** D: dz [T, B, 4H], then dc in two slots [2, B, H] (step t reads slot (t+1)%2, writes slot t%2). */
const LSTM_BWD = `
  let s = t * 7 * P + bj;
  let dh = DY[(b * (T + 1) + t) * H + j] + DHR[bj];
  let tc = S[s + 2 * P]; let i = S[s + 3 * P]; let f = S[s + 4 * P]; let g = S[s + 5 * P]; let o = S[s + 6 * P];
  var cp : f32;
  if (t == 0) { cp = C0[bj]; } else { cp = S[((t - 1) * 7 + 1) * P + bj]; }
  var dcIn : f32;
  if (t == T - 1) { dcIn = DY[(b * (T + 1) + T) * H + j]; } else { dcIn = result[T * 4 * P + ((t + 1) % 2) * P + bj]; }
  let dct = dcIn + dh * o * (1.0 - tc * tc);
  let z = t * 4 * P + b * 4 * H + j;
  result[z] = dct * g * i * (1.0 - i);
  result[z + H] = dct * cp * f * (1.0 - f);
  result[z + 2 * H] = dct * i * (1.0 - g * g);
  result[z + 3 * H] = dh * tc * o * (1.0 - o);
  result[T * 4 * P + (t % 2) * P + bj] = dct * f;
`;

/** S planes per step: 0 h, 1 z, 2 r, 3 hh, 4 r*h_{t-1}. */
const GRU_PREV = `var hp : f32; if (t == 0) { hp = H0[bj]; } else { hp = S_PREV; }`;
const GRU_FWD_A = `
  let G = 3 * H; let xo = (b * T + t) * G; let ho = b * 2 * H;
  let z = sig(XP[xo + j] + BIAS[j] + HZR[ho + j]);
  let r = sig(XP[xo + H + j] + BIAS[H + j] + HZR[ho + H + j]);
  ${GRU_PREV.replace('S_PREV', 'result[(t - 1) * 5 * P + bj]')}
  let s = t * 5 * P + bj;
  result[s + P] = z; result[s + 2 * P] = r; result[s + 4 * P] = r * hp;
`;
const GRU_FWD_B = `
  let G = 3 * H; let xo = (b * T + t) * G;
  let hh = tnh(XP[xo + 2 * H + j] + BIAS[2 * H + j] + HHR[bj]);
  ${GRU_PREV.replace('S_PREV', 'result[(t - 1) * 5 * P + bj]')}
  let s = t * 5 * P + bj;
  let z = result[s + P];
  result[s + 3 * P] = hh; result[s] = z * hp + (1.0 - z) * hh;
`;
/**
 * D: per step a block of 3P: dz_z|dz_r as [B, 2H] (for the product with R[:, :2H]ᵀ), then dz_hh
 * [B, H]; after the T blocks: slot 0 carryD (direct path dh_{t+1}*z + drh*r), slot 1 dh of step t.
 */
const GRU_BWD_A = `
  let s = t * 5 * P + bj;
  var dh = DY[(b * T + t) * H + j];
  if (t < T - 1) { dh = dh + result[T * 3 * P + bj] + CM[bj]; }
  ${GRU_PREV.replace('S_PREV', 'S[(t - 1) * 5 * P + bj]')}
  let z = S[s + P]; let hh = S[s + 3 * P];
  let d = t * 3 * P;
  result[d + b * 2 * H + j] = dh * (hp - hh) * z * (1.0 - z);
  result[d + 2 * P + bj] = dh * (1.0 - z) * (1.0 - hh * hh);
  result[T * 3 * P + P + bj] = dh;
`;
const GRU_BWD_B = `
  let s = t * 5 * P + bj;
  ${GRU_PREV.replace('S_PREV', 'S[(t - 1) * 5 * P + bj]')}
  let z = S[s + P]; let r = S[s + 2 * P];
  let dr = DRH[bj];
  result[t * 3 * P + b * 2 * H + H + j] = dr * hp * r * (1.0 - r);
  result[T * 3 * P + bj] = result[T * 3 * P + P + bj] * z + dr * r;
`;
const RNN_FWD = `
  result[t * P + bj] = tnh(XP[(b * T + t) * H + j] + BIAS[j] + HR[bj]);
`;
const RNN_BWD = `
  let hv = S[t * P + bj];
  result[t * P + bj] = (DY[(b * T + t) * H + j] + DHR[bj]) * (1.0 - hv * hv);
`;

const KERNELS = {
  lstmFwd: { names: ['XP', 'HR', 'BIAS', 'C0'], body: LSTM_FWD },
  lstmBwd: { names: ['DY', 'DHR', 'S', 'C0'], body: LSTM_BWD },
  gruFwdA: { names: ['XP', 'HZR', 'BIAS', 'H0'], body: GRU_FWD_A },
  gruFwdB: { names: ['XP', 'HHR', 'BIAS', 'H0'], body: GRU_FWD_B },
  gruBwdA: { names: ['DY', 'CM', 'S', 'H0'], body: GRU_BWD_A },
  gruBwdB: { names: ['DRH', 'S', 'H0'], body: GRU_BWD_B },
  rnnFwd: { names: ['XP', 'HR', 'BIAS'], body: RNN_FWD },
  rnnBwd: { names: ['DY', 'DHR', 'S'], body: RNN_BWD },
} as const;
export type GpuKernel = keyof typeof KERNELS;

function backend(): WebGPUBackendLike {
  return tf.backend() as unknown as WebGPUBackendLike;
}

/** Run kernel `name` for step t, writing into `out` in place (B, H: the step's [B, H]). */
export function gpuStep(name: GpuKernel, inputs: tf.Tensor[], out: tf.Tensor, t: number, T: number, B: number, H: number): void {
  const k = KERNELS[name];
  const p = program(name, [...k.names], B, H, k.body);
  const u = [t, T, H, B].map((v) => ({ type: 'int32', data: [v] }));
  backend().runWebGPUProgram(p, inputs, 'float32', u, out);
}

/** An uninitialised float32 tensor on the webgpu backend (each element is written before it is read). */
export function gpuAlloc(shape: number[]): tf.Tensor {
  return tf.engine().makeTensorFromTensorInfo(backend().makeTensorInfo(shape, 'float32'));
}
