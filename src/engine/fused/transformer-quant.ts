/**
 * Matrix-vector products on 8-bit weights for sampling a Transformer (../transformer/stream.ts):
 * WebAssembly SIMD written with ./wasm-emit.ts, standard 128-bit SIMD only (no relaxed ops, so the
 * results are the same on every machine).
 *
 * Why. One sampled character reads every weight matrix once; in float32 that is 29 MB at 4 x 384,
 * which no cache holds, so the step runs at memory speed (docs/PERFORMANCE.md, "Sampling a
 * Transformer on 8-bit weights"). Stored as int8 with one scale per output column the same step
 * reads a quarter of the bytes, and 7 MB stays in the L3 cache between characters.
 *
 * The arithmetic: W[k, n] ≈ s_n·w[k, n], w in [-127, 127], s_n = max_k |W[k, n]| / 127; the input
 * row x ≈ t·q, q 16-bit, t = max|x| / Q. Then (x·W)[n] ≈ t·s_n·Σ_k q[k]·w[k, n], the sum exact in
 * int32: i32x4.dot_i16x8_s multiplies eight 16-bit pairs and adds neighbours. Q is chosen per K so
 * that no lane can overflow: a lane adds K products of at most Q·127 (qmaxFor).
 *
 * Layout: columns in panels of PANEL (the last ones in panels of 8), each panel [K/2][width][2]:
 * the two weights of a column for k = 2i and 2i + 1 side by side, so one 16-byte load holds two k
 * for eight columns; widened to 16 bits and multiplied against (q[2i], q[2i+1]) in every lane, it
 * gives four columns' partial sums per i32x4 with no horizontal sums at the end.
 */
import { add, f4, get, i32c, i4, Locals, repeat, set, simd, stepWhile, uleb, wasmModule, when, type B } from './wasm-emit.ts';

/** Columns per panel: 32 takes 8 i32x4 accumulators (of 16 vector registers on x86-64). */
export const PANEL = 32;

const [AND, LTU] = [0x71, 0x49];
const vload = (addr: B, offset = 0): B => [...addr, ...simd(0x00), 0x00, ...uleb(offset)];
const vstore = (addr: B, v: B, offset = 0): B => [...addr, ...v, ...simd(0x0b), 0x00, ...uleb(offset)];
const fadd = (a: B, b: B): B => [...a, ...b, ...simd(0xe4)];
const fmul = (a: B, b: B): B => [...a, ...b, ...simd(0xe6)];
const iadd = (a: B, b: B): B => [...a, ...b, ...simd(0xae)];
const dot = (a: B, b: B): B => [...a, ...b, ...simd(0xba)];
const extLo = (a: B): B => [...a, ...simd(0x87)];
const extHi = (a: B): B => [...a, ...simd(0x88)];
const I4_ZERO = f4(0);

/**
 * qgemv(q, w, scales, bias, out, K, N, t, accumulate): out[n] (+)= t·scales[n]·Σ_k q[k]·w[k, n] + bias[n]
 * for n < N (N % 8 == 0, K even); q 16-bit at q, w packed by quantizeColumns; `accumulate` adds
 * into out (a residual) instead of writing it.
 */
