/**
 * A few-line WebAssembly emitter: the binary encodings (LEB128 integers, names, vectors,
 * sections), the handful of instructions the kernels use, and the assembly of a module that
 * imports `env.memory` and exports its functions. No compiler toolchain is needed: the gate
 * kernels (./simd.ts) and the matrix product (./gemm.ts) write their function bodies with these
 * helpers and hand them to wasmModule.
 *
 * Everything here works on `B`, a plain array of bytes; an expression is the bytes that leave
 * its value on the stack, so `add(get(0), f4(1))` is the code of `local0 + 1` in four lanes.
 */

export type B = number[];

/** Unsigned LEB128. */
export function uleb(n: number): B {
  const out: B = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** Signed LEB128. */
export function sleb(n: number): B {
  const out: B = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export const str = (s: string): B => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
export const vec = (items: B[]): B => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: B): B => [id, ...uleb(body.length), ...body];

// Instructions
export const get = (i: number): B => [0x20, ...uleb(i)];
export const set = (i: number, v: B): B => [...v, 0x21, ...uleb(i)];
export const tee = (i: number, v: B): B => [...v, 0x22, ...uleb(i)];
export const simd = (op: number): B => [0xfd, ...uleb(op)];
export const i32c = (v: number): B => [0x41, ...sleb(v)];
export const I32_ADD = 0x6a;

/** if (cond) { body } */
export const when = (cond: B, body: B): B => [...cond, 0x04, 0x40, ...body, 0x0b];
/** do { body } while (cond) */
export const repeat = (body: B, cond: B): B => [0x03, 0x40, ...body, ...cond, 0x0d, 0x00, 0x0b];
/** local += v; and then (local <u limit) as the loop condition */
export const stepWhile = (local: number, v: B, limit: B): B => [...tee(local, [...get(local), ...v, I32_ADD]), ...limit, 0x49];
/** The i32 sum of its operands. */
export const add = (...xs: B[]): B => xs.reduce((s, x) => [...s, ...x, I32_ADD]);

/** A function's locals after its parameters: every i32 first, then the v128s (so i() may not follow v()). */
export class Locals {
  private i32s = 0;
  private v128s = 0;
  constructor(
    private readonly params: number,
    private readonly owner = 'emitter',
  ) {}
  i(): number {
    if (this.v128s) throw new Error(`${this.owner}: i32 locals come before v128 locals`);
    return this.params + this.i32s++;
  }
  v(): number {
    return this.params + this.i32s + this.v128s++;
  }
  /** The function's code entry: its local declarations and body. */
  fn(body: B): B {
    const fn = [
      ...vec([
        [...uleb(this.i32s), 0x7f],
        [...uleb(this.v128s), 0x7b],
      ]),
      ...body,
      0x0b,
    ];
    return [...uleb(fn.length), ...fn];
  }
}

/** v128.const with v in all four float lanes. */
export function f4(v: number): B {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < 4; i++) dv.setFloat32(i * 4, v, true);
  return [...simd(0x0c), ...b];
}

/** v128.const with v in all four i32 lanes. */
export function i4(v: number): B {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < 4; i++) dv.setInt32(i * 4, v, true);
  return [...simd(0x0c), ...b];
}

/**
 * The import of env.memory: a plain memory (the wasm backend's heap), or a shared one (limits flag
 * 3, up to 4 GiB), which a module must declare to be instantiated on a memory that several threads
 * use (./stream.ts).
 */
export const memoryImport = (shared = false): B => [...str('env'), ...str('memory'), 0x02, ...(shared ? [0x03, 0x00, ...uleb(65536)] : [0x00, 0x00])];

export interface WasmFunction {
  /** The export name. */
  name: string;
  /** Number of parameters, i32 unless listed in `f32Params`. */
  params: number;
  /** Indices of the parameters that are f32. */
  f32Params?: readonly number[];
  /** Returns one f32 (otherwise nothing). */
  returnsF32?: boolean;
  /** The code entry: its size, local declarations and body (what a function builder's `fn`/`code` returns). */
  code: B;
}

/** A module that imports env.memory (`shared`: see memoryImport) and exports these functions. */
export function wasmModule(fns: WasmFunction[], shared = false): Uint8Array<ArrayBuffer> {
  const types = fns.map((d) => [
    0x60,
    ...vec(Array.from({ length: d.params }, (_, i) => [d.f32Params?.includes(i) ? 0x7d : 0x7f])),
    ...(d.returnsF32 ? [0x01, 0x7d] : [0x00]),
  ]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport(shared)])),
    ...section(3, vec(fns.map((_d, i) => uleb(i)))),
    ...section(7, vec(fns.map((d, i) => [...str(d.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map((d) => d.code))),
  ]);
}
