/**
 * The fused gate kernels (and the optimizer update, for src/engine/optimizer.ts) registered with
 * TF.js for the cpu and wasm backends. Each is a JS loop (./math.ts) over the backend's own memory:
 * the cpu backend's `values` arrays, or views of the WebAssembly heap, so nothing is copied. On wasm
 * the per-sequence kernels run as the SIMD module of ./simd.ts instead when H is a multiple of 4
 * (several times faster than the JS loops: docs/PERFORMANCE.md#figures-behind-the-engines-design-notes). One kernel call replaces the
 * 10-20 elementwise ops of a stock time step.
 *
 * Some kernels write into buffers they are given (the per-sequence `gates`, `out`, `dz` buffers,
 * allocated uninitialised by CharmerAlloc and never seen outside ./sequence.ts until complete):
 * that is what lets a step fill row t of a [B*T, ...] buffer without a copy or a final stack.
 * Those per-sequence kernels are in ./sequence-kernels.ts; what a kernel definition is, in ./kernel-def.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as M from './math.ts';
import { heapViews, wasmMemoryOf, type HeapBackend } from './heap.ts';
import { simdKernelsFor } from './simd.ts';
import { at, type Attrs, type Def, type F } from './kernel-def.ts';
import { sequenceDefs } from './sequence-kernels.ts';

/** Scratch for the single-step kernels (sampling: nothing is kept for a backward pass). */
const scratch = new Map<number, Float32Array>();
function scratchOf(n: number, k: number): Float32Array {
  const key = n * 4 + k;
  let a = scratch.get(key);
  if (!a) scratch.set(key, (a = new Float32Array(n)));
  return a;
}