function qgemvFn(): B {
  const [q, w, sc, bias, out, K, N, t, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const L = new Locals(9, 'quant emitter');
  const [pw, px, kend, n, nfull, po] = Array.from({ length: 6 }, () => L.i());
  const acc = Array.from({ length: PANEL / 4 }, () => L.v());
  const [xv, T, r, wv] = [L.v(), L.v(), L.v(), L.v()];
  /** One panel of `width` columns at pw (advanced past it); results to po.. (po, n advanced). */
  const panel = (width: number): B => {
    const a = acc.slice(0, width / 4);
    const loads = width / 8;
    return [
      ...a.flatMap((x) => set(x, I4_ZERO)),
      ...set(px, get(q)),
      ...repeat(
        [
          ...set(xv, [...get(px), ...simd(0x09), 0x01, 0x00]),
          ...Array.from({ length: loads }, (_, g) => [
            // One 16-byte load widened in two halves measured faster here than two widening 8-byte loads (load8x8_s).
            ...set(wv, vload(get(pw), 16 * g)),
            ...set(a[2 * g]!, iadd(get(a[2 * g]!), dot(extLo(get(wv)), get(xv)))),
            ...set(a[2 * g + 1]!, iadd(get(a[2 * g + 1]!), dot(extHi(get(wv)), get(xv)))),
          ]).flat(),
          ...set(pw, add(get(pw), i32c(2 * width))),
        ],
        stepWhile(px, i32c(4), get(kend)),
      ),
      ...a.flatMap((x, j) => {
        const at = add(get(po), [...get(n), ...i32c(2), 0x74]);
        return [
          ...set(
            r,
            fadd(
              fmul([...get(x), ...simd(0xfa)], fmul(vload(add(get(sc), [...get(n), ...i32c(2), 0x74]), 16 * j), get(T))),
              vload(add(get(bias), [...get(n), ...i32c(2), 0x74]), 16 * j),
            ),
          ),
          ...when(get(accumulate), set(r, fadd(get(r), vload(at, 16 * j)))),
          ...vstore(at, get(r), 16 * j),
        ];
      }),
      ...set(n, add(get(n), i32c(width))),
    ];
  };
  return L.fn([
    ...set(kend, add(get(q), [...get(K), ...i32c(1), 0x74])),
    ...set(nfull, [...get(N), ...i32c(-PANEL), AND]),
    ...set(T, [...get(t), ...simd(0x13)]),
    ...set(pw, get(w)),
    ...set(po, get(out)),
    ...set(n, i32c(0)),
    ...when(get(nfull), repeat(panel(PANEL), [...get(n), ...get(nfull), LTU])),
    ...when([...get(n), ...get(N), LTU], repeat(panel(8), [...get(n), ...get(N), LTU])),
  ]);
}

/** absMax(x, K): max |x[k]| over K floats (K % 4 == 0), as an f32; NaN if any is NaN. */
function absMaxFn(): B {
  const [x, K] = [0, 1];
  const L = new Locals(2);
  const [p, end] = [L.i(), L.i()];
  const m = L.v();
  const lane = (i: number): B => [...get(m), ...simd(0x1f), i];
  return L.fn([
    ...set(m, I4_ZERO),
    ...set(p, get(x)),
    ...set(end, add(get(x), [...get(K), ...i32c(2), 0x74])),
    // f32x4.max and f32.max carry a NaN through (pmax would drop it), so a caller can see one.
    ...repeat(set(m, [...get(m), ...vload(get(p)), ...simd(0xe0), ...simd(0xe9)]), stepWhile(p, i32c(16), get(end))),
    ...lane(0),
    ...lane(1),
    0x97,
    ...lane(2),
    0x97,
    ...lane(3),
    0x97,
  ]);
}

/** quant16(x, q, K, inv): q[k] = round(x[k]·inv) as int16 (K % 8 == 0; |x·inv| within int16). */
function quant16Fn(): B {
  const [x, qa, K, inv] = [0, 1, 2, 3];
  const L = new Locals(4);
  const [p, o, end] = [L.i(), L.i(), L.i()];
  const S = L.v();
  const conv = (offset: number): B => [...fmul(vload(get(p), offset), get(S)), ...simd(0x6a), ...simd(0xf8)];
  return L.fn([
    ...set(S, [...get(inv), ...simd(0x13)]),
    ...set(p, get(x)),
    ...set(o, get(qa)),
    ...set(end, add(get(x), [...get(K), ...i32c(2), 0x74])),
    ...repeat([...vstore(get(o), [...conv(0), ...conv(16), ...simd(0x85)]), ...set(o, add(get(o), i32c(16)))], stepWhile(p, i32c(32), get(end))),
  ]);
}

/**
 * softmax(s, n, scale): s[j] = exp(scale·s[j] − max) / Σ over n floats (n % 4 == 0, scale > 0;
 * a caller pads with −Infinity). The attention of one head for one character: with the products
 * on 8-bit weights, its Math.exp loop had become a large part of a step. exp as ./simd.ts's
 * (2^n from the exponent bits, Taylor to r^7; arguments clamped to [−80, 80]).
 */
function softmaxFn(): B {
  const [sp, n, scale] = [0, 1, 2];
  const L = new Locals(3);
  const [p, end] = [L.i(), L.i()];
  const [M, S, Z, X, N, R, P] = Array.from({ length: 7 }, () => L.v());
  const fsub = (a: B, b: B): B => [...a, ...b, ...simd(0xe5)];
  const clamp = (x: B): B => [...[...x, ...f4(80), ...simd(0xe8)], ...f4(-80), ...simd(0xe9)];
  let poly: B = f4(1 / 5040);
  for (const c of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5]) poly = fadd(f4(c), fmul(get(R), poly));
  const lanes = (v: number, op: number): B => [
    ...get(v),
    ...simd(0x1f),
    0,
    ...get(v),
    ...simd(0x1f),
    1,
    op,
    ...get(v),
    ...simd(0x1f),
    2,
    op,
    ...get(v),
    ...simd(0x1f),
    3,
    op,
  ];
  const each = (body: B): B => [...set(p, get(sp)), ...repeat(body, stepWhile(p, i32c(16), get(end)))];
  return L.fn([
    ...set(end, add(get(sp), [...get(n), ...i32c(2), 0x74])),
    ...set(S, [...get(scale), ...simd(0x13)]),
    ...set(M, f4(-Infinity)),
    ...each(set(M, [...get(M), ...vload(get(p)), ...simd(0xe9)])),
    ...set(M, [...lanes(M, 0x97), ...get(scale), 0x94, ...simd(0x13)]),
    ...set(Z, I4_ZERO),
    ...each([
      ...set(X, clamp(fsub(fmul(vload(get(p)), get(S)), get(M)))),
      ...set(N, [...fmul(get(X), f4(Math.LOG2E)), ...simd(0x6a)]),
      ...set(R, fsub(fsub(get(X), fmul(get(N), f4(0.693359375))), fmul(get(N), f4(-2.1219444005469057e-4)))),
      ...set(P, [...get(N), ...simd(0xf8), ...i4(127), ...simd(0xae), ...i32c(23), ...simd(0xab)]),
      ...set(X, fadd(fmul(get(P), fadd(get(R), fmul(fmul(get(R), get(R)), poly))), get(P))),
      ...set(Z, fadd(get(Z), get(X))),
      ...vstore(get(p), get(X)),
    ]),
    ...set(Z, [...[0x43, 0x00, 0x00, 0x80, 0x3f], ...lanes(Z, 0x92), 0x95, ...simd(0x13)]),
    ...each(vstore(get(p), fmul(vload(get(p)), get(Z)))),
  ]);
}

