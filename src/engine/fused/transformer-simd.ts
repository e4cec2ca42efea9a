/**
 * GELU forward and backward (PyTorch's exact form, x·Φ(x)) and LayerNorm rows as f32x4 SIMD WebAssembly on the wasm
 * backend's heap, assembled at load time with ./wasm-emit.ts's byte helpers (no toolchain). Why: the
 * MLP's [B·T, 4C] activations are the largest elementwise pass of a Transformer step; as JS loops
 * (./transformer-math.ts, an erf and an exp an element) they cost a large share of a step at
 * width 128 (docs/PERFORMANCE.md, "The Transformer").
 *
 * Φ(x) = 0.5·erfc(|x|/√2) for x < 0 and 1 − that for x ≥ 0, erfc by Abramowitz and Stegun 7.1.26
 * (absolute error < 1.5e-7), exp as in ./simd.ts (2^n from the exponent bits, Taylor to r^7).
 * Each function loops over n floats four at a time (callers pass n % 4 == 0, n > 0).
 */
import { f4, get, i32c, i4, repeat, set, simd, stepWhile, uleb, vec, wasmModule, type B } from './wasm-emit.ts';

const I32_ADD = 0x6a;
const add = (a: B, b: B): B => [...a, ...b, ...simd(0xe4)];
const sub = (a: B, b: B): B => [...a, ...b, ...simd(0xe5)];
const mul = (a: B, b: B): B => [...a, ...b, ...simd(0xe6)];
const div = (a: B, b: B): B => [...a, ...b, ...simd(0xe7)];
const min = (a: B, b: B): B => [...a, ...b, ...simd(0xe8)];
const max = (a: B, b: B): B => [...a, ...b, ...simd(0xe9)];
const abs = (a: B): B => [...a, ...simd(0xe0)];
const ge0 = (a: B): B => [...a, ...f4(0), ...simd(0x46)];
/** lanes of a where mask, else b */
const select = (a: B, b: B, mask: B): B => [...a, ...b, ...mask, ...simd(0x52)];
const ONE = f4(1);

/** Params (i32 unless listed in `f32s`), then locals: i32 k and end, F32S f32s, then v128s. */
const F32S = 4;
class Builder {
  readonly k: number;
  readonly end: number;
  readonly f: number[];
  private next: number;
  constructor(
    readonly params: number,
    readonly f32Params: number[] = [],
  ) {
    this.k = params;
    this.end = params + 1;
    this.f = Array.from({ length: F32S }, (_, i) => params + 2 + i);
    this.next = params + 2 + F32S;
  }
  v(): number {
    return this.next++;
  }
  ld(p: number): B {
    return [...get(p), ...get(this.k), I32_ADD, ...simd(0x00), 0x02, 0x00];
  }
  st(p: number, val: B): B {
    return [...get(p), ...get(this.k), I32_ADD, ...val, ...simd(0x0b), 0x02, 0x00];
  }
  /** do { body; k += 16 } while (k < end), from k = 0 (end: n floats in bytes, set by code()). */
  loop(body: B): B {
    return [...set(this.k, i32c(0)), ...repeat(body, stepWhile(this.k, i32c(16), get(this.end)))];
  }
  /** The four lanes of v summed, as an f32. */
  hsum(v: number): B {
    const lane = (i: number): B => [...get(v), ...simd(0x1f), i];
    return [...lane(0), ...lane(1), 0x92, ...lane(2), 0x92, ...lane(3), 0x92];
  }
  /** Code leaving exp(x) in dst (x clamped to [-80, 80]). */
  exp(dst: number, x: B): B {
    const [X, N, R, S] = [this.v(), this.v(), this.v(), this.v()];
    let p: B = f4(1 / 5040);
    for (const c of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5]) p = add(f4(c), mul(get(R), p));
    return [
      ...set(X, max(min(x, f4(80)), f4(-80))),
      ...set(N, [...mul(get(X), f4(1.4426950408889634)), ...simd(0x6a)]),
      ...set(R, sub(sub(get(X), mul(get(N), f4(0.693359375))), mul(get(N), f4(-2.1219444005469057e-4)))),
      ...set(S, [...get(N), ...simd(0xf8), ...i4(127), ...simd(0xae), ...i32c(23), ...simd(0xab)]),
      ...set(R, add(get(R), mul(mul(get(R), get(R)), p))),
      ...set(dst, add(mul(get(S), get(R)), get(S))),
    ];
  }
  /** Code leaving Φ(x) in dst and exp(-x²/2) in E (the backward's φ reuses it); x a local. */
  cdf(dst: number, x: number, E: number): B {
    const [Z, T, TAIL] = [this.v(), this.v(), this.v()];
    let poly: B = f4(1.061405429);
    for (const c of [-1.453152027, 1.421413741, -0.284496736, 0.254829592]) poly = add(f4(c), mul(get(T), poly));
    return [
      ...set(Z, mul(abs(get(x)), f4(Math.SQRT1_2))),
      ...set(T, div(ONE, add(ONE, mul(get(Z), f4(0.3275911))))),
      ...this.exp(E, mul(get(Z), [...get(Z), ...simd(0xe1)])),
      ...set(TAIL, mul(mul(mul(f4(0.5), get(T)), poly), get(E))),
      ...set(dst, select(sub(ONE, get(TAIL)), get(TAIL), ge0(get(x)))),
    ];
  }
  /** The function's code entry; `n` is the param holding the float count of every loop. */
  code(n: number, body: B): B {
    const locals = vec([
      [...uleb(2), 0x7f],
      [...uleb(F32S), 0x7d],
      [...uleb(this.next - this.params - 2 - F32S), 0x7b],
    ]);
    const fn = [...locals, ...set(this.end, [...get(n), ...i32c(2), 0x74]), ...body, 0x0b];
    return [...uleb(fn.length), ...fn];
  }
}

