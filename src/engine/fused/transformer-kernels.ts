/**
 * The Transformer's fused kernels registered with TF.js for the cpu and wasm backends: causal
 * multi-head attention (one kernel per layer forward, one backward, for all rows and heads),
 * LayerNorm and GELU (forward and backward each). On wasm they run on the backend's heap in place:
 * the attention through the FMA GEMM (./transformer-wasm.ts), GELU as SIMD (./transformer-simd.ts),
 * the rest as ./transformer-math.ts's loops on heap views; on cpu the loops on its arrays.
 * ./transformer-ops.ts wraps them as differentiable ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { inputsOf } from './kernels.ts';
import { heapViews, wasmMemoryOf, type HeapBackend } from './heap.ts';
import * as M from './transformer-math.ts';
import { transformerSimdFor } from './transformer-simd.ts';
import { attentionBwdGemm, attentionFwdGemm, attentionGemm, type HeapCtx } from './transformer-wasm.ts';

type F = Float32Array;
type Attrs = { nh?: number; eps?: number };

interface Ctx {
  /** The heap address of a view (wasm), for the GEMM and SIMD paths. */
  addr(a: F): number;
  /** Wasm only: the heap for the GEMM path (null on cpu). */
  heap: HeapCtx | null;
  memory: WebAssembly.Memory | undefined;
}

interface Def {
  name: string;
  outShapes(ins: number[][], a: Attrs): number[][];
  run(ins: F[], outs: F[], a: Attrs, c: Ctx): void;
}

const dims = (qkv: number[], a: Attrs): M.AttnDims => ({ B: qkv[0]!, T: qkv[1]!, C: qkv[2]! / 3, nh: a.nh! });

