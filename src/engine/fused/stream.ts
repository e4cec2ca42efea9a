/**
 * One stream of text on every core: the whole model's sampling step (one row) as WebAssembly on a
 * memory of its own, shared with a worker thread that computes part of every layer's units.
 *
 * Why. At 2x512 a character reads ~12 MB of weights (three [512, 2048] products). Through TF.js
 * (model.step with the fused gate kernels, one thread) the products took most of a step and the
 * ~20 op dispatches around them the rest. Here a step is a short program per thread (./stream-program.ts) and no tensors: the products are the
 * FMA GEMM's 1-row tile over weights packed once (./gemm.ts), the gates the SIMD kernels
 * (./simd.ts). With two threads the units are split, not the products: each thread owns all gates
 * of its units, so it reads only its share of every weight matrix and its gate arithmetic needs
 * nothing from the other thread; the threads meet once per layer (GRU: twice, since r∘h of every
 * unit feeds the candidate's product). A worker takes tens of milliseconds to start, so short
 * samples of small models run on this thread alone (the same program; threadsFor). Side by side
 * with model.step: `npx tsx bench/stream.ts` (docs/PERFORMANCE.md#figures-behind-the-engines-design-notes).
 *
 * The weights are copied at open: a StreamSampler samples the model as it was then (sampling
 * during training opens a new one per sample). Memory: ~the model's weights again, freed with the
 * sampler.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { CharModel } from '../model.ts';
import { gemmModule, packedFloats, type Gemm } from './gemm.ts';
import { simdModule } from './simd.ts';
import { makeRunner, OP, SLOT, SLOT_BYTES, WORKER_SOURCE, type Runner, type WorkerSetup } from './stream-program.ts';

/** Spins of a waiting thread before it sleeps (~0.1-0.3 ms here). */
const SPIN = 100_000;

export interface StreamOptions {
  /** Threads to split each layer across (default: threadsFor's rule; CHARMER_SAMPLE_THREADS overrides it). */
  threads?: number;
  /** About how many characters will be sampled (a worker is started only where they pay for it). */
  steps?: number;
}

/** Bump allocation of 64-byte-aligned float arrays; addresses in bytes. */
class Layout {
  bytes = SLOT_BYTES;
  take(floats: number): number {
    const at = this.bytes;
    this.bytes += Math.ceil((floats * 4) / 64) * 64;
    return at;
  }
}

/** Runs of columns [start, length) of a row-major [rows, width] matrix, side by side, as [rows, Σ length]; `pad` zero columns after. */
function columns(src: Float32Array, rows: number, width: number, runs: Array<readonly [number, number]>, pad = 0): Float32Array {
  const n = runs.reduce((s, [, len]) => s + len, 0) + pad;
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let o = r * n;
    for (const [start, len] of runs) {
      out.set(src.subarray(r * width + start, r * width + start + len), o);
      o += len;
    }
  }
  return out;
}