const splatF = (x: B): B => [...x, ...simd(0x13)];
const f32load = (p: number): B => [...get(p), 0x2a, 0x02, 0x00];
const f32store = (p: number, v: B): B => [...get(p), ...v, 0x38, 0x02, 0x00];
/** f32 arithmetic on scalars: a / f32(n as u32) */
const perN = (a: B, n: number): B => [...a, ...get(n), 0xb3, 0x95];

const defs: Array<{ name: string; params: number; f32s?: number[]; n: number; build(f: Builder): B }> = [
  {
    // x, y, d, n: y = x·Φ(x) and its derivative d = Φ(x) + x·φ(x), which the backward only multiplies by
    name: 'geluFwd',
    params: 4,
    n: 3,
    build(f) {
      const [X, P, E] = [f.v(), f.v(), f.v()];
      return f.loop([
        ...set(X, f.ld(0)),
        ...f.cdf(P, X, E),
        ...f.st(1, mul(get(X), get(P))),
        ...f.st(2, add(get(P), mul(mul(get(X), f4(0.3989422804014327)), get(E)))),
      ]);
    },
  },
  {
    // x, y, n: y = x·Φ(x) alone, for sampling, which needs no derivative
    name: 'gelu',
    params: 3,
    n: 2,
    build(f) {
      const [X, P, E] = [f.v(), f.v(), f.v()];
      return f.loop([...set(X, f.ld(0)), ...f.cdf(P, X, E), ...f.st(1, mul(get(X), get(P)))]);
    },
  },
  {
    // dy, d, dx, n: dx = dy·d
    name: 'geluBwd',
    params: 4,
    n: 3,
    build(f) {
      return f.loop(f.st(2, mul(f.ld(0), f.ld(1))));
    },
  },
  {
    // One row of LayerNorm: x, g, b, y, meanP, rstdP, C, eps (f32). Two-pass variance.
    name: 'lnFwd',
    params: 8,
    f32s: [7],
    n: 6,
    build(f) {
      const [x, g, b, y, meanP, rstdP, C, eps] = [0, 1, 2, 3, 4, 5, 6, 7];
      const [m, rs] = f.f as [number, number];
      const [S, M, Q, D, RS] = [f.v(), f.v(), f.v(), f.v(), f.v()];
      return [
        ...set(S, f4(0)),
        ...f.loop(set(S, add(get(S), f.ld(x)))),
        ...set(m, perN(f.hsum(S), C)),
        ...f32store(meanP, get(m)),
        ...set(M, splatF(get(m))),
        ...set(Q, f4(0)),
        ...f.loop([...set(D, sub(f.ld(x), get(M))), ...set(Q, add(get(Q), mul(get(D), get(D))))]),
        ...set(rs, [0x43, 0x00, 0x00, 0x80, 0x3f /* 1.0 */, ...perN(f.hsum(Q), C), ...get(eps), 0x92, 0x91, 0x95]),
        ...f32store(rstdP, get(rs)),
        ...set(RS, splatF(get(rs))),
        ...f.loop(f.st(y, add(mul(mul(sub(f.ld(x), get(M)), get(RS)), f.ld(g)), f.ld(b)))),
      ];
    },
  },
  {
    // One row of LayerNorm's backward: dy, x, g, dx, dg, db, meanP, rstdP, C (dg, db accumulate).
    name: 'lnBwd',
    params: 9,
    n: 8,
    build(f) {
      const [dy, x, g, dx, dg, db, meanP, rstdP, C] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
      const [M, RS, A, CC, XH, DY, DXH] = Array.from({ length: 7 }, () => f.v());
      return [
        ...set(M, splatF(f32load(meanP))),
        ...set(RS, splatF(f32load(rstdP))),
        ...set(A, f4(0)),
        ...set(CC, f4(0)),
        ...f.loop([
          ...set(XH, mul(sub(f.ld(x), get(M)), get(RS))),
          ...set(DY, f.ld(dy)),
          ...set(DXH, mul(get(DY), f.ld(g))),
          ...set(A, add(get(A), get(DXH))),
          ...set(CC, add(get(CC), mul(get(DXH), get(XH)))),
          ...f.st(dg, add(f.ld(dg), mul(get(DY), get(XH)))),
          ...f.st(db, add(f.ld(db), get(DY))),
        ]),
        ...set(A, splatF(perN(f.hsum(A), C))),
        ...set(CC, splatF(perN(f.hsum(CC), C))),
        ...f.loop(f.st(dx, mul(get(RS), sub(sub(mul(f.ld(dy), f.ld(g)), get(A)), mul(mul(sub(f.ld(x), get(M)), get(RS)), get(CC)))))),
      ];
    },
  },
];

