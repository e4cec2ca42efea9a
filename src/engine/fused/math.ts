/**
 * The gate arithmetic of one time step, forward and backward, as plain loops over Float32Arrays.
 * The same functions serve the cpu backend (its tensors' `values`) and the wasm backend (views of
 * the WebAssembly heap), so there is one implementation to test.
 *
 * Layout (row r = b*T + t, batch-major like the [B, T, ...] tensors around them):
 *   xp    [B*T, G*H]  input projection x·kernel (without bias: the kernels add it)
 *   gates [B*T, G*H]  saved activations (LSTM i f g o; GRU z r hh; RNN none)
 *   out   [B*T, H]    h_t for every step (the layer's output sequence)
 *   dz    [B*T, G*H]  gradient w.r.t. the gate pre-activations, filled by the backward steps
 *
 * Speed note: Math.exp and Math.tanh per element cost more than the recurrent matMul itself at 128
 * units (V8 in Node 20; docs/PERFORMANCE.md#figures-behind-the-engines-design-notes), and `exp`
 * below is several times cheaper: x = (n/64)·ln2 + r with n an integer (rounded with the 1.5·2^52 trick), 2^(n/64) from a table,
 * e^r by a degree-3 polynomial (|r| <= ln2/128, so the relative error is 4e-11): a short
 * dependency chain, where a degree-7 Horner chain cost twice as much.
 */
const ROUND = 6755399441055744.0; // 1.5 * 2^52: (x + ROUND) - ROUND rounds a double to an integer
const STEPS = 64;
const OFFSET = 8000; // |x| <= 80 -> |n| <= 80 * 64 * log2(e) < 7,400
const POW2 = new Float64Array(2 * OFFSET + 1);
for (let i = 0; i < POW2.length; i++) POW2[i] = Math.pow(2, (i - OFFSET) / STEPS);
const SCALE = STEPS * 1.4426950408889634;
const LN2_STEP = 0.6931471805599453 / STEPS;

export function exp(x: number): number {
  x = x > 80 ? 80 : x < -80 ? -80 : x;
  const n = x * SCALE + ROUND - ROUND;
  const r = x - n * LN2_STEP;
  return POW2[(n + OFFSET) | 0]! * (1 + r * (1 + r * (0.5 + r * 0.16666666666666666)));
}

export function sigmoid(x: number): number {
  return 1 / (1 + exp(-x));
}

export function tanh(x: number): number {
  // 1 - 2/(1+e^{2x}) in doubles: relative error ~1e-7 even for tiny x.
  return 1 - 2 / (1 + exp(2 * x));
}

type F = Float32Array;

/** LSTM forward step t: writes gates/cs/tcs/out at row b*T+t, and h, c (the new state). */
export function lstmFwd(B: number, T: number, H: number, t: number, xp: F, hr: F, bias: F, cPrev: F, gates: F, cs: F, tcs: F, out: F, h: F, c: F): void {
  const G = 4 * H;
  for (let b = 0; b < B; b++) {
    const r = b * T + t;
    const xo = r * G;
    const ho = b * G;
    const so = b * H;
    const ro = r * H;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(xp[xo + j]! + bias[j]! + hr[ho + j]!);
      const f = sigmoid(xp[xo + H + j]! + bias[H + j]! + hr[ho + H + j]!);
      const g = tanh(xp[xo + 2 * H + j]! + bias[2 * H + j]! + hr[ho + 2 * H + j]!);
      const o = sigmoid(xp[xo + 3 * H + j]! + bias[3 * H + j]! + hr[ho + 3 * H + j]!);
      const cn = f * cPrev[so + j]! + i * g;
      const tc = tanh(cn);
      const hn = o * tc;
      gates[xo + j] = i;
      gates[xo + H + j] = f;
      gates[xo + 2 * H + j] = g;
      gates[xo + 3 * H + j] = o;
      cs[ro + j] = cn;
      tcs[ro + j] = tc;
      out[ro + j] = hn;
      h[so + j] = hn;
      c[so + j] = cn;
    }
  }
}