const stack = (a: Float32Array, b: Float32Array): Float32Array => {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

/**
 * Whether a StreamSampler can run here: relaxed SIMD, shared memory, the fused layers on, and the
 * weights on the CPU (wasm, cpu; tensorflow too: on native TensorFlow's CPU build one stream ran
 * 774 chars/s through model.step's ops and 33,344 here, 2x128 LSTM, `charmer bench --backend
 * tensorflow`). Not webgpu, where the weights would be read back from the GPU.
 */
export function streamSupported(model: CharModel): boolean {
  if (process.env.CHARMER_FUSED === '0' || typeof SharedArrayBuffer === 'undefined') return false;
  if (!['wasm', 'cpu', 'tensorflow'].includes(tf.getBackend())) return false;
  // Layer-normalised cells run only as the reference ops (src/engine/cellnorm.ts).
  if (model.spec.cellNorm === 'layer') return false;
  if (!model.recurrent) return false;
  return model.spec.hidden % 4 === 0 && gemmModule(true) !== null && simdModule(true) !== null;
}

/**
 * Two threads where the machine has two cores and the work pays for the worker: it costs ~30-60 ms
 * to start and saves about half of every step, and a step's cost grows with hidden². Measured
 * (bench/stream.ts): break-even near 70 characters at 512 units, 830 at 256, a few thousand at 128;
 * `steps · hidden² ≥ 1000 · 256²` lies on the safe side of each. Two, not more: two is what was
 * measured (and one barrier per layer costs more with every thread).
 */
function threadsFor(hidden: number, opts: StreamOptions): number {
  const env = Number(process.env.CHARMER_SAMPLE_THREADS);
  const worth = (opts.steps ?? 1000) * hidden * hidden >= 1000 * 256 * 256;
  const want = opts.threads ?? (env > 0 ? env : worth ? availableParallelism() : 1);
  // Every thread needs at least 4 units (the kernels' vector width).
  return Math.max(1, Math.min(want, 2, Math.floor(hidden / 4)));
}

/**
 * The stateful one-row sampling step of a model, starting from zero state. Not thread-safe;
 * dispose it (the worker and the memory go with it).
 */
export class StreamSampler {
  private parity = 0;
  private disposed = false;
  private readonly sync: Int32Array;
  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly runner: Runner,
    private readonly gemm: Gemm,
    private readonly programs: [Int32Array, Int32Array],
    private readonly worker: Worker | null,
    private readonly out: { h: number; wout: number; logits: number; bias: Float32Array; hidden: number; vocab: number; padded: number },
    private readonly state: [number, number],
    /** Where parity 0 reads each layer's h and c. */
    private readonly at: { h: number[]; c: number[] },
  ) {
    this.sync = new Int32Array(memory.buffer, 0, 5);
  }

  /** Threads each step runs on. */
  get threads(): number {
    return this.worker ? 2 : 1;
  }

  /** null where it cannot run (streamSupported); then sample through model.step. */
  static async open(model: CharModel, opts: StreamOptions = {}): Promise<StreamSampler | null> {
    if (!streamSupported(model)) return null;
    const threads = threadsFor(model.spec.hidden, opts);
    // The worker boots while this thread reads and packs the weights.
    const worker = threads > 1 ? new Worker(WORKER_SOURCE, { eval: true }) : null;
    worker?.unref();
    let plan: Plan;
    try {
      plan = await planOf(model, threads);
    } catch (e) {
      void worker?.terminate(); // it would wait for its setup for ever
      throw e;
    }
    if (worker) {
      const setup: WorkerSetup = {
        memory: plan.memory,
        gemmModule: gemmModule(true)!,
        simdModule: simdModule(true)!,
        threads,
        spin: SPIN,
        programs: plan.programs[1]!,
      };
      try {
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
          worker.once('exit', () => reject(new Error('The sampling thread did not start.')));
          worker.postMessage(setup);
        });
      } catch {
        // No worker (a sandbox without eval workers, say): the same step on this thread alone.
        void worker.terminate();
        return StreamSampler.open(model, { ...opts, threads: 1 });
      }
    }
    return new StreamSampler(plan.memory, plan.runner, plan.gemm, plan.programs[0]!, worker, plan.out, plan.state, plan.at);
  }

  /** Feed one character; the next character's logits (a view, valid until the next call). */
  step(id: number): Float32Array {
    if (this.disposed) throw new Error('This StreamSampler was disposed.');
    // The id picks a table row by address: one outside the vocabulary would read other weights.
    if (!(Number.isInteger(id) && id >= 0 && id < this.out.vocab))
      throw new RangeError(`Character index ${id} is outside the vocabulary (0-${this.out.vocab - 1}).`);
    Atomics.store(this.sync, SLOT.id, id);
    Atomics.store(this.sync, SLOT.parity, this.parity);
    if (this.worker) this.runner.barrier();
    this.runner.run(this.programs[this.parity]!);
    this.parity ^= 1;
    const o = this.out;
    this.gemm.gemm(o.h, 0, 4, o.wout, o.logits, 1, o.hidden, o.padded, 1 << 24);
    const logits = new Float32Array(this.memory.buffer, o.logits, o.vocab);
    for (let j = 0; j < o.vocab; j++) logits[j]! += o.bias[j]!;
    return logits;
  }

  /** Back to zero state. */
  reset(): void {
    new Uint8Array(this.memory.buffer).fill(0, this.state[0], this.state[1]);
    this.parity = 0;
  }

  /** Start from a given state instead (per layer [h] or [h, c], each `hidden` floats: one row of a LayerState). */
  load(state: Float32Array[][]): void {
    this.reset();
    const f32 = new Float32Array(this.memory.buffer);
    state.forEach(([h, c], l) => {
      f32.set(h!, this.at.h[l]! / 4);
      if (c && this.at.c[l]) f32.set(c, this.at.c[l]! / 4);
    });
  }

  /** Stop the worker (it leaves its loop at the next barrier); the memory goes with the last reference. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.worker) return;
    Atomics.store(this.sync, SLOT.exit, 1);
    this.runner.barrier();
    void this.worker.terminate();
  }
}

interface Plan {
  memory: WebAssembly.Memory;
  runner: Runner;
  gemm: Gemm;
  /** programs[thread][parity] */
  programs: Array<[Int32Array, Int32Array]>;
  out: { h: number; wout: number; logits: number; bias: Float32Array; hidden: number; vocab: number; padded: number };
  /** The byte range of the recurrent state (zeroed by reset). */
  state: [number, number];
  at: { h: number[]; c: number[] };
}

