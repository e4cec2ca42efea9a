/**
 * The per-sequence gate kernels (LSTM, GRU, RNN forward and backward) as a small WebAssembly
 * module with 128-bit SIMD (f32x4), for the wasm backend, written with ./wasm-emit.ts (no
 * compiler toolchain). The module imports the tfjs wasm backend's own `memory`, so it reads and
 * writes the tensors in place (pointers are the heap views' byteOffset).
 *
 * Each exported function does one batch row: `fn(ptr..., H)` loops j = 0..H-1 four lanes at a
 * time (callers use it only when H % 4 == 0; otherwise the JS loops of ./math.ts run). The
 * arithmetic is ./math.ts's, in float32 lanes:
 *   exp(x)   = 2^n · (1 + q(r)),  n = nearest(x·log2 e), r = x - n·ln2 (Cody-Waite, two parts),
 *              q(r) = expm1(r) by Taylor to r^7 (|r| <= ln2/2: truncation 5e-9), 2^n from bits
 *   sigmoid  = 1 / (1 + exp(-x))
 *   tanh     = e / (e + 2), e = expm1(2x) = 2^n·q + (2^n - 1) (exact q for |x| small: no
 *              cancellation near 0, unlike 1 - 2/(1 + e^{2x}) in float32)
 * Arguments are clamped to [-80, 80] (2^n stays a normal float). Relative error ~2e-7.
 *
 * In WAT terms each function is
 *   (func (param $p0 i32) ... (param $H i32) (local $k i32) (local $end i32) (local $hb2 i32)
 *         (local $hb3 i32) (local $hb i32) (local v128 ...)
 *     (local.set $hb (i32.shl (local.get $H) (i32.const 2)))  ;; H floats in bytes
 *     (local.set $end (local.get $hb)) ... (loop $l  <body on v128.load (p + k [+ g·hb])>
 *       (local.set $k (i32.add (local.get $k) (i32.const 16)))
 *       (br_if $l (i32.lt_u (local.get $k) (local.get $end)))))
 */
import { I32_ADD, f4, get, i32c, i4, repeat, set, simd, stepWhile, uleb, vec, wasmModule, type B } from './wasm-emit.ts';

// f32x4 arithmetic
const add = (a: B, b: B): B => [...a, ...b, ...simd(0xe4)];
const sub = (a: B, b: B): B => [...a, ...b, ...simd(0xe5)];
const mul = (a: B, b: B): B => [...a, ...b, ...simd(0xe6)];
const div = (a: B, b: B): B => [...a, ...b, ...simd(0xe7)];
const min = (a: B, b: B): B => [...a, ...b, ...simd(0xe8)];
const max = (a: B, b: B): B => [...a, ...b, ...simd(0xe9)];
const neg = (a: B): B => [...a, ...simd(0xe1)];
const sqrt = (a: B): B => [...a, ...simd(0xe3)];
/** v128.load32_splat: the float at p + offset in all four lanes. */
const splat = (p: number, offset: number): B => [...get(p), ...simd(0x09), 0x02, ...uleb(offset)];
const nearest = (a: B): B => [...a, ...simd(0x6a)];
const ONE = f4(1);