/**
 * LSTM backward step t. dy: gradient of the outputs, rows of stride Tv*H (Tv >= T: the fused op's
 * value may carry the final cell state after the outputs). dhr: dz_{t+1}·Rᵀ; dc: gradient of c_t
 * from step t+1. Writes dz row b*T+t and dzt (the same, contiguous), and dcPrev.
 */
export function lstmBwd(
  B: number,
  T: number,
  Tv: number,
  H: number,
  t: number,
  dy: F,
  dhr: F,
  dc: F,
  gates: F,
  cs: F,
  tcs: F,
  c0: F,
  dz: F,
  dzt: F,
  dcPrev: F,
): void {
  const G = 4 * H;
  for (let b = 0; b < B; b++) {
    const r = b * T + t;
    const xo = r * G;
    const so = b * H;
    const yo = (b * Tv + t) * H;
    const po = (r - 1) * H;
    const to = b * G;
    for (let j = 0; j < H; j++) {
      const dh = dy[yo + j]! + dhr[so + j]!;
      const i = gates[xo + j]!;
      const f = gates[xo + H + j]!;
      const g = gates[xo + 2 * H + j]!;
      const o = gates[xo + 3 * H + j]!;
      const tc = tcs[r * H + j]!;
      const cp = t > 0 ? cs[po + j]! : c0[so + j]!;
      const dct = dc[so + j]! + dh * o * (1 - tc * tc);
      const dzi = dct * g * i * (1 - i);
      const dzf = dct * cp * f * (1 - f);
      const dzg = dct * i * (1 - g * g);
      const dzo = dh * tc * o * (1 - o);
      dz[xo + j] = dzt[to + j] = dzi;
      dz[xo + H + j] = dzt[to + H + j] = dzf;
      dz[xo + 2 * H + j] = dzt[to + 2 * H + j] = dzg;
      dz[xo + 3 * H + j] = dzt[to + 3 * H + j] = dzo;
      dcPrev[so + j] = dct * f;
    }
  }
}

/** GRU forward, first half: z, r from xp + bias + h·R[:, :2H]; rh = r * hPrev for the second product. */
export function gruFwdA(B: number, T: number, H: number, t: number, xp: F, hzr: F, bias: F, hPrev: F, gates: F, rhs: F, rh: F): void {
  const G = 3 * H;
  for (let b = 0; b < B; b++) {
    const r = b * T + t;
    const xo = r * G;
    const ho = b * 2 * H;
    const so = b * H;
    for (let j = 0; j < H; j++) {
      const z = sigmoid(xp[xo + j]! + bias[j]! + hzr[ho + j]!);
      const rr = sigmoid(xp[xo + H + j]! + bias[H + j]! + hzr[ho + H + j]!);
      gates[xo + j] = z;
      gates[xo + H + j] = rr;
      const v = rr * hPrev[so + j]!;
      rhs[r * H + j] = v;
      rh[so + j] = v;
    }
  }
}

/** GRU forward, second half: hh = tanh(xh + bias + (r*h)·R[:, 2H:]); h = z*hPrev + (1-z)*hh. */
export function gruFwdB(B: number, T: number, H: number, t: number, xp: F, hhr: F, bias: F, hPrev: F, gates: F, out: F, h: F): void {
  const G = 3 * H;
  for (let b = 0; b < B; b++) {
    const r = b * T + t;
    const xo = r * G;
    const so = b * H;
    for (let j = 0; j < H; j++) {
      const hh = tanh(xp[xo + 2 * H + j]! + bias[2 * H + j]! + hhr[so + j]!);
      gates[xo + 2 * H + j] = hh;
      const z = gates[xo + j]!;
      const v = z * hPrev[so + j]! + (1 - z) * hh;
      out[r * H + j] = v;
      h[so + j] = v;
    }
  }
}

/**
 * GRU backward, first half. dh = dy_t + carryD + carryM (the two paths from step t+1).
 * Writes dz (z and hh parts), dzh (contiguous, for the product with R[:, 2H:]ᵀ) and dhTot.
 */
