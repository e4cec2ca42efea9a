/**
 * The Transformer's fused kernels on the webgpu backend as WGSL compute programs, run through
 * tfjs-backend-webgpu's own program mechanism (`runWebGPUProgram`, as ./webgpu.ts does for the
 * recurrent gates). A program has one writable output, so each op is the fewest programs that
 * write one tensor each:
 *   attention forward:  P (one thread per row b, h, i: scores, causal softmax), then out (one
 *                       thread per element: Σⱼ P·v);
 *   attention backward: dS (per row: dP = dO·vⱼ, P ⊙ (dP − Σ P·dP)/√d), then dqkv (per element:
 *                       dq = Σⱼ dS·k, dk = Σᵢ dS·q, dv = Σᵢ P·dO over the causal range);
 *   LayerNorm:          row statistics [N, 2] (mean, 1/σ), then y; backward: per-row sums, dx,
 *                       and dγ|dβ as one [2, C] column pass;
 *   GELU:               one program each way (erf by Abramowitz and Stegun 7.1.26, as on wasm).
 * Against the ~15 TF.js ops (each its own dispatch or several) of the attention alone.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Program, WebGPUBackendLike } from './webgpu.ts';

const WG = 64;
const ERF = `
  fn ncdf(x : f32) -> f32 {
    let z = abs(x) * 0.70710678118654752;
    let t = 1.0 / (1.0 + 0.3275911 * z);
    let tail = 0.5 * t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * exp(-z * z);
    if (x >= 0.0) { return 1.0 - tail; }
    return tail;
  }
`;

/** One thread per output element (index < n); uniforms: the named i32s (EPS: an f32). */
function run(key: string, inputs: tf.Tensor[], shape: number[], names: string[], uniforms: Record<string, number>, body: string): tf.Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const keys = Object.keys(uniforms);
  const p: Program = {
    variableNames: names,
    outputShape: shape,
    shaderKey: `charmer_tf_${key}`,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(n / WG), 1, 1],
    workgroupSize: [WG, 1, 1],
    size: true,
    uniforms: keys.map((k) => `${k} : ${k === 'EPS' ? 'f32' : 'i32'},`).join(' '),
    getUserCode: () => `
      ${ERF}
      fn work(index : i32) {
        ${keys.map((k) => `let ${k} = uniforms.${k};`).join(' ')}
        ${body}
      }
      fn main(index : i32) {
        if (index < uniforms.size) { work(index); }
      }
    `,
  };
  if (p.dispatch[0] > 65535) p.dispatch = [65535, Math.ceil(p.dispatch[0] / 65535), 1];
  const be = tf.backend() as unknown as WebGPUBackendLike;
  const info = be.runWebGPUProgram(
    p,
    inputs,
    'float32',
    keys.map((k) => ({ type: k === 'EPS' ? 'float32' : 'int32', data: [uniforms[k]!] })),
  );
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** Whether the webgpu backend is current and has the program mechanism these need. */
export function webgpuTransformer(): boolean {
  return tf.getBackend() === 'webgpu' && typeof (tf.backend() as unknown as Partial<WebGPUBackendLike>).runWebGPUProgram === 'function';
}

const dimsOf = (qkv: tf.Tensor, nh: number) => ({ B: qkv.shape[0]!, T: qkv.shape[1]!, C: qkv.shape[2]! / 3, nh, d: qkv.shape[2]! / 3 / nh });

/** qkv [B, T, 3C] -> [out [B, T, C], P [B, nh, T, T]] */
export function gpuAttention(qkv: tf.Tensor3D, nh: number): [tf.Tensor3D, tf.Tensor] {
  const { B, T, C, d } = dimsOf(qkv, nh);
  const u = { T, C, NH: nh, D: d };
  const P = run(
    'attn_p',
    [qkv],
    [B, nh, T, T],
    ['QKV'],
    u,
    `
    let i = index % T; let h = (index / T) % NH; let b = index / (T * NH);
    let scale = inverseSqrt(f32(D));
    let qo = (b * T + i) * 3 * C + h * D; let po = index * T;
    var mx = -3.0e38;
    for (var j = 0; j <= i; j++) {
      let ko = (b * T + j) * 3 * C + C + h * D;
      var s = 0.0;
      for (var k = 0; k < D; k++) { s += QKV[qo + k] * QKV[ko + k]; }
      s *= scale; result[po + j] = s; mx = max(mx, s);
    }
    var sum = 0.0;
    for (var j = 0; j <= i; j++) { let e = exp(result[po + j] - mx); result[po + j] = e; sum += e; }
    for (var j = 0; j < T; j++) { if (j <= i) { result[po + j] = result[po + j] / sum; } else { result[po + j] = 0.0; } }
  `,
  );
  const out = run(
    'attn_o',
    [qkv, P],
    [B, T, C],
    ['QKV', 'P'],
    u,
    `
    let c = index % C; let i = (index / C) % T; let b = index / (C * T);
    let h = c / D;
    let po = ((b * NH + h) * T + i) * T;
    var s = 0.0;
    for (var j = 0; j <= i; j++) { s += P[po + j] * QKV[(b * T + j) * 3 * C + 2 * C + c]; }
    result[index] = s;
  `,
  );
  return [out as tf.Tensor3D, P];
}