/** Function builder: params 0..n-1 (pointers, then H), then i32 locals, then v128 locals. */
class Fn {
  readonly k: number;
  readonly end: number;
  readonly hb: number;
  readonly hb2: number;
  readonly hb3: number;
  private nextV: number;
  readonly body: B = [];
  constructor(readonly nParams: number) {
    const H = nParams - 1;
    this.k = nParams;
    this.end = nParams + 1;
    this.hb = nParams + 2;
    this.hb2 = nParams + 3;
    this.hb3 = nParams + 4;
    this.nextV = nParams + 5;
    this.body.push(
      ...set(this.hb, [...get(H), ...i32c(2), 0x74]),
      ...set(this.end, get(this.hb)),
      ...set(this.hb2, [...get(this.hb), ...get(this.hb), I32_ADD]),
      ...set(this.hb3, [...get(this.hb2), ...get(this.hb), I32_ADD]),
      ...set(this.k, i32c(0)),
    );
  }
  v(): number {
    return this.nextV++;
  }
  private addr(p: number, g: number): B {
    const off = [0, this.hb, this.hb2, this.hb3][g]!;
    return [...get(p), ...get(this.k), I32_ADD, ...(g ? [...get(off), I32_ADD] : [])];
  }
  /** v128.load of floats j..j+3 of gate block g of row pointer p. */
  ld(p: number, g = 0): B {
    return [...this.addr(p, g), ...simd(0x00), 0x02, 0x00];
  }
  st(p: number, g: number, val: B): B {
    return [...this.addr(p, g), ...val, ...simd(0x0b), 0x02, 0x00];
  }
  /** exp(x) = S·(1 + R) afterwards: sets S = 2^n (as float bits) and R = expm1(r). */
  private expParts(x: B, t: { X: number; N: number; R: number; S: number }): B {
    const { X, N, R, S } = t;
    const r = get(R);
    // p = 1/2 + r(1/6 + r(1/24 + ...)), built from the highest coefficient outwards
    let p: B = f4(1 / 5040);
    for (const c of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5]) p = add(f4(c), mul(r, p));
    return [
      ...set(X, max(min(x, f4(80)), f4(-80))),
      ...set(N, nearest(mul(get(X), f4(1.4426950408889634)))),
      ...set(R, sub(sub(get(X), mul(get(N), f4(0.693359375))), mul(get(N), f4(-2.1219444005469057e-4)))),
      // 2^n: (int(n) + 127) << 23 as float bits
      ...set(S, [...get(N), ...simd(0xf8), ...i4(127), ...simd(0xae), ...i32c(23), ...simd(0xab)]),
      // R <- q = r + r^2 (1/2 + r/6 + ...)
      ...set(R, add(r, mul(mul(r, r), p))),
    ];
  }
  private t?: { X: number; N: number; R: number; S: number; E: number };
  private temps() {
    return (this.t ??= { X: this.v(), N: this.v(), R: this.v(), S: this.v(), E: this.v() });
  }
  /** Code that leaves sigmoid(x) in local `dst`. */
  sigmoid(dst: number, x: B): B {
    const t = this.temps();
    // exp(-x) = S·q + S
    return [...this.expParts(neg(x), t), ...set(dst, div(ONE, add(ONE, add(mul(get(t.S), get(t.R)), get(t.S)))))];
  }
  /** Code that leaves tanh(x) in local `dst`. */
  tanh(dst: number, x: B): B {
    const t = this.temps();
    return [...this.expParts(add(x, x), t), ...set(t.E, add(mul(get(t.S), get(t.R)), sub(get(t.S), ONE))), ...set(dst, div(get(t.E), add(get(t.E), f4(2))))];
  }
  /** The function body: prologue, do { body; k += 16 } while (k < end), then `after`. */
  code(loopBody: B, after: B = []): B {
    const nV = this.nextV - (this.nParams + 5);
    const locals = vec([
      [...uleb(5), 0x7f],
      [...uleb(nV), 0x7b],
    ]);
    const expr = [...this.body, ...repeat(loopBody, stepWhile(this.k, i32c(16), get(this.end))), ...after, 0x0b];
    const fn = [...locals, ...expr];
    return [...uleb(fn.length), ...fn];
  }
}

interface FnDef {
  name: string;
  params: number; // pointers + H
  build(f: Fn): B;
  /** Code after the loop; with `returnsF32`, it leaves the function's f32 result. */
  after?(f: Fn): B;
  returnsF32?: boolean;
}

