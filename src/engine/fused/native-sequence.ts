/**
 * The fused recurrent layers on native TensorFlow (tfjs-node, tfjs-node-gpu: the `tensorflow`
 * backend), through TensorFlow's own block ops rather than kernels of ours: TF.js cannot add
 * kernels to that backend, but it can run any op TensorFlow has by name.
 *
 * - LSTM: `BlockLSTMV2` runs the whole sequence as one op and `BlockLSTMGradV2` its backward as one
 *   op. Inside, each step is one product [x_t | h]·W and one gate kernel (on CUDA one cuBLAS GEMM
 *   and one fused elementwise kernel a step), the weight gradient accumulated in the same pass.
 * - GRU: `GRUBlockCell` a step forward and `GRUBlockCellGrad` a step backward (gates fused in
 *   each); the weight gradients are then single large products over all steps.
 * - RNN: TensorFlow has no block op for it, so a step is a product, an add and a tanh; the input
 *   projection of all steps and the weight gradients are single products.
 *
 * Mapping to the stock layers' weights (kernel [I, G*H], recurrent kernel [H, G*H]): the block ops
 * take [kernel; recurrent kernel] stacked ([I+H, G*H]), time-major inputs, and their own gate
 * order. `BlockLSTMV2` uses i, f, c, o like tf.layers.lstm (the V1 op's i, c, f, o and forget bias
 * are why V2 exists); `GRUBlockCell` takes r, u for tf.layers.gru's z, r (u is z) and the
 * candidate's columns apart. Outputs and gradients match the reference within 1e-4 relative
 * (test/engine/fused.test.ts, run where tfjs-node is installed). Which layers use them: blockOpsFor.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import type { CellType } from '../config.ts';
import type { LayerState, LayerWeights, SequenceResult } from '../recurrent.ts';

type T2 = tf.Tensor2D;
type T3 = tf.Tensor3D;

interface OpAttr {
  name: string;
  type: number;
  value: number | boolean;
}

/** The part of tfjs-node's NodeJSKernelBackend used here. */
interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_FLOAT: number; TF_ATTR_BOOL: number; TF_FLOAT: number };
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: unknown[], outputs: number): tf.Tensor[];
}

/** The native TensorFlow packages, GPU build first: backend.ts loads the first that works. */
export const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const require = createRequire(import.meta.url);
let loaded: { gpu: boolean; Int64Scalar: new (v: number) => unknown } | null = null;

/** backend.ts, once `pkg` is the tensorflow backend. */
export function useNativePackage(pkg: (typeof NATIVE_PACKAGES)[number]): void {
  // BlockLSTM's seq_len_max is int64, which TF.js tensors cannot be; tfjs-node has a scalar for it.
  const { Int64Scalar } = require(`${pkg}/dist/int64_tensors.js`) as { Int64Scalar: new (v: number) => unknown };
  loaded = { gpu: pkg.endsWith('-gpu'), Int64Scalar };
}

/**
 * Whether the block ops run for a layer of `hidden` units: on tfjs-node-gpu always (a step is a
 * GEMM and one gate kernel instead of the reference step's dozen ops); on the CPU build only for small layers.
 * Each block op step multiplies [x_t | h] by the whole stacked weight, so the input projection of
 * all steps is no longer one large product, and on CPU TensorFlow that large product (oneDNN) is
 * what the reference loop has going for it. Measured on 2 cores, TensorFlow 2.21's CPU build,
 * training chars/s block ops / reference loop (`CHARMER_FUSED=1|0 charmer bench --backend
 * tensorflow --impl charmer-fused --hidden N`): LSTM 2x128 22,129 / 10,938, 2x256 6,529 / 5,703,
 * 2x512 1,918 / 3,151; GRU 2x128 26,142 / 8,210, 2x256 8,019 / 3,979, 2x512 2,570 / 2,931.
 */
export function blockOpsFor(hidden: number): boolean {
  if (tf.getBackend() !== 'tensorflow' || !loaded) return false;
  return loaded.gpu || hidden < 384;
}

const seqLen = (T: number): unknown => new loaded!.Int64Scalar(T);

function run(name: string, inputs: unknown[], outputs: number, extra: Array<[string, 'float' | 'bool', number | boolean]> = []): tf.Tensor[] {
  const backend = tf.backend() as unknown as NativeBackend;
  const b = backend.binding;
  const attrs: OpAttr[] = [{ name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT }];
  for (const [n, kind, value] of extra) attrs.push({ name: n, type: kind === 'float' ? b.TF_ATTR_FLOAT : b.TF_ATTR_BOOL, value });
  return backend.executeMultipleOutputs(name, attrs, inputs, outputs);
}

/** [B, T, I] -> [T, B, I] and back. */
const swap01 = (x: tf.Tensor) => tf.transpose(x, [1, 0, 2]);