const defs: Def[] = [
  {
    // Rows of a table: table [V, D], ids int32 [N] -> [N, D]. (The wasm backend's GatherV2 takes
    // 18 ms for [65, 512] x 1,250 ids here; this copy takes well under 1 ms.)
    name: 'CharmerGatherRows',
    outShapes: (ins) => [[ins[1]![0]!, ins[0]![1]!]],
    run: ([table, ids], [out]) => {
      const D = out!.length / ids!.length;
      const V = table!.length / D;
      const idx = ids as unknown as Int32Array;
      for (let r = 0; r < idx.length; r++) {
        const i = idx[r]!;
        if (i >= 0 && i < V) out!.set(table!.subarray(i * D, i * D + D), r * D);
        else out!.fill(0, r * D, r * D + D);
      }
    },
  },
  {
    // One LSTM step for sampling: xp, hr, bias, cPrev -> h, c
    name: 'CharmerLstmStep',
    outShapes: (ins) => [ins[3]!, ins[3]!],
    run: ([xp, hr, bias, cPrev], [h, c], a) => {
      const H = a.H!;
      const n = cPrev!.length;
      M.lstmFwd(n / H, 1, H, 0, xp!, hr!, bias!, cPrev!, scratchOf(4 * n, 0), scratchOf(n, 1), scratchOf(n, 2), scratchOf(n, 3), h!, c!);
    },
    // At 2x512 the JS loops were 45 us of a ~560 us sampling step (one stream). (The GRU step's
    // halves pass z and r through JS scratch, so they stay JS loops: GRU 2x512 samples faster.)
    simdScratch: (ins) => [7 * size(ins[3]!)], // gates (4n), cs, tcs, out: written, not kept
    simd: (k, [xp, hr, bias, cPrev], [h, c, scratch], a) => {
      const H = a.H!;
      const n = cPrev!.length;
      const [gates, cs, tcs, out] = [0, 4 * n, 5 * n, 6 * n].map((o) => at(scratch!, o)) as [number, number, number, number];
      for (let b = 0; b < n / H; b++) {
        k.lstmFwd(
          at(xp!, b * 4 * H),
          at(hr!, b * 4 * H),
          at(bias!, 0),
          at(cPrev!, b * H),
          gates + 16 * b * H,
          cs + 4 * b * H,
          tcs + 4 * b * H,
          out + 4 * b * H,
          at(h!, b * H),
          at(c!, b * H),
          H,
        );
      }
    },
  },
  {
    // GRU sampling step, first half: xp, hzr, bias, hPrev -> rh (z, r kept in scratch for the second half)
    name: 'CharmerGruStepA',
    outShapes: (ins) => [ins[3]!],
    run: ([xp, hzr, bias, hPrev], [rh], a) => {
      const H = a.H!;
      const n = hPrev!.length;
      M.gruFwdA(n / H, 1, H, 0, xp!, hzr!, bias!, hPrev!, scratchOf(3 * n, 0), scratchOf(n, 1), rh!);
    },
  },
  {
    // GRU sampling step, second half: xp, hhr, bias, hPrev -> h
    name: 'CharmerGruStepB',
    outShapes: (ins) => [ins[3]!],
    run: ([xp, hhr, bias, hPrev], [h], a) => {
      const H = a.H!;
      const n = hPrev!.length;
      M.gruFwdB(n / H, 1, H, 0, xp!, hhr!, bias!, hPrev!, scratchOf(3 * n, 0), scratchOf(n, 2), h!);
    },
  },
  {
    // One vanilla RNN step for sampling: xp, hr, bias -> h
    name: 'CharmerRnnStep',
    outShapes: (ins) => [[ins[1]![0]!, ins[1]![1]!]],
    run: ([xp, hr, bias], [h], a) => {
      const H = a.H!;
      M.rnnFwd(hr!.length / H, 1, H, 0, xp!, hr!, bias!, scratchOf(hr!.length, 0), h!);
    },
  },
  {
    // Softmax cross-entropy per row: logits [N, V], y int32 [N] -> nll [N], p [N, V] (softmax,
    // saved for the gradient p - onehot(y)). A y outside [0, V) gives nll 0 and a zero row of p,
    // as the stock -Σ onehot(y)·logSoftmax does (its gradient is then 0 too). One pass instead of
    // the ~12 ops of the stock loss and its gradient (3.5 ms of a 2x128 shard step on wasm).
    name: 'CharmerSoftmaxXent',
    outShapes: (ins) => [[ins[0]![0]!], ins[0]!],
    run: ([z, yv], [nll, p]) => {
      const N = nll!.length;
      const V = z!.length / N;
      const y = yv as unknown as Int32Array;
      for (let r = 0; r < N; r++) {
        const o = r * V;
        const t = y[r]!;
        if (t < 0 || t >= V) {
          nll![r] = 0;
          p!.fill(0, o, o + V);
          continue;
        }
        let max = -Infinity;
        for (let k = 0; k < V; k++) max = Math.max(max, z![o + k]!);
        let sum = 0;
        for (let k = 0; k < V; k++) sum += p![o + k] = M.exp(z![o + k]! - max);
        const inv = 1 / sum;
        for (let k = 0; k < V; k++) p![o + k]! *= inv;
        nll![r] = Math.log(sum) - (z![o + t]! - max);
      }
    },
  },
  {
    // Column sums: x [N, M] -> [M] (a bias gradient). On wasm a ones·x product cost 4.9 ms for
    // [1250, 512] (XNNPACK packs all of x for one row: 11% of a 2x128 shard step) and Sum over
    // axis 0 transposes first; this is one pass over x.
    name: 'CharmerColumnSum',
    outShapes: (ins) => [[ins[0]![1]!]],
    run: ([x], [out]) => {
      const Mc = out!.length;
      out!.fill(0);
      for (let r = 0; r < x!.length; r += Mc) for (let j = 0; j < Mc; j++) out![j]! += x![r + j]!;
    },
    simd: (k, [x], [out]) => {
      const Mc = out!.length;
      out!.fill(0);
      for (let r = 0; r < x!.length; r += Mc) k.addInto(out!.byteOffset, x!.byteOffset + 4 * r, Mc);
    },
  },
  {
    // Σ g² over every input -> [1] (the global gradient norm's square, one pass instead of 3 ops a variable)
    name: 'CharmerSumSquares',
    outShapes: () => [[1]],
    run: (ins, [out]) => {
      let s = 0;
      for (const g of ins) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
      out![0] = s;
    },
    simd: (k, ins, [out]) => {
      // float32 lanes over chunks of 64K floats, the chunks summed in float64
      let s = 0;
      for (const g of ins) {
        const n4 = g.length - (g.length % 4);
        for (let i = 0; i < n4; i += 65536) s += k.sumSquares(g.byteOffset + 4 * i, Math.min(65536, n4 - i));
        for (let i = n4; i < g.length; i++) s += g[i]! * g[i]!;
      }
      out![0] = s;
    },
  },
  {
    // Adam for one variable: w, m, v, g, scale [1], consts [lr, b1, 1-b1, b2, 1-b2, eps] -> w', m', v'
    // (lr already carries the bias corrections). One pass instead of the op-by-op update's ~13
    // elementwise ops and their tensors.
    name: 'CharmerAdam',
    outShapes: (ins) => [ins[0]!, ins[0]!, ins[0]!],
    run: (ins, outs) => M.adamJs(ins, outs, 0),
    simd: (k, ins, outs) => {
      const [w, m, v, g, scale, consts] = ins as [F, F, F, F, F, F];
      const [w2, m2, v2] = outs as [F, F, F];
      const n4 = w.length - (w.length % 4);
      if (n4)
        k.adam(w.byteOffset, m.byteOffset, v.byteOffset, g.byteOffset, scale.byteOffset, consts.byteOffset, w2.byteOffset, m2.byteOffset, v2.byteOffset, n4);
      M.adamJs(ins, outs, n4);
    },
  },
  {
    // RMSProp for one variable: w, ms, g, scale [1], consts [lr, decay, 1-decay, eps] -> w', ms'
    name: 'CharmerRmsProp',
    outShapes: (ins) => [ins[0]!, ins[0]!],
    run: (ins, outs) => M.rmspropJs(ins, outs, 0),
    simd: (k, ins, outs) => {
      const [w, ms, g, scale, consts] = ins as [F, F, F, F, F];
      const [w2, ms2] = outs as [F, F];
      const n4 = w.length - (w.length % 4);
      if (n4) k.rmsprop(w.byteOffset, ms.byteOffset, g.byteOffset, scale.byteOffset, consts.byteOffset, w2.byteOffset, ms2.byteOffset, n4);
      M.rmspropJs(ins, outs, n4);
    },
  },
  {
    name: 'CharmerAlloc',
    outShapes: (_ins, a) => [(a as unknown as { shape: number[] }).shape],
    run: () => {},
  },
  ...sequenceDefs,
];