const defs: Def[] = [
  {
    // qkv [B, T, 3C] -> out [B, T, C], P [B, nh, T, T4]
    name: 'CharmerAttention',
    outShapes: ([qkv], a) => {
      const { B, T, C, nh } = dims(qkv!, a);
      return [
        [B, T, C],
        [B, nh, T, M.padT(T)],
      ];
    },
    run: ([qkv], [out, P], a, c) => {
      const dm = a as unknown as M.AttnDims;
      const g = c.heap && attentionGemm(c.memory, dm);
      if (g) attentionFwdGemm(g, c.heap!, c.addr(qkv!), c.addr(out!), c.addr(P!), dm);
      else M.attentionFwd(qkv!, out!, P!, dm);
    },
  },
  {
    // dy [B, T, C], qkv, P -> dqkv [B, T, 3C]
    name: 'CharmerAttentionGrad',
    outShapes: ([, qkv]) => [qkv!],
    run: ([dy, qkv, P], [dqkv], a, c) => {
      const dm = a as unknown as M.AttnDims;
      const g = c.heap && attentionGemm(c.memory, dm);
      if (g) attentionBwdGemm(g, c.heap!, c.addr(dy!), c.addr(qkv!), c.addr(P!), c.addr(dqkv!), dm);
      else M.attentionBwd(dy!, qkv!, P!, dqkv!, dm);
    },
  },
  {
    // x [N, C], gamma [C], beta [C] -> y [N, C], mean [N], rstd [N]
    name: 'CharmerLayerNorm',
    outShapes: ([x]) => [x!, [x![0]!], [x![0]!]],
    run: ([x, g, b], [y, mean, rstd], a, c) => {
      const C = g!.length;
      const k = c.heap && C % 4 === 0 ? transformerSimdFor(c.memory) : null;
      if (!k) return M.layerNormFwd(x!, g!, b!, y!, mean!, rstd!, a.eps!);
      const [px, pg, pb, py, pm, pr] = [x, g, b, y, mean, rstd].map((v) => c.addr(v!)) as [number, number, number, number, number, number];
      for (let r = 0; r < mean!.length; r++) k.lnFwd(px + 4 * r * C, pg, pb, py + 4 * r * C, pm + 4 * r, pr + 4 * r, C, a.eps!);
    },
  },
  {
    // dy, x, gamma, mean, rstd -> dx, dgamma, dbeta
    name: 'CharmerLayerNormGrad',
    outShapes: ([dy, , g]) => [dy!, g!, g!],
    run: ([dy, x, g, mean, rstd], [dx, dg, db], _a, c) => {
      const C = g!.length;
      const k = c.heap && C % 4 === 0 ? transformerSimdFor(c.memory) : null;
      if (!k) return M.layerNormBwd(dy!, x!, g!, mean!, rstd!, dx!, dg!, db!);
      dg!.fill(0);
      db!.fill(0);
      const [pdy, px, pg, pdx, pdg, pdb, pm, pr] = [dy, x, g, dx, dg, db, mean, rstd].map((v) => c.addr(v!)) as [
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      for (let r = 0; r < mean!.length; r++) k.lnBwd(pdy + 4 * r * C, px + 4 * r * C, pg, pdx + 4 * r * C, pdg, pdb, pm + 4 * r, pr + 4 * r, C);
    },
  },
  {
    // x -> y = GELU(x), d = GELU'(x) (kept for the backward instead of x)
    name: 'CharmerGelu',
    outShapes: ([x]) => [x!, x!],
    run: ([x], [y, d], _a, c) => {
      const k = c.heap && x!.length % 4 === 0 && x!.length > 0 ? transformerSimdFor(c.memory) : null;
      if (k) k.geluFwd(c.addr(x!), c.addr(y!), c.addr(d!), x!.length);
      else M.geluFwd(x!, y!, d!);
    },
  },
  {
    // dy, d -> dx = dy·d
    name: 'CharmerGeluGrad',
    outShapes: ([dy]) => [dy!],
    run: ([dy, d], [dx], _a, c) => {
      const k = c.heap && d!.length % 4 === 0 && d!.length > 0 ? transformerSimdFor(c.memory) : null;
      if (k) k.geluBwd(c.addr(dy!), c.addr(d!), c.addr(dx!), d!.length);
      else M.geluBwd(dy!, d!, dx!);
    },
  },
];

interface WasmBackend {
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  wasm?: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
}
interface CpuBackend {
  data: { get(id: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: string, values?: Float32Array): tf.TensorInfo;
}

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
const registered = new Set<string>();

/** Attention's attrs carry its dimensions (the kernels see flat arrays). */
function withDims(name: string, ins: tf.TensorInfo[], attrs: Attrs): Attrs {
  if (name === 'CharmerAttention') return { ...attrs, ...dims(ins[0]!.shape, attrs) };
  if (name === 'CharmerAttentionGrad') return { ...attrs, ...dims(ins[1]!.shape, attrs) };
  return attrs;
}

function wasmKernel(def: Def): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as WasmBackend;
    const ins = inputsOf(inputs);
    const a = withDims(def.name, ins, attrs as Attrs);
    const outs = def
      .outShapes(
        ins.map((t) => t.shape),
        a,
      )
      .map((s) => b.makeOutput(s, 'float32'));
    const memory = wasmMemoryOf(b);
    const scratch: tf.TensorInfo[] = [];
    const byAddr = new Map<number, tf.TensorInfo>();
    const addrOf = (t: tf.TensorInfo): number => {
      const addr = b.dataIdMap.get(t.dataId)!.memoryOffset;
      byAddr.set(addr, t);
      return addr;
    };
    [...ins, ...outs].forEach(addrOf);
    const transpose = tf.getKernel('Transpose', 'wasm');
    const heap: HeapCtx | null = memory
      ? {
          memory,
          scratch: (n) => {
            const t = b.makeOutput([Math.max(1, n)], 'float32');
            scratch.push(t);
            return addrOf(t);
          },
          // The backend's own Transpose (C++), on the tensor at addr viewed with `shape`.
          permute: transpose
            ? (addr, shape, perm) => {
                const t = byAddr.get(addr)!;
                const r = transpose.kernelFunc({
                  inputs: { x: { dataId: t.dataId, shape, dtype: 'float32' } },
                  backend,
                  attrs: { perm } as never,
                }) as tf.TensorInfo;
                scratch.push(r);
                return addrOf(r);
              }
            : null,
        }
      : null;
    // Addresses are read before the GEMM path allocates its scratch: a heap growth detaches the
    // views (their byteOffset reads 0 then) but moves no tensor; the loop paths allocate nothing.
    const all = heapViews(b as unknown as HeapBackend, [...ins, ...outs]) as Float32Array[];
    const addrs = new Map(all.map((v) => [v, v.byteOffset]));
    try {
      def.run(all.slice(0, ins.length), all.slice(ins.length), a, { addr: (v) => addrs.get(v)!, heap, memory });
    } finally {
      for (const t of scratch) b.disposeData(t.dataId, true);
    }
    return outs;
  };
}

function cpuKernel(def: Def): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as CpuBackend;
    const ins = inputsOf(inputs);
    const a = withDims(def.name, ins, attrs as Attrs);
    const outs = def
      .outShapes(
        ins.map((t) => t.shape),
        a,
      )
      .map((s) => ({ s, v: new Float32Array(size(s)) }));
    def.run(
      ins.map((t) => b.data.get(t.dataId).values as F),
      outs.map((o) => o.v),
      a,
      { addr: () => 0, heap: null, memory: undefined },
    );
    return outs.map((o) => b.makeTensorInfo(o.s, 'float32', o.v));
  };
}

/** Register the kernels for cpu or wasm; false for any other backend. */
export function registerTransformerKernels(backendName: string): boolean {
  if (backendName !== 'wasm' && backendName !== 'cpu') return false;
  if (registered.has(backendName)) return true;
  registered.add(backendName);
  for (const def of defs) {
    if (tf.getKernel(def.name, backendName)) continue;
    tf.registerKernel({ kernelName: def.name, backendName, kernelFunc: backendName === 'wasm' ? wasmKernel(def) : cpuKernel(def) });
  }
  return true;
}