/** h_{t-1} for every step of a time-major [T, B, H] output: h0, then the outputs shifted by one. */
function previousHidden(out: T3, h0: T2): T3 {
  const [T, B, H] = out.shape;
  return tf.concat([tf.reshape(h0, [1, B, H]), tf.slice(out, [0, 0, 0], [T - 1, B, H])], 0) as T3;
}

/** LSTM over a time-major x [T, B, I]; value [T+1, B, H]: h at every step, then the last c. */
const lstmBlock = tf.customGrad(((x: T3, w: T2, b: tf.Tensor1D, h0: T2, c0: T2, save: tf.GradSaveFunc) => {
  const T = x.shape[0];
  const H = h0.shape[1];
  const peep = tf.zeros([H]);
  const [i, cs, f, o, ci, co, h] = run('BlockLSTMV2', [seqLen(T), x, c0, h0, w, peep, peep, peep, b], 7, [
    ['cell_clip', 'float', 0],
    ['use_peephole', 'bool', false],
  ]) as T3[];
  save([x, w, b, h0, c0, peep, i!, cs!, f!, o!, ci!, co!, h!]);
  return {
    value: tf.concat([h!, tf.slice(cs!, [T - 1, 0, 0], [1, -1, -1])], 0),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw, sb, sh0, sc0, sp, ...acts] = saved;
      const B = sh0!.shape[0]!;
      const dh = tf.slice(dy, [0, 0, 0], [T, B, H]);
      const dcs = tf.concat([tf.zeros([T - 1, B, H]), tf.slice(dy, [T, 0, 0], [1, B, H])], 0);
      const [dx, dc0, dh0, dw, , , , db] = run('BlockLSTMGradV2', [seqLen(T), sx, sc0, sh0, sw, sp, sp, sp, sb, ...acts, dcs, dh], 8, [
        ['use_peephole', 'bool', false],
      ]);
      return [dx!, dw!, db!, dh0!, dc0!];
    },
  };
}) as never) as unknown as (x: T3, w: T2, b: tf.Tensor1D, h0: T2, c0: T2) => T3;

/** GRU over a time-major x [T, B, I]; value [T, B, H]. */
const gruBlock = tf.customGrad(((x: T3, wru: T2, wc: T2, bru: tf.Tensor1D, bc: tf.Tensor1D, h0: T2, save: tf.GradSaveFunc) => {
  const xs = tf.unstack(x) as T2[];
  const rs: tf.Tensor[] = [];
  const us: tf.Tensor[] = [];
  const cs: tf.Tensor[] = [];
  const hs: tf.Tensor[] = [];
  let h: tf.Tensor = h0;
  for (const xt of xs) {
    const [r, u, c, hn] = run('GRUBlockCell', [xt, h, wru, wc, bru, bc], 4);
    rs.push(r!);
    us.push(u!);
    cs.push(c!);
    hs.push(hn!);
    h = hn!;
  }
  const value = tf.stack(hs) as T3;
  save([x, wru, wc, bru, bc, h0, value, tf.stack(rs), tf.stack(us), tf.stack(cs)]);
  tf.dispose([...xs, ...rs, ...us, ...cs, ...hs]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, swru, swc, sbru, sbc, sh0, sout, sr, su, sc] = saved as [T3, T2, T2, tf.Tensor1D, tf.Tensor1D, T2, T3, T3, T3, T3];
      const [T, B, I] = sx.shape;
      const H = sh0.shape[1];
      const hPrev = previousHidden(sout, sh0);
      const [xt, hp, rt, ut, ct, dyt] = [sx, hPrev, sr, su, sc, dy].map((t) => tf.unstack(t) as T2[]);
      const dxs: tf.Tensor[] = new Array(T);
      const dcs: tf.Tensor[] = new Array(T);
      const drus: tf.Tensor[] = new Array(T);
      let dh: tf.Tensor = tf.zeros([B, H]);
      for (let t = T - 1; t >= 0; t--) {
        const [dx, dhPrev, dc, dru] = run('GRUBlockCellGrad', [xt![t], hp![t], swru, swc, sbru, sbc, rt![t], ut![t], ct![t], tf.add(dyt![t]!, dh)], 4);
        [dxs[t], dcs[t], drus[t], dh] = [dx!, dc!, dru!, dhPrev!];
      }
      // The weight gradients over all steps at once: [x | h_prev]ᵀ·d(r̄ ū) and [x | r∘h_prev]ᵀ·d(c̄).
      const flat = (t: tf.Tensor, n: number) => tf.reshape(t, [T * B, n]) as T2;
      const dRu = flat(tf.stack(drus), 2 * H);
      const dC = flat(tf.stack(dcs), H);
      const xh = flat(tf.concat([sx, hPrev], 2), I + H);
      const xrh = flat(tf.concat([sx, tf.mul(sr, hPrev)], 2), I + H);
      return [tf.stack(dxs), tf.matMul(tf.transpose(xh), dRu), tf.matMul(tf.transpose(xrh), dC), tf.sum(dRu, 0), tf.sum(dC, 0), dh];
    },
  };
}) as never) as unknown as (x: T3, wru: T2, wc: T2, bru: tf.Tensor1D, bc: tf.Tensor1D, h0: T2) => T3;

