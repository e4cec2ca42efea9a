/**
 * GELU forward and backward (PyTorch's exact form, x·Φ(x)) as f32x4 SIMD WebAssembly on the wasm
 * backend's heap, assembled at load time with ./simd.ts's byte helpers (no toolchain). Why: the
 * MLP's [B·T, 4C] activations are the largest elementwise pass of a Transformer step; as JS loops
 * (./transformer-math.ts, ~10 ns an element with its erf and exp) they cost about as much as the
 * block's products at width 128.
 *
 * Φ(x) = 0.5·erfc(|x|/√2) for x < 0 and 1 − that for x ≥ 0, erfc by Abramowitz and Stegun 7.1.26
 * (absolute error < 1.5e-7), exp as in ./simd.ts (2^n from the exponent bits, Taylor to r^7).
 * Each function loops over n floats four at a time (callers pass n % 4 == 0, n > 0).
 */
import { f4, get, i32c, memoryImport, section, set, simd, str, uleb, vec, type B } from './simd.ts';

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

function i4(v: number): B {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setInt32(0, v, true);
  for (let i = 1; i < 4; i++) new DataView(b.buffer).setInt32(i * 4, v, true);
  return [...simd(0x0c), ...b];
}

class Builder {
  readonly k: number;
  readonly end: number;
  private next: number;
  constructor(readonly params: number) {
    this.k = params;
    this.end = params + 1;
    this.next = params + 2;
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
  /** Code leaving Φ(x) in dst; x must be a local. */
  cdf(dst: number, x: number): B {
    const [Z, T, E] = [this.v(), this.v(), this.v()];
    let poly: B = f4(1.061405429);
    for (const c of [-1.453152027, 1.421413741, -0.284496736, 0.254829592]) poly = add(f4(c), mul(get(T), poly));
    return [
      ...set(Z, mul(abs(get(x)), f4(Math.SQRT1_2))),
      ...set(T, div(ONE, add(ONE, mul(get(Z), f4(0.3275911))))),
      ...this.exp(E, mul(get(Z), [...get(Z), ...simd(0xe1)])),
      ...set(E, mul(mul(mul(f4(0.5), get(T)), poly), get(E))), // the tail
      ...set(dst, select(sub(ONE, get(E)), get(E), ge0(get(x)))),
    ];
  }
  /** The function: loop k over n floats (last param) in 16-byte steps. */
  code(body: B): B {
    const locals = vec([
      [...uleb(2), 0x7f],
      [...uleb(this.next - this.params - 2), 0x7b],
    ]);
    const expr = [
      ...set(this.end, [...get(this.params - 1), ...i32c(2), 0x74]),
      ...set(this.k, i32c(0)),
      0x03,
      0x40,
      ...body,
      ...set(this.k, [...get(this.k), ...i32c(16), I32_ADD]),
      ...get(this.k),
      ...get(this.end),
      0x49,
      0x0d,
      0x00,
      0x0b,
      0x0b,
    ];
    const fn = [...locals, ...expr];
    return [...uleb(fn.length), ...fn];
  }
}

const defs: Array<{ name: string; params: number; build(f: Builder): B }> = [
  {
    // x, y, n
    name: 'geluFwd',
    params: 3,
    build(f) {
      const [X, P] = [f.v(), f.v()];
      return [...set(X, f.ld(0)), ...f.cdf(P, X), ...f.st(1, mul(get(X), get(P)))];
    },
  },
  {
    // dy, x, dx, n
    name: 'geluBwd',
    params: 4,
    build(f) {
      const [X, P, E] = [f.v(), f.v(), f.v()];
      return [
        ...set(X, f.ld(1)),
        ...f.cdf(P, X),
        ...f.exp(E, mul(mul(get(X), get(X)), f4(-0.5))),
        ...f.st(2, mul(f.ld(0), add(get(P), mul(mul(get(X), f4(0.3989422804014327)), get(E))))),
      ];
    },
  },
];

export function transformerSimdBytes(): Uint8Array<ArrayBuffer> {
  const types = defs.map((d) => [0x60, ...vec(Array.from({ length: d.params }, () => [0x7f])), 0x00]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport(false)])),
    ...section(3, vec(defs.map((_d, i) => uleb(i)))),
    ...section(7, vec(defs.map((d, i) => [...str(d.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(defs.map((d) => { const f = new Builder(d.params); return f.code(d.build(f)); }))),
  ]);
}

export interface TransformerSimd {
  geluFwd(x: number, y: number, n: number): void;
  geluBwd(dy: number, x: number, dx: number, n: number): void;
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
  let k: TransformerSimd | null = null;
  try {
    k = module ? (new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as TransformerSimd) : null;
  } catch {
    k = null;
  }
  byMemory.set(memory, k);
  return k;
}