interface WasmBackend extends HeapBackend {
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}
/** The SIMD kernels on a wasm backend's heap (null where they cannot load). */
export const simdOf = (b: Pick<WasmBackend, 'wasm'>) => simdKernelsFor(wasmMemoryOf(b));
interface CpuBackend {
  data: { get(id: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: string, values?: Float32Array): tf.TensorInfo;
}

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

/** A kernel's inputs in runFused's order (named i0, i1, ...). */
export function inputsOf(inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] {
  const list: tf.TensorInfo[] = [];
  for (let i = 0; inputs[`i${i}`]; i++) list.push(inputs[`i${i}`]!);
  return list;
}

const registered = new Set<string>();

/** Register the kernels for a backend we have them for; returns whether the backend is supported. */
export function registerFusedKernels(backendName: string): boolean {
  if (backendName !== 'wasm' && backendName !== 'cpu') return false;
  if (registered.has(backendName)) return true;
  registered.add(backendName);
  for (const def of defs) {
    if (tf.getKernel(def.name, backendName)) continue;
    tf.registerKernel({
      kernelName: def.name,
      backendName,
      kernelFunc:
        backendName === 'wasm'
          ? ({ inputs, backend, attrs }) => {
              const b = backend as unknown as WasmBackend;
              const ins = inputsOf(inputs);
              const outs = def
                .outShapes(
                  ins.map((t) => t.shape),
                  attrs as Attrs,
                )
                .map((s) => b.makeOutput(s, 'float32'));
              const k = def.simd && ((attrs as Attrs).H ?? 4) % 4 === 0 ? simdOf(b) : null;
              const scratch =
                k && def.simdScratch
                  ? def
                      .simdScratch(
                        ins.map((t) => t.shape),
                        attrs as Attrs,
                      )
                      .map((n) => b.makeOutput([n], 'float32'))
                  : [];
              // Views only after every allocation: a heap growth detaches earlier views.
              const views = heapViews(b, [...ins, ...outs, ...scratch]) as F[];
              const inViews = views.slice(0, ins.length);
              const outViews = views.slice(ins.length);
              if (k) def.simd!(k, inViews, outViews, attrs as Attrs);
              else def.run(inViews, outViews, attrs as Attrs);
              for (const t of scratch) b.disposeData(t.dataId, true);
              return outs;
            }
          : ({ inputs, backend, attrs }) => {
              const b = backend as unknown as CpuBackend;
              const ins = inputsOf(inputs);
              const outArrays = def
                .outShapes(
                  ins.map((t) => t.shape),
                  attrs as Attrs,
                )
                .map((s) => ({ s, a: new Float32Array(size(s)) }));
              def.run(
                ins.map((t) => b.data.get(t.dataId).values as F),
                outArrays.map((o) => o.a),
                attrs as Attrs,
              );
              return outArrays.map((o) => b.makeTensorInfo(o.s, 'float32', o.a));
            },
    });
  }
  return true;
}

/** Run one of the kernels above: inputs by position, always an array of outputs. */
export function runFused(name: string, inputs: tf.Tensor[], attrs: Record<string, unknown>): tf.Tensor[] {
  const named: tf.NamedTensorMap = {};
  inputs.forEach((t, i) => (named[`i${i}`] = t));
  const r = tf.engine().runKernel(name, named, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  return Array.isArray(r) ? r : [r];
}

/** An uninitialised float32 tensor (every element is written before it is read). */
export function alloc(shape: number[]): tf.Tensor {
  return runFused('CharmerAlloc', [], { shape })[0]!;
}
