/**
 * A float32 matrix product for the wasm backend, faster than its XNNPACK GEMM on this machine:
 * WebAssembly written with ./wasm-emit.ts (as are the gate kernels of ./simd.ts) with relaxed SIMD's fused multiply-add
 * (`f32x4.relaxed_madd`), a register tile of 4 rows x 8 columns, and B packed into panels of 8
 * columns ([ceil(N/8)][K][8], the last one zero-padded). It imports the backend's `memory` and
 * works on heap addresses.
 *
 * Why: at 512 units most of a training step is matrix products, and this tile beats XNNPACK on
 * every product shape of an LSTM step only with the fused multiply-add and B packed into panels;
 * without relaxed SIMD (mul + add) or on unpacked B it loses, so then it is not used and XNNPACK
 * runs. `npx tsx bench/fma-gemm.ts` times the engine's path, packing included, against XNNPACK
 * (figures: docs/PERFORMANCE.md#figures-behind-the-engines-design-notes). Results agree with XNNPACK within ~4e-7 relative (the
 * FMA rounds once where mul + add rounds twice).
 *
 * Node 20's V8 (11.3) has relaxed SIMD only behind --experimental-wasm-relaxed-simd: it is set at
 * run time before the module is compiled (V8 11.4+, so Node 22 and Electron 45, has it on by
 * default). `CHARMER_FMA=0` turns the GEMM off, for comparisons.
 *
 * Shapes: any M and K, N a multiple of 4 (the rows past the last 4-row block use a 1-row tile; a
 * final half panel stores 4 columns). A is read through strides (a transposed A works, but slowly:
 * ./wasm-matmul.ts copies it first); B is packed from its plain [K, N] layout (`pack`) or from
 * Bᵀ's [N, K] (`packT`).
 */
import { createRequire } from 'node:module';
import { add, f4, get, i32c, Locals, repeat, set, simd, stepWhile, tee, uleb, wasmModule, when, type B } from './wasm-emit.ts';

const [ADD, MUL, AND, SHL, LTU] = [0x6a, 0x6c, 0x71, 0x74, 0x49];
const vload = (addr: B, offset = 0): B => [...addr, ...simd(0x00), 0x02, ...uleb(offset)];
const vstore = (addr: B, v: B, offset = 0): B => [...addr, ...v, ...simd(0x0b), 0x02, ...uleb(offset)];
const ZERO = f4(0);
const fma = (a: B, b: B, c: B): B => [...a, ...b, ...c, ...simd(0x105)];

/**
 * gemm(a, rs, ks, bp, c, M, K, N, G): C[M, N] = A·B with A(r, k) at a + r·rs + k·ks bytes.
 * Columns go in groups of G (a multiple of 8): every row block runs over one group's panels
 * before the next group, so that group of B (K·G floats) stays in cache while all of A streams
 * past it, instead of all of B streaming from memory for every 4 rows.
 */