export function transformerSimdBytes(): Uint8Array<ArrayBuffer> {
  return wasmModule(
    defs.map((d) => {
      const f = new Builder(d.params, d.f32s);
      return { name: d.name, params: d.params, f32Params: d.f32s, code: f.code(d.n, d.build(f)) };
    }),
  );
}

export interface TransformerSimd {
  /** y = GELU(x) and d = GELU'(x), n floats each. */
  geluFwd(x: number, y: number, d: number, n: number): void;
  /** y = GELU(x), n floats (no derivative: sampling). */
  gelu(x: number, y: number, n: number): void;
  /** dx = dy·d (d from geluFwd). */
  geluBwd(dy: number, d: number, dx: number, n: number): void;
  /** One row (C % 4 == 0): writes y's row, its mean at meanP and 1/σ at rstdP. */
  lnFwd(x: number, g: number, b: number, y: number, meanP: number, rstdP: number, C: number, eps: number): void;
  /** One row: writes dx's row, adds into dg and db. */
  lnBwd(dy: number, x: number, g: number, dx: number, dg: number, db: number, meanP: number, rstdP: number, C: number): void;
}

let module: WebAssembly.Module | null | undefined;
const byMemory = new WeakMap<WebAssembly.Memory, TransformerSimd | null>();

/** The kernels bound to a wasm backend's memory, or null (no SIMD, a shared memory, CHARMER_SIMD=0). */
export function transformerSimdFor(memory: WebAssembly.Memory | undefined): TransformerSimd | null {
  if (!memory || (typeof process !== 'undefined' && process.env?.CHARMER_SIMD === '0')) return null;
  const have = byMemory.get(memory);
  if (have !== undefined) return have;
  if (module === undefined) {
    try {
      module = new WebAssembly.Module(transformerSimdBytes());
    } catch {
      module = null;
    }
  }
  let k: TransformerSimd | null;
  try {
    k = module ? (new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as TransformerSimd) : null;
  } catch {
    k = null;
  }
  byMemory.set(memory, k);
  return k;
}