/** Simple RNN over a time-major x [T, B, I]; value [T, B, H]. */
const rnnSeq = tf.customGrad(((x: T3, K: T2, R: T2, b: tf.Tensor1D, h0: T2, save: tf.GradSaveFunc) => {
  const [T, B, I] = x.shape;
  const H = h0.shape[1];
  const xp = tf.unstack(tf.reshape(tf.add(tf.matMul(tf.reshape(x, [T * B, I]), K), b), [T, B, H])) as T2[];
  const hs: tf.Tensor[] = [];
  let h: tf.Tensor = h0;
  for (const xt of xp) hs.push((h = tf.tanh(tf.add(xt, tf.matMul(h, R)))));
  const value = tf.stack(hs) as T3;
  save([x, K, R, h0, value]);
  tf.dispose([...xp, ...hs]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sK, sR, sh0, sout] = saved as [T3, T2, T2, T2, T3];
      const RT = tf.transpose(sR);
      const [outs, dys] = [tf.unstack(sout), tf.unstack(dy)];
      const dzs: tf.Tensor[] = new Array(T);
      let dh: tf.Tensor = tf.zeros([B, H]);
      for (let t = T - 1; t >= 0; t--) {
        const ht = outs[t]!;
        dzs[t] = tf.mul(tf.add(dys[t]!, dh), tf.sub(1, tf.mul(ht, ht)));
        dh = tf.matMul(dzs[t]!, RT);
      }
      const dz = tf.reshape(tf.stack(dzs), [T * B, H]) as T2;
      const hPrev = tf.reshape(previousHidden(sout, sh0), [T * B, H]) as T2;
      const x2 = tf.reshape(sx, [T * B, I]) as T2;
      return [tf.reshape(tf.matMul(dz, tf.transpose(sK)), [T, B, I]), tf.matMul(tf.transpose(x2), dz), tf.matMul(tf.transpose(hPrev), dz), tf.sum(dz, 0), dh];
    },
  };
}) as never) as unknown as (x: T3, K: T2, R: T2, b: tf.Tensor1D, h0: T2) => T3;

/** Columns [start, start + n) of a [rows, cols] matrix or of a vector. */
function cols(t: tf.Tensor, start: number, n: number): tf.Tensor {
  return t.rank === 1 ? tf.slice(t, [start], [n]) : tf.slice(t, [0, start], [-1, n]);
}

/** The fused sequence on the tensorflow backend, same contract as referenceSequence. */
export function nativeSequence(cell: CellType, w: LayerWeights, x: T3, state: LayerState): SequenceResult {
  return tf.tidy(() => {
    const [B, T] = x.shape;
    const H = w.recurrentKernel.shape[0];
    const xt = swap01(x.dtype === 'float32' ? x : tf.cast(x, 'float32')) as T3;
    if (cell === 'lstm') {
      const v = lstmBlock(xt, tf.concat([w.kernel, w.recurrentKernel], 0), w.bias, state[0]!, state[1]!);
      const outputs = swap01(tf.slice(v, [0, 0, 0], [T, B, H])) as T3;
      const h = tf.reshape(tf.slice(v, [T - 1, 0, 0], [1, B, H]), [B, H]) as T2;
      const c = tf.reshape(tf.slice(v, [T, 0, 0], [1, B, H]), [B, H]) as T2;
      return { outputs, state: [h, c] } as never;
    }
    let seq: T3;
    if (cell === 'gru') {
      const W = tf.concat([w.kernel, w.recurrentKernel], 0); // [I+H, 3H], columns z r h
      const wru = tf.concat([cols(W, H, H), cols(W, 0, H)], 1) as T2;
      const bru = tf.concat([cols(w.bias, H, H), cols(w.bias, 0, H)]) as tf.Tensor1D;
      seq = gruBlock(xt, wru, cols(W, 2 * H, H) as T2, bru, cols(w.bias, 2 * H, H) as tf.Tensor1D, state[0]!);
    } else {
      seq = rnnSeq(xt, w.kernel, w.recurrentKernel, w.bias, state[0]!);
    }
    const h = tf.reshape(tf.slice(seq, [T - 1, 0, 0], [1, B, H]), [B, H]) as T2;
    return { outputs: swap01(seq) as T3, state: [h] } as never;
  }) as unknown as SequenceResult;
}