function gemmFn(): B {
  const [a, rs, ks, bp, c, M, K, N, G] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const L = new Locals(9, 'gemm emitter');
  const [i, j, pb, pbj, pc, ldc, ka, kend, mfull, nfull, panel, jg, jend, pbg] = Array.from({ length: 14 }, () => L.i());
  const pa = [L.i(), L.i(), L.i(), L.i()];
  const acc = pa.map(() => [L.v(), L.v()]);
  const bv = [L.v(), L.v()];
  const av = L.v();

  const tile = (MR: number, storeV: number): B => [
    ...acc
      .slice(0, MR)
      .flat()
      .flatMap((x) => set(x, ZERO)),
    ...set(pb, get(pbj)),
    ...set(ka, i32c(0)),
    ...repeat(
      [
        ...bv.flatMap((x, v) => set(x, vload(get(pb), 16 * v))),
        ...set(pb, add(get(pb), i32c(32))),
        ...pa
          .slice(0, MR)
          .flatMap((p, r) => [
            ...set(av, [...add(get(p), get(ka)), ...simd(0x09), 0x02, 0x00]),
            ...bv.flatMap((b, v) => set(acc[r]![v]!, fma(get(av), get(b), get(acc[r]![v]!)))),
          ]),
      ],
      stepWhile(ka, get(ks), get(kend)),
    ),
    ...set(pc, add(get(c), [...get(i), ...get(ldc), MUL], [...get(j), ...i32c(2), SHL])),
    ...acc
      .slice(0, MR)
      .flatMap((row, r) => [
        ...row.slice(0, storeV).flatMap((x, v) => vstore(get(pc), get(x), 16 * v)),
        ...(r < MR - 1 ? set(pc, add(get(pc), get(ldc))) : []),
      ]),
  ];
  /** Rows i..i+MR-1 against the panels of columns jg..jend-1 (full), or the half panel at jg. */
  const rows = (MR: number, full: boolean): B => [
    ...pa.slice(0, MR).flatMap((p, r) => set(p, add(get(a), [...get(i), ...i32c(r), ADD, ...get(rs), MUL]))),
    ...set(pbj, get(pbg)),
    ...set(j, get(jg)),
    ...(full ? repeat([...tile(MR, 2), ...set(pbj, add(get(pbj), get(panel)))], stepWhile(j, i32c(8), get(jend))) : tile(MR, 1)),
  ];
  const allRows = (full: boolean): B => [
    ...set(i, i32c(0)),
    ...when(get(mfull), repeat(rows(4, full), stepWhile(i, i32c(4), get(mfull)))),
    ...when([...get(i), ...get(M), LTU], repeat(rows(1, full), stepWhile(i, i32c(1), get(M)))),
  ];
  const panelAt = (col: B): B => add(get(bp), [...col, ...i32c(3), 0x76 /* shr_u */, ...get(panel), MUL]);
  return L.fn([
    ...set(ldc, [...get(N), ...i32c(2), SHL]),
    ...set(kend, [...get(K), ...get(ks), MUL]),
    ...set(panel, [...get(K), ...i32c(5), SHL]),
    ...set(mfull, [...get(M), ...i32c(-4), AND]),
    ...set(nfull, [...get(N), ...i32c(-8), AND]),
    ...set(jg, i32c(0)),
    ...when(
      get(nfull),
      repeat(
        [
          // jend = min(jg + G, nfull)
          ...set(jend, [...add(get(jg), get(G)), ...get(nfull), ...add(get(jg), get(G)), ...get(nfull), LTU, 0x1b]),
          ...set(pbg, panelAt(get(jg))),
          ...allRows(true),
        ],
        [...tee(jg, get(jend)), ...get(nfull), LTU],
      ),
    ),
    ...when([...get(N), ...i32c(4), AND], [...set(jg, get(nfull)), ...set(pbg, panelAt(get(nfull))), ...allRows(false)]),
  ]);
}

/** pack(b, bp, K, N): B [K, N] (row-major) into panels of 8 columns. */
function packFn(): B {
  const [b, bp, K, N] = [0, 1, 2, 3];
  const L = new Locals(4);
  const [src, out, j, k, ldb, nfullBytes] = Array.from({ length: 6 }, () => L.i());
  const column = (second: B): B => [
    ...set(src, add(get(b), get(j))),
    ...set(k, i32c(0)),
    ...repeat(
      [...vstore(get(out), vload(get(src))), ...vstore(get(out), second, 16), ...set(out, add(get(out), i32c(32))), ...set(src, add(get(src), get(ldb)))],
      stepWhile(k, i32c(1), get(K)),
    ),
  ];
  return L.fn([
    ...set(ldb, [...get(N), ...i32c(2), SHL]),
    ...set(nfullBytes, [...get(N), ...i32c(-8), AND, ...i32c(2), SHL]),
    ...set(out, get(bp)),
    ...set(j, i32c(0)),
    ...when(get(nfullBytes), repeat(column(vload(get(src), 16)), stepWhile(j, i32c(32), get(nfullBytes)))),
    ...when([...get(N), ...i32c(4), AND], column(ZERO)),
  ]);
}

