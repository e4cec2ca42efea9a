/**
 * The Transformer's fused kernels as plain loops over float arrays: causal multi-head attention
 * (forward and backward), LayerNorm and GELU. The cpu backend runs these on its own arrays; the
 * wasm backend runs them on views of its heap where its faster paths do not apply (no relaxed
 * SIMD for ./transformer-wasm.ts's products, a head size that is not a multiple of 4).
 *
 * Layouts (the model's, as nanoGPT's and ../../../shared/tools/torch_reference.py's):
 *   qkv [B, T, 3C]: q, k, v side by side, head h in columns h·d..h·d+d-1 of each (d = C / nh);
 *   out [B, T, C]: the heads' outputs side by side;
 *   P   [B, nh, T, T4]: the attention probabilities kept for the backward pass, T4 = T rounded up
 *       to a multiple of 4 (the wasm products need it), zero above the diagonal and in the pad.
 */
import { exp } from './math.ts';

type F = Float32Array;

export interface AttnDims {
  B: number;
  T: number;
  C: number;
  nh: number;
}

/** T rounded up to a multiple of 4: the row length of the kept probabilities. */
export const padT = (T: number): number => Math.ceil(T / 4) * 4;

/** out = softmax(causal(q·kᵀ / √d))·v for every row and head; P the probabilities. */
export function attentionFwd(qkv: F, out: F, P: F, { B, T, C, nh }: AttnDims): void {
  const d = C / nh;
  const T4 = padT(T);
  const s3 = 3 * C;
  const scale = 1 / Math.sqrt(d);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      for (let i = 0; i < T; i++) {
        const qo = (b * T + i) * s3 + h * d;
        const po = ((b * nh + h) * T + i) * T4;
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          const ko = (b * T + j) * s3 + C + h * d;
          let s = 0;
          for (let k = 0; k < d; k++) s += qkv[qo + k]! * qkv[ko + k]!;
          s *= scale;
          P[po + j] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += P[po + j] = exp(P[po + j]! - max);
        const inv = 1 / sum;
        for (let j = 0; j <= i; j++) P[po + j]! *= inv;
        P.fill(0, po + i + 1, po + T4);
        const oo = (b * T + i) * C + h * d;
        out.fill(0, oo, oo + d);
        for (let j = 0; j <= i; j++) {
          const p = P[po + j]!;
          const vo = (b * T + j) * s3 + 2 * C + h * d;
          for (let k = 0; k < d; k++) out[oo + k]! += p * qkv[vo + k]!;
        }
      }
    }
  }
}

/** dqkv from dy [B, T, C] (the output's gradient), qkv and the kept P. */
export function attentionBwd(dy: F, qkv: F, P: F, dqkv: F, { B, T, C, nh }: AttnDims): void {
  const d = C / nh;
  const T4 = padT(T);
  const s3 = 3 * C;
  const scale = 1 / Math.sqrt(d);
  const dP = new Float32Array(T);
  dqkv.fill(0);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      for (let i = 0; i < T; i++) {
        const qo = (b * T + i) * s3 + h * d;
        const yo = (b * T + i) * C + h * d;
        const po = ((b * nh + h) * T + i) * T4;
        let r = 0;
        for (let j = 0; j <= i; j++) {
          const vo = (b * T + j) * s3 + 2 * C + h * d;
          let s = 0;
          for (let k = 0; k < d; k++) s += dy[yo + k]! * qkv[vo + k]!;
          dP[j] = s;
          r += s * P[po + j]!;
        }
        for (let j = 0; j <= i; j++) {
          const p = P[po + j]!;
          const ds = p * (dP[j]! - r) * scale;
          const ko = (b * T + j) * s3 + C + h * d;
          for (let k = 0; k < d; k++) {
            dqkv[qo + k]! += ds * qkv[ko + k]!;
            dqkv[ko + k]! += ds * qkv[qo + k]!;
            dqkv[ko + C + k]! += p * dy[yo + k]!;
          }
        }
      }
    }
  }
}

/** LayerNorm over the last axis of x [N, C]: y, and per row the mean and 1/σ kept for the backward. */
export function layerNormFwd(x: F, g: F, beta: F, y: F, mean: F, rstd: F, eps: number): void {
  const C = g.length;
  const N = mean.length;
  for (let r = 0; r < N; r++) {
    const o = r * C;
    let s = 0;
    for (let k = 0; k < C; k++) s += x[o + k]!;
    const m = s / C;
    let v = 0;
    for (let k = 0; k < C; k++) {
      const e = x[o + k]! - m;
      v += e * e;
    }
    const rs = 1 / Math.sqrt(v / C + eps);
    mean[r] = m;
    rstd[r] = rs;
    for (let k = 0; k < C; k++) y[o + k] = (x[o + k]! - m) * rs * g[k]! + beta[k]!;
  }
}

/** dx, dγ, dβ of LayerNorm from dy, x, γ and the kept mean and 1/σ. */
export function layerNormBwd(dy: F, x: F, g: F, mean: F, rstd: F, dx: F, dg: F, db: F): void {
  const C = g.length;
  const N = mean.length;
  dg.fill(0);
  db.fill(0);
  for (let r = 0; r < N; r++) {
    const o = r * C;
    const m = mean[r]!;
    const rs = rstd[r]!;
    let a = 0; // Σ dxhat
    let c = 0; // Σ dxhat·xhat
    for (let k = 0; k < C; k++) {
      const xh = (x[o + k]! - m) * rs;
      const dxh = dy[o + k]! * g[k]!;
      a += dxh;
      c += dxh * xh;
      dg[k]! += dy[o + k]! * xh;
      db[k]! += dy[o + k]!;
    }
    a /= C;
    c /= C;
    for (let k = 0; k < C; k++) {
      const xh = (x[o + k]! - m) * rs;
      dx[o + k] = rs * (dy[o + k]! * g[k]! - a - xh * c);
    }
  }
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;

/**
 * Φ(x), the standard normal CDF, as 0.5·erfc(-x/√2) with erfc from Abramowitz and Stegun 7.1.26
 * (absolute error below 1.5e-7) taken on |x| so that the tail keeps its relative precision.
 */
export function normalCdf(x: number): number {
  const z = Math.abs(x) * SQRT1_2;
  const t = 1 / (1 + 0.3275911 * z);
  const tail = 0.5 * t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * exp(-z * z);
  return x >= 0 ? 1 - tail : tail;
}

/**
 * GELU as in PyTorch's default (exact, erf): y = x·Φ(x), and its derivative d = Φ(x) + x·φ(x) for
 * the backward (which then costs one multiply instead of a second erf and exp an element).
 */
export function geluFwd(x: F, y: F, d: F): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const p = normalCdf(v);
    y[i] = v * p;
    d[i] = p + v * INV_SQRT_2PI * exp(-0.5 * v * v);
  }
}

/** dx = dy·d, d from geluFwd. */
export function geluBwd(dy: F, d: F, dx: F): void {
  for (let i = 0; i < d.length; i++) dx[i] = dy[i]! * d[i]!;
}