/** dy [B, T, C], qkv, P -> dqkv [B, T, 3C] */
export function gpuAttentionGrad(dy: tf.Tensor3D, qkv: tf.Tensor3D, P: tf.Tensor, nh: number): tf.Tensor {
  const { B, T, C, d } = dimsOf(qkv, nh);
  const u = { T, C, NH: nh, D: d };
  const dS = run(
    'attn_ds',
    [dy, qkv, P],
    [B, nh, T, T],
    ['DY', 'QKV', 'P'],
    u,
    `
    let i = index % T; let h = (index / T) % NH; let b = index / (T * NH);
    let scale = inverseSqrt(f32(D));
    let yo = (b * T + i) * C + h * D; let po = index * T;
    var r = 0.0;
    for (var j = 0; j <= i; j++) {
      let vo = (b * T + j) * 3 * C + 2 * C + h * D;
      var s = 0.0;
      for (var k = 0; k < D; k++) { s += DY[yo + k] * QKV[vo + k]; }
      result[po + j] = s; r += s * P[po + j];
    }
    for (var j = 0; j < T; j++) { if (j <= i) { result[po + j] = P[po + j] * (result[po + j] - r) * scale; } else { result[po + j] = 0.0; } }
  `,
  );
  const dqkv = run(
    'attn_dqkv',
    [dy, qkv, P, dS],
    [B, T, 3 * C],
    ['DY', 'QKV', 'P', 'DS'],
    u,
    `
    let col = index % (3 * C); let t = (index / (3 * C)) % T; let b = index / (3 * C * T);
    let part = col / C; let c = col % C; let h = c / D;
    let base = (b * NH + h) * T;
    var s = 0.0;
    if (part == 0) {
      for (var j = 0; j <= t; j++) { s += DS[(base + t) * T + j] * QKV[(b * T + j) * 3 * C + C + c]; }
    } else if (part == 1) {
      for (var i = t; i < T; i++) { s += DS[(base + i) * T + t] * QKV[(b * T + i) * 3 * C + c]; }
    } else {
      for (var i = t; i < T; i++) { s += P[(base + i) * T + t] * DY[(b * T + i) * C + c]; }
    }
    result[index] = s;
  `,
  );
  dS.dispose();
  return dqkv;
}

/** x [N, C], γ, β -> [y, stats [N, 2], stats] (mean and 1/σ side by side, kept once). */
export function gpuLayerNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor[] {
  const [N, C] = x.shape;
  const stats = run(
    'ln_stats',
    [x],
    [N, 2],
    ['X'],
    { C, EPS: eps },
    `
    if (index % 2 == 1) { return; }
    let r = index / 2; let o = r * C;
    var s = 0.0;
    for (var k = 0; k < C; k++) { s += X[o + k]; }
    let m = s / f32(C);
    var v = 0.0;
    for (var k = 0; k < C; k++) { let e = X[o + k] - m; v += e * e; }
    result[index] = m; result[index + 1] = inverseSqrt(v / f32(C) + EPS);
  `,
  );
  const y = run(
    'ln_y',
    [x, g, b, stats],
    [N, C],
    ['X', 'G', 'BETA', 'ST'],
    { C },
    `
    let r = index / C; let k = index % C;
    result[index] = (X[index] - ST[2 * r]) * ST[2 * r + 1] * G[k] + BETA[k];
  `,
  );
  return [y, stats, stats];
}

/** dy, x, γ, stats, stats -> [dx, dγ, dβ] */
export function gpuLayerNormGrad(dy: tf.Tensor2D, x: tf.Tensor, g: tf.Tensor, stats: tf.Tensor, _same: tf.Tensor): tf.Tensor[] {
  const [N, C] = dy.shape;
  const sums = run(
    'ln_sums',
    [dy, x, g, stats],
    [N, 2],
    ['DY', 'X', 'G', 'ST'],
    { C },
    `
    if (index % 2 == 1) { return; }
    let r = index / 2; let o = r * C; let m = ST[index]; let rs = ST[index + 1];
    var a = 0.0; var c = 0.0;
    for (var k = 0; k < C; k++) { let dxh = DY[o + k] * G[k]; a += dxh; c += dxh * (X[o + k] - m) * rs; }
    result[index] = a / f32(C); result[index + 1] = c / f32(C);
  `,
  );
  const dx = run(
    'ln_dx',
    [dy, x, g, stats, sums],
    [N, C],
    ['DY', 'X', 'G', 'ST', 'SU'],
    { C },
    `
    let r = index / C; let k = index % C; let rs = ST[2 * r + 1];
    let xh = (X[index] - ST[2 * r]) * rs;
    result[index] = rs * (DY[index] * G[k] - SU[2 * r] - xh * SU[2 * r + 1]);
  `,
  );
  const dgb = run(
    'ln_dgb',
    [dy, x, stats],
    [2, C],
    ['DY', 'X', 'ST'],
    { C, N },
    `
    let k = index % C;
    var s = 0.0;
    if (index < C) {
      for (var r = 0; r < N; r++) { s += DY[r * C + k] * (X[r * C + k] - ST[2 * r]) * ST[2 * r + 1]; }
    } else {
      for (var r = 0; r < N; r++) { s += DY[r * C + k]; }
    }
    result[index] = s;
  `,
  );
  const [dg, db] = tf.tidy(() => tf.split(dgb, 2, 0).map((t) => tf.reshape(t, [C])));
  tf.dispose([sums, dgb]);
  return [dx, dg!, db!];
}

export function gpuGelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.reshape(run('gelu', [x], [x.size], ['X'], {}, `let v = X[index]; result[index] = v * ncdf(v);`), x.shape));
}

export function gpuGeluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() =>
    tf.reshape(
      run(
        'gelu_grad',
        [dy, x],
        [x.size],
        ['DY', 'X'],
        {},
        `
      let v = X[index];
      result[index] = DY[index] * (ncdf(v) + v * 0.3989422804014327 * exp(-0.5 * v * v));
    `,
      ),
      x.shape,
    ),
  );
}