/** packT(x, bp, K, N): B = xᵀ, x [N, K] (row-major), into panels of 8 columns. */
function packTFn(): B {
  const [x, bp, K, N] = [0, 1, 2, 3];
  const L = new Locals(4);
  const [row, src, out, k, p, ldx, nfull] = Array.from({ length: 7 }, () => L.i());
  const off = Array.from({ length: 8 }, () => L.i());
  const f32load = (addr: B): B => [...addr, 0x2a, 0x02, 0x00];
  const f32store = (addr: B, v: B, offset: number): B => [...addr, ...v, 0x38, 0x02, ...uleb(offset)];
  const panelOf = (cols: number): B => [
    ...set(src, get(row)),
    ...set(k, i32c(0)),
    ...repeat(
      [
        ...off.slice(0, cols).flatMap((o, q) => f32store(get(out), f32load(add(get(src), get(o))), 4 * q)),
        ...(cols < 8 ? vstore(get(out), ZERO, 16) : []),
        ...set(out, add(get(out), i32c(32))),
        ...set(src, add(get(src), i32c(4))),
      ],
      stepWhile(k, i32c(1), get(K)),
    ),
  ];
  return L.fn([
    ...set(ldx, [...get(K), ...i32c(2), SHL]),
    ...off.flatMap((o, q) => set(o, [...get(ldx), ...i32c(q), MUL])),
    ...set(nfull, [...get(N), ...i32c(-8), AND]),
    ...set(out, get(bp)),
    ...set(row, get(x)),
    ...set(p, i32c(0)),
    ...when(get(nfull), repeat([...panelOf(8), ...set(row, add(get(row), [...get(ldx), ...i32c(3), SHL]))], stepWhile(p, i32c(8), get(nfull)))),
    ...when([...get(N), ...i32c(4), AND], panelOf(4)),
  ]);
}

/**
 * transpose(x, y, R, C): y [C, R] = xᵀ for x [R, C] row-major, R and C multiples of 4, in 4x4
 * blocks through shuffles. TF.js wasm's Transpose moves one element at a time: for a weight
 * gradient's xᵀ ([1024, 1536] at width 384) it took a third as long as the product itself.
 */
function transposeFn(): B {
  const [x, y, R, C] = [0, 1, 2, 3];
  const L = new Locals(4);
  const [i, src, dst, ldx, ldy, rowEnd] = Array.from({ length: 6 }, () => L.i());
  const r = [L.v(), L.v(), L.v(), L.v()];
  const t = [L.v(), L.v(), L.v(), L.v()];
  /** i8x16.shuffle of two f32x4 by float lanes (0-3 from a, 4-7 from b). */
  const shuf = (a: B, b: B, lanes: number[]): B => [...a, ...b, ...simd(0x0d), ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])];
  const [lo, hi, even, odd] = [
    [0, 4, 1, 5],
    [2, 6, 3, 7],
    [0, 1, 4, 5],
    [2, 3, 6, 7],
  ];
  const block: B = [
    ...r.flatMap((v, q) => set(v, vload(q ? add(get(src), [...get(ldx), ...i32c(q), MUL]) : get(src)))),
    ...set(t[0]!, shuf(get(r[0]!), get(r[1]!), lo)), // a0 b0 a1 b1
    ...set(t[1]!, shuf(get(r[0]!), get(r[1]!), hi)), // a2 b2 a3 b3
    ...set(t[2]!, shuf(get(r[2]!), get(r[3]!), lo)), // c0 d0 c1 d1
    ...set(t[3]!, shuf(get(r[2]!), get(r[3]!), hi)), // c2 d2 c3 d3
    ...vstore(get(dst), shuf(get(t[0]!), get(t[2]!), even)),
    ...vstore(add(get(dst), get(ldy)), shuf(get(t[0]!), get(t[2]!), odd)),
    ...vstore(add(get(dst), [...get(ldy), ...i32c(2), MUL]), shuf(get(t[1]!), get(t[3]!), even)),
    ...vstore(add(get(dst), [...get(ldy), ...i32c(3), MUL]), shuf(get(t[1]!), get(t[3]!), odd)),
  ];
  return L.fn([
    ...set(ldx, [...get(C), ...i32c(2), SHL]),
    ...set(ldy, [...get(R), ...i32c(2), SHL]),
    ...set(i, i32c(0)),
    ...repeat(
      [
        // rows i..i+3 of x, four columns at a time, into columns i..i+3 of y
        ...set(src, add(get(x), [...get(i), ...get(ldx), MUL])),
        ...set(dst, add(get(y), [...get(i), ...i32c(2), SHL])),
        ...set(rowEnd, add(get(src), get(ldx))),
        ...repeat(
          [...block, ...set(src, add(get(src), i32c(16))), ...set(dst, add(get(dst), [...get(ldy), ...i32c(2), SHL]))],
          [...get(src), ...get(rowEnd), LTU],
        ),
      ],
      stepWhile(i, i32c(4), get(R)),
    ),
  ]);
}

