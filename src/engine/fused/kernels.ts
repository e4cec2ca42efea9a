/**
 * The fused gate kernels registered with TF.js for the cpu and wasm backends. Each is a JS loop
 * (./math.ts) over the backend's own memory: the cpu backend's `values` arrays, or views of the
 * WebAssembly heap (the technique of backend.ts's UnsortedSegmentSum), so nothing is compiled and
 * nothing is copied. One kernel call replaces the 10-20 elementwise ops of a stock time step.
 *
 * Some kernels write into buffers they are given (the per-sequence `gates`, `out`, `dz` buffers,
 * allocated uninitialised by CharmerAlloc and never seen outside ./sequence.ts until complete):
 * that is what lets a step fill row t of a [B*T, ...] buffer without a copy or a final stack.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as M from './math.ts';

type F = Float32Array;
type Attrs = Record<string, number>;

interface Def {
  name: string;
  outShapes(ins: number[][], a: Attrs): number[][];
  run(ins: F[], outs: F[], a: Attrs): void;
}

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
    name: 'CharmerAlloc',
    outShapes: (_ins, a) => [(a as unknown as { shape: number[] }).shape],
    run: () => {},
  },
  {
    // xp, hr, bias, cPrev, gates, cs, tcs, out -> h, c
    name: 'CharmerLstmFwd',
    outShapes: (ins) => [ins[3]!, ins[3]!],
    run: ([xp, hr, bias, cPrev, gates, cs, tcs, out], [h, c], a) => {
      const H = a.H!;
      M.lstmFwd(cPrev!.length / H, a.T!, H, a.t!, xp!, hr!, bias!, cPrev!, gates!, cs!, tcs!, out!, h!, c!);
    },
  },
  {
    // dy, dhr, dc, gates, cs, tcs, c0, dz -> dzt, dcPrev
    name: 'CharmerLstmBwd',
    outShapes: (ins) => [[ins[1]![0]!, 4 * ins[1]![1]!], ins[1]!],
    run: ([dy, dhr, dc, gates, cs, tcs, c0, dz], [dzt, dcPrev], a) => {
      const H = a.H!;
      M.lstmBwd(dhr!.length / H, a.T!, a.Tv!, H, a.t!, dy!, dhr!, dc!, gates!, cs!, tcs!, c0!, dz!, dzt!, dcPrev!);
    },
  },
  {
    // xp, hzr, bias, hPrev, gates, rhs -> rh
    name: 'CharmerGruFwdA',
    outShapes: (ins) => [ins[3]!],
    run: ([xp, hzr, bias, hPrev, gates, rhs], [rh], a) => {
      const H = a.H!;
      M.gruFwdA(hPrev!.length / H, a.T!, H, a.t!, xp!, hzr!, bias!, hPrev!, gates!, rhs!, rh!);
    },
  },
  {
    // xp, hhr, bias, hPrev, gates, out -> h
    name: 'CharmerGruFwdB',
    outShapes: (ins) => [ins[3]!],
    run: ([xp, hhr, bias, hPrev, gates, out], [h], a) => {
      const H = a.H!;
      M.gruFwdB(hPrev!.length / H, a.T!, H, a.t!, xp!, hhr!, bias!, hPrev!, gates!, out!, h!);
    },
  },
  {
    // dy, carryD, carryM, gates, out, h0, dz -> dzh, dhTot
    name: 'CharmerGruBwdA',
    outShapes: (ins) => [ins[1]!, ins[1]!],
    run: ([dy, carryD, carryM, gates, out, h0, dz], [dzh, dhTot], a) => {
      const H = a.H!;
      M.gruBwdA(carryD!.length / H, a.T!, H, a.t!, dy!, carryD!, carryM!, gates!, out!, h0!, dz!, dzh!, dhTot!);
    },
  },
  {
    // drh, dhTot, gates, out, h0, dz -> dzzr, carryD
    name: 'CharmerGruBwdB',
    outShapes: (ins) => [[ins[0]![0]!, 2 * ins[0]![1]!], ins[0]!],
    run: ([drh, dhTot, gates, out, h0, dz], [dzzr, carryD], a) => {
      const H = a.H!;
      M.gruBwdB(drh!.length / H, a.T!, H, a.t!, drh!, dhTot!, gates!, out!, h0!, dz!, dzzr!, carryD!);
    },
  },
  {
    // xp, hr, bias, out -> h
    name: 'CharmerRnnFwd',
    outShapes: (ins) => [ins[1]!],
    run: ([xp, hr, bias, out], [h], a) => {
      const H = a.H!;
      M.rnnFwd(hr!.length / H, a.T!, H, a.t!, xp!, hr!, bias!, out!, h!);
    },
  },
  {
    // dy, dhr, out, dz -> dzt
    name: 'CharmerRnnBwd',
    outShapes: (ins) => [ins[1]!],
    run: ([dy, dhr, out, dz], [dzt], a) => {
      const H = a.H!;
      M.rnnBwd(dhr!.length / H, a.T!, H, a.t!, dy!, dhr!, out!, dz!, dzt!);
    },
  },
];

interface WasmBackend {
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}
interface CpuBackend {
  data: { get(id: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: string, values?: Float32Array): tf.TensorInfo;
}

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

function inputsOf(inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] {
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
              const outs = def.outShapes(ins.map((t) => t.shape), attrs as Attrs).map((s) => b.makeOutput(s, 'float32'));
              // Views only after every allocation: a heap growth detaches earlier views.
              def.run(ins.map((t) => b.typedArrayFromHeap(t)), outs.map((t) => b.typedArrayFromHeap(t)), attrs as Attrs);
              return outs;
            }
          : ({ inputs, backend, attrs }) => {
              const b = backend as unknown as CpuBackend;
              const ins = inputsOf(inputs);
              const outArrays = def.outShapes(ins.map((t) => t.shape), attrs as Attrs).map((s) => ({ s, a: new Float32Array(size(s)) }));
              def.run(ins.map((t) => b.data.get(t.dataId).values as F), outArrays.map((o) => o.a), attrs as Attrs);
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