const fns: FnDef[] = [
  {
    // xp, hr, bias, cPrev, gates, cs, tcs, out, h, c, H  (rows: xp/hr/gates at their own offsets)
    name: 'lstmFwd',
    params: 11,
    build(f) {
      const [xp, hr, bias, cPrev, gates, cs, tcs, out, h, c] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
      const [I, F, G, O, CN, TC] = [f.v(), f.v(), f.v(), f.v(), f.v(), f.v()];
      const pre = (g: number) => add(add(f.ld(xp!, g), f.ld(bias!, g)), f.ld(hr!, g));
      return [
        ...f.sigmoid(I, pre(0)),
        ...f.st(gates!, 0, get(I)),
        ...f.sigmoid(F, pre(1)),
        ...f.st(gates!, 1, get(F)),
        ...f.tanh(G, pre(2)),
        ...f.st(gates!, 2, get(G)),
        ...f.sigmoid(O, pre(3)),
        ...f.st(gates!, 3, get(O)),
        ...set(CN, add(mul(get(F), f.ld(cPrev!)), mul(get(I), get(G)))),
        ...f.st(cs!, 0, get(CN)),
        ...f.st(c!, 0, get(CN)),
        ...f.tanh(TC, get(CN)),
        ...f.st(tcs!, 0, get(TC)),
        ...set(CN, mul(get(O), get(TC))),
        ...f.st(out!, 0, get(CN)),
        ...f.st(h!, 0, get(CN)),
      ];
    },
  },
  {
    // dy, dhr, dc, gates, tcs, cp, dz, dzt, dcPrev, H
    name: 'lstmBwd',
    params: 10,
    build(f) {
      const [dy, dhr, dc, gates, tcs, cp, dz, dzt, dcPrev] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
      const [DH, I, Fg, G, O, TC, DCT, V] = [f.v(), f.v(), f.v(), f.v(), f.v(), f.v(), f.v(), f.v()];
      const both = (g: number) => [...f.st(dz!, g, get(V)), ...f.st(dzt!, g, get(V))];
      return [
        ...set(DH, add(f.ld(dy!), f.ld(dhr!))),
        ...set(I, f.ld(gates!, 0)),
        ...set(Fg, f.ld(gates!, 1)),
        ...set(G, f.ld(gates!, 2)),
        ...set(O, f.ld(gates!, 3)),
        ...set(TC, f.ld(tcs!)),
        ...set(DCT, add(f.ld(dc!), mul(mul(get(DH), get(O)), sub(ONE, mul(get(TC), get(TC)))))),
        ...set(V, mul(mul(mul(get(DCT), get(G)), get(I)), sub(ONE, get(I)))),
        ...both(0),
        ...set(V, mul(mul(mul(get(DCT), f.ld(cp!)), get(Fg)), sub(ONE, get(Fg)))),
        ...both(1),
        ...set(V, mul(mul(get(DCT), get(I)), sub(ONE, mul(get(G), get(G))))),
        ...both(2),
        ...set(V, mul(mul(mul(get(DH), get(TC)), get(O)), sub(ONE, get(O)))),
        ...both(3),
        ...f.st(dcPrev!, 0, mul(get(DCT), get(Fg))),
      ];
    },
  },
  {
    // xp, hzr, bias, hPrev, gates, rhs, rh, H
    name: 'gruFwdA',
    params: 8,
    build(f) {
      const [xp, hzr, bias, hPrev, gates, rhs, rh] = [0, 1, 2, 3, 4, 5, 6];
      const [Z, RR] = [f.v(), f.v()];
      return [
        ...f.sigmoid(Z, add(add(f.ld(xp!, 0), f.ld(bias!, 0)), f.ld(hzr!, 0))),
        ...f.st(gates!, 0, get(Z)),
        ...f.sigmoid(RR, add(add(f.ld(xp!, 1), f.ld(bias!, 1)), f.ld(hzr!, 1))),
        ...f.st(gates!, 1, get(RR)),
        ...set(Z, mul(get(RR), f.ld(hPrev!))),
        ...f.st(rhs!, 0, get(Z)),
        ...f.st(rh!, 0, get(Z)),
      ];
    },
  },
  {
    // xp, hhr, bias, hPrev, gates, out, h, H
    name: 'gruFwdB',
    params: 8,
    build(f) {
      const [xp, hhr, bias, hPrev, gates, out, h] = [0, 1, 2, 3, 4, 5, 6];
      const [HH, Z] = [f.v(), f.v()];
      return [
        ...f.tanh(HH, add(add(f.ld(xp!, 2), f.ld(bias!, 2)), f.ld(hhr!))),
        ...f.st(gates!, 2, get(HH)),
        ...set(Z, f.ld(gates!, 0)),
        ...set(Z, add(mul(get(Z), f.ld(hPrev!)), mul(sub(ONE, get(Z)), get(HH)))),
        ...f.st(out!, 0, get(Z)),
        ...f.st(h!, 0, get(Z)),
      ];
    },
  },
  {
    // dy, carryD, carryM, gates, hp, dz, dzh, dhTot, H
    name: 'gruBwdA',
    params: 9,
    build(f) {
      const [dy, carryD, carryM, gates, hp, dz, dzh, dhTot] = [0, 1, 2, 3, 4, 5, 6, 7];
      const [DH, Z, HH, V] = [f.v(), f.v(), f.v(), f.v()];
      return [
        ...set(DH, add(add(f.ld(dy!), f.ld(carryD!)), f.ld(carryM!))),
        ...set(Z, f.ld(gates!, 0)),
        ...set(HH, f.ld(gates!, 2)),
        ...f.st(dz!, 0, mul(mul(mul(get(DH), sub(f.ld(hp!), get(HH))), get(Z)), sub(ONE, get(Z)))),
        ...set(V, mul(mul(get(DH), sub(ONE, get(Z))), sub(ONE, mul(get(HH), get(HH))))),
        ...f.st(dz!, 2, get(V)),
        ...f.st(dzh!, 0, get(V)),
        ...f.st(dhTot!, 0, get(DH)),
      ];
    },
  },
  {
    // drh, dhTot, gates, hp, dz, dzzr, carryD, H
    name: 'gruBwdB',
    params: 8,
    build(f) {
      const [drh, dhTot, gates, hp, dz, dzzr, carryD] = [0, 1, 2, 3, 4, 5, 6];
      const [D, RR, V] = [f.v(), f.v(), f.v()];
      return [
        ...set(D, f.ld(drh!)),
        ...set(RR, f.ld(gates!, 1)),
        ...set(V, mul(mul(mul(get(D), f.ld(hp!)), get(RR)), sub(ONE, get(RR)))),
        ...f.st(dz!, 1, get(V)),
        ...f.st(dzzr!, 1, get(V)),
        ...f.st(dzzr!, 0, f.ld(dz!, 0)),
        ...f.st(carryD!, 0, add(mul(f.ld(dhTot!), f.ld(gates!, 0)), mul(get(D), get(RR)))),
      ];
    },
  },
  {
    // xp, hr, bias, out, h, H
    name: 'rnnFwd',
    params: 6,
    build(f) {
      const [xp, hr, bias, out, h] = [0, 1, 2, 3, 4];
      const V = f.v();
      return [...f.tanh(V, add(add(f.ld(xp!), f.ld(bias!)), f.ld(hr!))), ...f.st(out!, 0, get(V)), ...f.st(h!, 0, get(V))];
    },
  },
  {
    // dy, dhr, out, dz, dzt, H
    name: 'rnnBwd',
    params: 6,
    build(f) {
      const [dy, dhr, out, dz, dzt] = [0, 1, 2, 3, 4];
      const [HV, V] = [f.v(), f.v()];
      return [
        ...set(HV, f.ld(out!)),
        ...set(V, mul(add(f.ld(dy!), f.ld(dhr!)), sub(ONE, mul(get(HV), get(HV))))),
        ...f.st(dz!, 0, get(V)),
        ...f.st(dzt!, 0, get(V)),
      ];
    },
  },
  {
    // dst[j] += src[j] over n floats (a column sum, one row at a time): dst, src, n
    name: 'addInto',
    params: 3,
    build(f) {
      return f.st(0, 0, add(f.ld(0), f.ld(1)));
    },
  },
  {
    // Σ g² over n floats (n % 4 == 0, n > 0): g, n -> f32 (four lanes summed at the end)
    name: 'sumSquares',
    params: 2,
    returnsF32: true,
    build(f) {
      const acc = ((f as Fn & { acc?: number }).acc = f.v());
      f.body.push(...set(acc, f4(0)));
      return set(acc, add(get(acc), mul(f.ld(0), f.ld(0))));
    },
    after(f) {
      const acc = (f as Fn & { acc?: number }).acc!;
      const lane = (i: number): B => [...get(acc), ...simd(0x1f), i];
      return [...lane(0), ...lane(1), 0x92, ...lane(2), 0x92, ...lane(3), 0x92];
    },
  },
  {
    // Adam over n floats (n % 4 == 0, n > 0): w, m, v, g, scale [1], consts [lr, b1, 1-b1, b2, 1-b2, eps], w2, m2, v2, n
    name: 'adam',
    params: 10,
    build(f) {
      const [w, m, v, g, scale, consts, w2, m2, v2] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
      const [S, LR, B1, C1, B2, C2, EPS, G, M, V] = Array.from({ length: 10 }, () => f.v());
      f.body.push(...set(S, splat(scale!, 0)), ...[LR, B1, C1, B2, C2, EPS].flatMap((L, i) => set(L!, splat(consts!, 4 * i))));
      return [
        ...set(G!, mul(f.ld(g!), get(S!))),
        ...set(M!, add(mul(get(B1!), f.ld(m!)), mul(get(C1!), get(G!)))),
        ...set(V!, add(mul(get(B2!), f.ld(v!)), mul(get(C2!), mul(get(G!), get(G!))))),
        ...f.st(m2!, 0, get(M!)),
        ...f.st(v2!, 0, get(V!)),
        ...f.st(w2!, 0, sub(f.ld(w!), div(mul(get(LR!), get(M!)), add(sqrt(get(V!)), get(EPS!))))),
      ];
    },
  },
  {
    // RMSProp over n floats (n % 4 == 0, n > 0): w, ms, g, scale [1], consts [lr, decay, 1-decay, eps], w2, ms2, n
    name: 'rmsprop',
    params: 8,
    build(f) {
      const [w, ms, g, scale, consts, w2, ms2] = [0, 1, 2, 3, 4, 5, 6];
      const [S, LR, D, C, EPS, G, M] = Array.from({ length: 7 }, () => f.v());
      f.body.push(...set(S, splat(scale!, 0)), ...[LR, D, C, EPS].flatMap((L, i) => set(L!, splat(consts!, 4 * i))));
      return [
        ...set(G!, mul(f.ld(g!), get(S!))),
        ...set(M!, add(mul(get(D!), f.ld(ms!)), mul(get(C!), mul(get(G!), get(G!))))),
        ...f.st(ms2!, 0, get(M!)),
        ...f.st(w2!, 0, sub(f.ld(w!), div(mul(get(LR!), get(G!)), add(sqrt(get(M!)), get(EPS!))))),
      ];
    },
  },
];