export function gemmModuleBytes(shared = false): Uint8Array<ArrayBuffer> {
  return wasmModule(
    [
      { name: 'gemm', params: 9, code: gemmFn() },
      { name: 'pack', params: 4, code: packFn() },
      { name: 'packT', params: 4, code: packTFn() },
      { name: 'transpose', params: 4, code: transposeFn() },
    ],
    shared,
  );
}

export interface Gemm {
  /**
   * C[M, N] = A·B, all addresses in bytes; A(r, k) at a + r·rs + k·ks; bp from pack/packT;
   * N % 4 == 0, K > 0; G columns of B at a time (a multiple of 8; by default ~256 KB of packed B).
   */
  gemm(a: number, rs: number, ks: number, bp: number, c: number, M: number, K: number, N: number, G?: number): void;
  /** Pack B [K, N] at b into bp (packedFloats(K, N) floats). */
  pack(b: number, bp: number, K: number, N: number): void;
  /** Pack B = xᵀ from x [N, K] at x into bp. */
  packT(x: number, bp: number, K: number, N: number): void;
  /** y [C, R] = xᵀ for x [R, C] (R, C > 0 and multiples of 4). */
  transpose(x: number, y: number, R: number, C: number): void;
}

/** Columns of B per group: about GROUP_BYTES of packed B, at least one panel. */
const groupColumns = (K: number): number => Math.max(8, Math.floor(GROUP_BYTES / (K * 32)) * 8);
const GROUP_BYTES = 256 * 1024;

/** Floats a packed B [K, N] takes. */
export const packedFloats = (K: number, N: number): number => K * Math.ceil(N / 8) * 8;

const compiled = new Map<boolean, WebAssembly.Module | null>();
let enabled = typeof process === 'undefined' || process.env?.CHARMER_FMA !== '0';
/** Turn the GEMM off or on again (tests run both paths; `CHARMER_FMA=0` starts with it off). */
export function setFmaGemm(on: boolean): void {
  enabled = on;
}
const byMemory = new WeakMap<WebAssembly.Memory, Gemm | null>();

/**
 * The compiled module (once per kind of memory import), or null where relaxed SIMD cannot be had
 * (then XNNPACK does the products) or `CHARMER_FMA=0` / setFmaGemm(false) turned it off.
 */
export function gemmModule(shared = false): WebAssembly.Module | null {
  if (!enabled) return null;
  if (!compiled.has(shared)) compiled.set(shared, compile(gemmModuleBytes(shared)));
  return compiled.get(shared)!;
}

function compile(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module | null {
  if (!WebAssembly.validate(bytes) && typeof process !== 'undefined' && process.versions?.node) {
    try {
      // V8 11.3 (Node 20) ships relaxed SIMD behind a flag; it applies to modules compiled after it.
      createRequire(import.meta.url)('node:v8').setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      return null;
    }
  }
  try {
    return WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    return null;
  }
}

/** The GEMM bound to a wasm backend's memory, or null (no relaxed SIMD, shared memory, CHARMER_FMA=0). */
export function gemmFor(memory: WebAssembly.Memory | undefined): Gemm | null {
  if (!memory || !enabled) return null;
  const have = byMemory.get(memory);
  if (have !== undefined) return have;
  const module = gemmModule();
  let g: Gemm | null = null;
  if (module) {
    try {
      const ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Required<Gemm>;
      g = { ...ex, gemm: (a, rs, ks, bp, c, M, K, N, G = groupColumns(K)) => ex.gemm(a, rs, ks, bp, c, M, K, N, G) };
    } catch {
      g = null; // a shared memory (the threaded wasm build) does not match the import
    }
  }
  byMemory.set(memory, g);
  return g;
}