export function quantModuleBytes(shared = false): Uint8Array<ArrayBuffer> {
  return wasmModule(
    [
      { name: 'qgemv', params: 9, f32Params: [7], code: qgemvFn() },
      { name: 'absMax', params: 2, returnsF32: true, code: absMaxFn() },
      { name: 'quant16', params: 4, f32Params: [3], code: quant16Fn() },
      { name: 'softmax', params: 3, f32Params: [2], code: softmaxFn() },
    ],
    shared,
  );
}

export interface QuantKernels {
  qgemv(q: number, w: number, scales: number, bias: number, out: number, K: number, N: number, t: number, accumulate: number): void;
  absMax(x: number, K: number): number;
  quant16(x: number, q: number, K: number, inv: number): void;
  softmax(s: number, n: number, scale: number): void;
}

/** The largest 16-bit input magnitude for which K products of it and 127 fit an int32 lane. */
export function qmaxFor(K: number): number {
  return Math.min(32767, Math.floor((2 ** 31 - 1) / (K * 127)));
}

/** Bytes of W [K, N] packed by quantizeColumns. */
export const quantBytes = (K: number, N: number): number => K * N;

/**
 * W [K, N] (row-major float32) as int8 in qgemv's panel layout, with one scale per column
 * (N % 8 == 0, K even). A column of zeros gets scale 0.
 */
export function quantizeColumns(m: Float32Array, K: number, N: number): { weights: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let n = 0; n < N; n++) {
      const a = Math.abs(m[row + n]!);
      if (a > scales[n]!) scales[n] = a;
    }
  }
  const inv = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    scales[n] = scales[n]! / 127;
    inv[n] = scales[n]! > 0 ? 1 / scales[n]! : 0;
  }
  const weights = new Int8Array(K * N);
  const full = N - (N % PANEL);
  for (let n0 = 0; n0 < N;) {
    const width = n0 < full ? PANEL : 8;
    const base = n0 * K;
    for (let k = 0; k < K; k++) {
      const row = k * N + n0;
      const o = base + (k >> 1) * 2 * width + (k & 1);
      for (let c = 0; c < width; c++) weights[o + 2 * c] = Math.round(m[row + c]! * inv[n0 + c]!);
    }
    n0 += width;
  }
  return { weights, scales };
}

const compiled = new Map<boolean, WebAssembly.Module | null>();

/** The compiled module for a plain or shared memory, or null where this WebAssembly has no SIMD. */
export function quantModule(shared = false): WebAssembly.Module | null {
  if (!compiled.has(shared)) {
    let m: WebAssembly.Module | null;
    try {
      const bytes = quantModuleBytes(shared);
      m = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      m = null;
    }
    compiled.set(shared, m);
  }
  return compiled.get(shared)!;
}