/** The module's bytes: imports env.memory (`shared`: see memoryImport), exports one function per entry of `fns`. */
export function moduleBytes(shared = false): Uint8Array<ArrayBuffer> {
  return wasmModule(
    fns.map((d) => {
      const f = new Fn(d.params);
      const body = d.build(f);
      return { name: d.name, params: d.params, returnsF32: d.returnsF32, code: f.code(body, d.after?.(f)) };
    }),
    shared,
  );
}

type K = (...args: number[]) => void;
export interface SimdKernels {
  lstmFwd: K;
  lstmBwd: K;
  gruFwdA: K;
  gruFwdB: K;
  gruBwdA: K;
  gruBwdB: K;
  rnnFwd: K;
  rnnBwd: K;
  addInto: K;
  adam: K;
  rmsprop: K;
  sumSquares: (p: number, n: number) => number;
}

const compiled = new Map<boolean, WebAssembly.Module | null>();
const byMemory = new WeakMap<WebAssembly.Memory, SimdKernels | null>();

/** The compiled kernels (once per kind of memory import), or null where SIMD is unavailable or CHARMER_SIMD=0. */
export function simdModule(shared = false): WebAssembly.Module | null {
  if (typeof process !== 'undefined' && process.env?.CHARMER_SIMD === '0') return null;
  if (!compiled.has(shared)) {
    try {
      compiled.set(shared, new WebAssembly.Module(moduleBytes(shared).buffer as ArrayBuffer));
    } catch {
      compiled.set(shared, null);
    }
  }
  return compiled.get(shared)!;
}

/** The kernels bound to a wasm backend's memory, or null where SIMD or the memory is unavailable. */
export function simdKernelsFor(memory: WebAssembly.Memory | undefined): SimdKernels | null {
  if (!memory) return null;
  const have = byMemory.get(memory);
  if (have !== undefined) return have;
  const module = simdModule();
  let k: SimdKernels | null = null;
  if (module) {
    try {
      // Fails for a shared memory (the threaded wasm build): then the JS loops run.
      k = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
    } catch {
      k = null;
    }
  }
  byMemory.set(memory, k);
  return k;
}