export function gruBwdA(B: number, T: number, H: number, t: number, dy: F, carryD: F, carryM: F, gates: F, out: F, h0: F, dz: F, dzh: F, dhTot: F): void {
  const G = 3 * H;
  for (let b = 0; b < B; b++) {
    const r = b * T + t;
    const xo = r * G;
    const so = b * H;
    for (let j = 0; j < H; j++) {
      const dh = dy[r * H + j]! + carryD[so + j]! + carryM[so + j]!;
      const hp = t > 0 ? out[(r - 1) * H + j]! : h0[so + j]!;
      const z = gates[xo + j]!;
      const hh = gates[xo + 2 * H + j]!;
      dz[xo + j] = dh * (hp - hh) * z * (1 - z);
      const v = dh * (1 - z) * (1 - hh * hh);
      dz[xo + 2 * H + j] = v;
      dzh[so + j] = v;
      dhTot[so + j] = dh;
    }
  }
}

/** GRU backward, second half: drh = dzh·R[:, 2H:]ᵀ. Writes dz (r part), dzzr [B, 2H] and carryD. */
export function gruBwdB(B: number, T: number, H: number, t: number, drh: F, dhTot: F, gates: F, out: F, h0: F, dz: F, dzzr: F, carryD: F): void {
  const G = 3 * H;
  for (let b = 0; b < B; b++) {
    const r = b * T + t;
    const xo = r * G;
    const so = b * H;
    const zo = b * 2 * H;
    for (let j = 0; j < H; j++) {
      const hp = t > 0 ? out[(r - 1) * H + j]! : h0[so + j]!;
      const z = gates[xo + j]!;
      const rr = gates[xo + H + j]!;
      const d = drh[so + j]!;
      const dzr = d * hp * rr * (1 - rr);
      dz[xo + H + j] = dzr;
      dzzr[zo + j] = dz[xo + j]!;
      dzzr[zo + H + j] = dzr;
      carryD[so + j] = dhTot[so + j]! * z + d * rr;
    }
  }
}

/** Vanilla RNN forward: h = tanh(xp + bias + h·R). */
export function rnnFwd(B: number, T: number, H: number, t: number, xp: F, hr: F, bias: F, out: F, h: F): void {
  for (let b = 0; b < B; b++) {
    const r = b * T + t;
    const so = b * H;
    for (let j = 0; j < H; j++) {
      const v = tanh(xp[r * H + j]! + bias[j]! + hr[so + j]!);
      out[r * H + j] = v;
      h[so + j] = v;
    }
  }
}

export function rnnBwd(B: number, T: number, H: number, t: number, dy: F, dhr: F, out: F, dz: F, dzt: F): void {
  for (let b = 0; b < B; b++) {
    const r = b * T + t;
    const so = b * H;
    for (let j = 0; j < H; j++) {
      const hv = out[r * H + j]!;
      const v = (dy[r * H + j]! + dhr[so + j]!) * (1 - hv * hv);
      dz[r * H + j] = v;
      dzt[so + j] = v;
    }
  }
}

/** Adam from element `from` on (the SIMD kernel does the multiple-of-4 part before it). */
export function adamJs([w, m, v, g, scale, consts]: Float32Array[], [w2, m2, v2]: Float32Array[], from: number): void {
  const [lr, b1, c1, b2, c2, eps] = consts as Float32Array;
  const s = scale![0]!;
  for (let i = from; i < w!.length; i++) {
    const gi = g![i]! * s;
    const mi = b1! * m![i]! + c1! * gi;
    const vi = b2! * v![i]! + c2! * gi * gi;
    m2![i] = mi;
    v2![i] = vi;
    w2![i] = w![i]! - (lr! * mi) / (Math.sqrt(vi) + eps!);
  }
}

/** RMSprop from element `from` on, as adamJs. */
export function rmspropJs([w, ms, g, scale, consts]: Float32Array[], [w2, ms2]: Float32Array[], from: number): void {
  const [lr, d, c, eps] = consts as Float32Array;
  const s = scale![0]!;
  for (let i = from; i < w!.length; i++) {
    const gi = g![i]! * s;
    const mi = d! * ms![i]! + c! * gi * gi;
    ms2![i] = mi;
    w2![i] = w![i]! - (lr! * gi) / (Math.sqrt(mi) + eps!);
  }
}