/** Lay out the memory, copy the weights in (packed, each thread's columns together) and write each thread's programs. */
async function planOf(model: CharModel, threads: number): Promise<Plan> {
  const { cell, hidden: H, layers: L } = model.spec;
  const V = model.vocab.size;
  const G = cell === 'lstm' ? 4 : cell === 'gru' ? 3 : 1;
  const lay = new Layout();

  // The recurrent state first (one range to zero): per layer [x | h] for each parity, c (LSTM), r∘h (GRU).
  const stateStart = lay.bytes;
  const inp = Array.from({ length: L }, () => [lay.take(2 * H), lay.take(2 * H)] as const);
  const cs = Array.from({ length: L }, () => (cell === 'lstm' ? [lay.take(H), lay.take(H)] : [0, 0]) as readonly [number, number]);
  const rh = Array.from({ length: L }, () => (cell === 'gru' ? lay.take(H) : 0));
  const top = lay.take(H);
  const state: [number, number] = [stateStart, lay.bytes];
  const padded = Math.ceil(V / 4) * 4;
  const logits = lay.take(padded);

  // Each thread's units: multiples of 4, the last thread takes the rest.
  const share = Math.floor(H / threads / 4) * 4;
  const units = Array.from({ length: threads }, (_, t) => [t * share, t === threads - 1 ? H : (t + 1) * share] as const);

  // Weights, read once (float32 host copies).
  const read = async (t: tf.Tensor) => (await t.data()) as Float32Array;
  const table = tf.tidy(() => tf.matMul(model.embedding, model.layers[0]!.kernel));
  const tableData = await read(table);
  table.dispose();
  const weights = await Promise.all(model.layers.map(async (w) => ({ k: await read(w.kernel), r: await read(w.recurrentKernel), b: await read(w.bias) })));
  const wout = await read(model.outKernel);
  const bias = (await read(model.outBias)).slice();

  // Matrices to pack, in order, with their addresses; packed after the memory exists.
  const toPack: Array<{ at: number; m: Float32Array; K: number; N: number }> = [];
  const toCopy: Array<{ at: number; m: Float32Array }> = [];
  const packed = (m: Float32Array, K: number, N: number): number => {
    const at = lay.take(packedFloats(K, N));
    toPack.push({ at, m, K, N });
    return at;
  };
  const plain = (m: Float32Array): number => {
    const at = lay.take(m.length);
    toCopy.push({ at, m });
    return at;
  };

  const programs = units.map(([u0, u1]) => {
    const n = u1 - u0;
    const colsOf = (gates: number[]) => gates.map((g) => [g * H + u0, n] as const);
    const all = colsOf(Array.from({ length: G }, (_, g) => g));
    const zr = colsOf([0, 1]);
    const hn = colsOf([2]);
    const code: number[][] = [[], []];
    for (let l = 0; l < L; l++) {
      const w = weights[l]!;
      const gateBias = plain(columns(w.b, 1, G * H, all));
      const xp = lay.take(G * n); // layer 0: the table row; above: zeros (GRU: its candidate's x·W)
      const hr = lay.take(G * n);
      const scratch = lay.take(7 * n);
      const sc = (i: number) => scratch + i * n * 4;
      const rowTable = l === 0 ? plain(columns(tableData, V, G * H, all)) : 0;
      // [x | h]·[W; R] in one product above the first layer; the first layer's x·W is the table.
      const stacked = (cols: Array<readonly [number, number]>) =>
        l === 0 ? columns(w.r, H, G * H, cols) : stack(columns(w.k, H, G * H, cols), columns(w.r, H, G * H, cols));
      const K = l === 0 ? H : 2 * H;
      const main = cell === 'gru' ? packed(stacked(zr), K, 2 * n) : packed(stacked(all), K, G * n);
      const xn = cell === 'gru' && l > 0 ? packed(columns(w.k, H, G * H, hn), H, n) : 0;
      const rn = cell === 'gru' ? packed(columns(w.r, H, G * H, hn), H, n) : 0;
      for (const p of [0, 1]) {
        const c = code[p]!;
        const x = inp[l]![p]!;
        const h = x + H * 4;
        const hNext = inp[l]![1 - p]! + (H + u0) * 4;
        const forward = l < L - 1 ? inp[l + 1]![p]! + u0 * 4 : top + u0 * 4;
        if (l === 0) c.push(OP.ROW, xp, rowTable, G * n * 4);
        if (cell === 'gru') {
          c.push(OP.GEMM, l === 0 ? h : x, main, hr, K, 2 * n);
          if (l > 0) c.push(OP.GEMM, x, xn, xp + 2 * n * 4, H, n);
          c.push(OP.GRU_A, xp, hr, gateBias, h + u0 * 4, sc(0), sc(3), rh[l]! + u0 * 4, n, OP.SYNC);
          c.push(OP.GEMM, rh[l]!, rn, hr + 2 * n * 4, H, n);
          c.push(OP.GRU_B, xp, hr + 2 * n * 4, gateBias, h + u0 * 4, sc(0), sc(4), hNext, n);
        } else {
          c.push(OP.GEMM, l === 0 ? h : x, main, hr, K, G * n);
          if (cell === 'lstm') c.push(OP.LSTM, xp, hr, gateBias, cs[l]![p]! + u0 * 4, sc(0), sc(4), sc(5), sc(6), hNext, cs[l]![1 - p]! + u0 * 4, n);
          else c.push(OP.RNN, xp, hr, gateBias, sc(0), hNext, n);
        }
        c.push(OP.COPY, forward, hNext, n * 4, OP.SYNC);
      }
    }
    return [Int32Array.from(code[0]!), Int32Array.from(code[1]!)] as [Int32Array, Int32Array];
  });
  const woutAt = packed(columns(wout, H, V, [[0, V]], padded - V), H, padded);

  // The memory: everything above, then room to stage the largest matrix for packing.
  const stage = lay.take(Math.max(...toPack.map((p) => p.m.length)));
  const pages = Math.ceil(lay.bytes / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const gemm = new WebAssembly.Instance(gemmModule(true)!, { env: { memory } }).exports as unknown as Gemm;
  const kernels = new WebAssembly.Instance(simdModule(true)!, { env: { memory } }).exports;
  const f32 = new Float32Array(memory.buffer);
  for (const { at, m } of toCopy) f32.set(m, at / 4);
  for (const { at, m, K, N } of toPack) {
    f32.set(m, stage / 4);
    gemm.pack(stage, at, K, N);
  }
  return {
    memory,
    gemm,
    runner: makeRunner(memory, gemm.gemm, kernels, threads, SPIN, 5000),
    programs,
    out: { h: top, wout: woutAt, logits, bias, hidden: H, vocab: V, padded },
    state,
    at: { h: inp.map((p) => p[0] + H * 4), c: cs.map((p) => p[0]) },
  };
}
