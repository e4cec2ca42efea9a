/**
 * One stream of text from a Transformer without tensors: the cached sampling step on Float32Arrays
 * in a WebAssembly memory of its own, every product through the engine's FMA GEMM (../fused/gemm.ts)
 * over weights packed once, the small parts (LayerNorm, softmax, GELU, residual adds) in plain loops.
 *
 * Why. Through TF.js a cached step of a 4 x 384 model is ~100 small ops per block and ran at ~30
 * chars/s here; the step's arithmetic is ~7M multiply-adds (reading ~28 MB of weights), which the
 * GEMM's 1-row tile streams at memory speed.
 *
 * The key/value cache is kept in the GEMM's packed layout so attention is products too: per block
 * and head, keys as Kᵀ [hs, blockSize] packed in panels of 8 positions (a new key is hs stores into
 * its panel), so scores = q·Kᵀ is one product over the first t+1 columns; values as V [blockSize,
 * hs] in panels of 8 of the head's columns, each panel's first t+1 rows contiguous, so y = p·V is
 * one product per panel. A window that fills slides as `windowStart` says (../transformer/gpt.ts):
 * its kept half is re-run as one batch (products of blockSize/2 rows), the same function as the
 * prime. The weights are copied at open: the stream samples the model as it was then.
 *
 * With two threads (asked for: see threadsFor) the one-row products are split by columns: a
 * worker (the StreamSampler's, ../fused/stream-program.ts) computes the second half of each
 * product's columns while this thread computes the first, so each reads half of every weight
 * matrix; they meet at a barrier after each product. The rest stays on this thread.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { gemmModule, packedFloats, type Gemm } from '../fused/gemm.ts';
import { simdModule } from '../fused/simd.ts';
import { makeRunner, OP, SLOT, SLOT_BYTES, WORKER_SOURCE, type Runner, type WorkerSetup } from '../fused/stream-program.ts';
import type { CharModel } from '../model.ts';
import { slideKeep, type GptWeights } from './gpt.ts';
import { QuantProducts, quantSupported, type PackedMatrix } from './quant-step.ts';
import { StreamRows } from './stream-rows.ts';

interface BlockAt {
  ln1g: number;
  ln1b: number;
  qkv: number;
  qkvB: number;
  proj: number;
  projB: number;
  ln2g: number;
  ln2b: number;
  fc: number;
  fcB: number;
  mlp: number;
  mlpB: number;
  /** Per head: packed Kᵀ and the V panels. */
  keys: number[];
  values: number[];
}

/** Spins of a waiting thread before it sleeps (as the StreamSampler's). */
const SPIN = 100_000;

/**
 * One thread unless asked (opts.threads, CHARMER_SAMPLE_THREADS=2). A step has 16 one-row products,
 * so two threads meet at 32 barriers per character (the LSTM stream: 2-4); on this 2-core machine
 * under a load average of ~30 that made a 4 x 384 stream 10x slower (7 against 74 chars/s,
 * bench/transformer-stream.ts), and no idle machine was at hand to measure what it gains there.
 */
function threadsFor(asked: number | undefined): number {
  const want = asked ?? (Number(process.env.CHARMER_SAMPLE_THREADS) || 1);
  if (want < 2 || typeof SharedArrayBuffer === 'undefined' || simdModule(true) === null || gemmModule(true) === null) return 1;
  return 2;
}

/** Whether a GptStream can run: a Transformer whose head size is a multiple of 4, the FMA GEMM available, the fused paths on. */
export function gptStreamSupported(model: CharModel): boolean {
  if (!model.gpt || process.env.CHARMER_FUSED === '0') return false;
  if (!['wasm', 'cpu', 'tensorflow'].includes(tf.getBackend())) return false;
  const hs = model.spec.hidden / model.spec.heads!;
  return Number.isInteger(hs) && hs % 4 === 0 && gemmModule(false) !== null;
}

/**
 * The one-row products' halves: this thread's columns [0, cut), the worker's [cut, N); a cut on a
 * multiple of 8 columns starts a packed panel, so the worker's half is a contiguous block.
 */
function splitProducts(
  blocks: BlockAt[],
  at: { h: number; qkv: number; y: number; t1: number; ff: number },
  C: number,
): { mainPrograms: Array<{ w: number; program: Int32Array }>; workerPrograms: Int32Array[] } {
  const mainPrograms: Array<{ w: number; program: Int32Array }> = [];
  const workerPrograms: Int32Array[] = [];
  const halves = (input: number, w: number, out: number, K: number, N: number) => {
    const cut = Math.floor(N / 16) * 8;
    mainPrograms.push({ w, program: Int32Array.of(OP.GEMM, input, w, out, K, cut, OP.SYNC) });
    workerPrograms.push(Int32Array.of(OP.GEMM, input, w + cut * K * 4, out + cut * 4, K, N - cut, OP.SYNC));
  };
  for (const b of blocks) {
    halves(at.h, b.qkv, at.qkv, C, 3 * C);
    halves(at.y, b.proj, at.t1, C, C);
    halves(at.h, b.fc, at.ff, C, 4 * C);
    halves(at.ff, b.mlp, at.t1, 4 * C, C);
  }
  return { mainPrograms, workerPrograms };
}

/** Hands the worker its memory and programs; false (the worker ended) where it did not start. */
async function startWorker(worker: Worker, setup: WorkerSetup): Promise<boolean> {
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', () => reject(new Error('The sampling thread did not start.')));
      worker.postMessage(setup);
    });
    return true;
  } catch {
    void worker.terminate();
    return false;
  }
}

export class GptStream {
  private readonly f: Float32Array;
  private readonly sync: Int32Array;
  private window: number[] = [];
  private disposed = false;
  /** Per packed weight address: the phase (worker program) computing its second half of columns, and where the first half ends. */
  private readonly split = new Map<number, { phase: number; program: Int32Array }>();
  private readonly rows: StreamRows;
  private constructor(
    private readonly gemm: Gemm,
    memory: WebAssembly.Memory,
    private readonly runner: Runner | null,
    private readonly worker: Worker | null,
    private readonly quant: QuantProducts | null,
    mainPrograms: Array<{ w: number; program: Int32Array }>,
    private readonly dims: { C: number; H: number; hs: number; V: number; Vp: number; block: number },
    private readonly at: {
      wte: number;
      wpe: number;
      blocks: BlockAt[];
      lnfg: number;
      lnfb: number;
      out: number;
      outB: number;
      x: number;
      h: number;
      qkv: number;
      y: number;
      t1: number;
      ff: number;
      s: number;
      logits: number;
      scratch: number;
    },
  ) {
    this.f = new Float32Array(memory.buffer);
    // The float32 stream keeps its loops (the reference the 8-bit one is measured against).
    this.rows = new StreamRows(memory, dims.C, at.scratch, quant !== null);
    this.sync = new Int32Array(memory.buffer, 0, 5);
    mainPrograms.forEach(({ w, program }, phase) => this.split.set(w, { phase, program }));
  }

  /** Threads each one-row product runs on. */
  get threads(): number {
    return this.worker ? 2 : 1;
  }

  /** Bits per weight of the one-character products: 8 (./quant-step.ts) or 32. */
  get weightBits(): 8 | 32 {
    return this.quant ? 8 : 32;
  }

  /**
   * null where it cannot run (gptStreamSupported); then sample through model.step. `quant` (default:
   * where quantSupported) runs the one-character products on 8-bit weights, on one thread.
   */
  static async open(model: CharModel, opts: { steps?: number; threads?: number; quant?: boolean } = {}): Promise<GptStream | null> {
    if (!gptStreamSupported(model)) return null;
    const quant = (opts.quant ?? true) && quantSupported();
    const threads = quant ? 1 : threadsFor(opts.threads);
    const worker = threads > 1 ? new Worker(WORKER_SOURCE, { eval: true }) : null;
    worker?.unref();
    try {
      return await GptStream.build(model, worker, quant);
    } catch (e) {
      void worker?.terminate();
      throw e;
    }
  }

  private static async build(model: CharModel, worker: Worker | null, quant = false): Promise<GptStream | null> {
    const w = model.gpt as GptWeights;
    const C = model.spec.hidden;
    const H = model.spec.heads!;
    const hs = C / H;
    const V = model.vocab.size;
    const Vp = Math.ceil(V / 4) * 4;
    const block = model.spec.blockSize!;
    const blockPad = Math.ceil(block / 8) * 8;
    let bytes = SLOT_BYTES;
    const take = (floats: number) => {
      const a = bytes;
      bytes += Math.ceil((floats * 4) / 64) * 64;
      return a;
    };
    const read = async (v: tf.Tensor) => (await v.data()) as Float32Array;
    const plain: Array<{ at: number; m: Float32Array }> = [];
    const packs: PackedMatrix[] = [];
    const copy = async (v: tf.Tensor) => {
      const m = await read(v);
      const a = take(m.length);
      plain.push({ at: a, m });
      return a;
    };
    const pack = async (v: tf.Tensor, K: number, N: number, padTo = N) => {
      let m = await read(v);
      if (padTo !== N) {
        const p = new Float32Array(K * padTo);
        for (let k = 0; k < K; k++) p.set(m.subarray(k * N, (k + 1) * N), k * padTo);
        m = p;
      }
      const a = take(packedFloats(K, padTo));
      packs.push({ v: v as tf.Variable, at: a, m, K, N: padTo });
      return a;
    };
    const blocks: BlockAt[] = [];
    for (const b of w.blocks) {
      blocks.push({
        ln1g: await copy(b.ln1Gamma),
        ln1b: await copy(b.ln1Beta),
        qkv: await pack(b.qkvKernel, C, 3 * C),
        qkvB: await copy(b.qkvBias),
        proj: await pack(b.projKernel, C, C),
        projB: await copy(b.projBias),
        ln2g: await copy(b.ln2Gamma),
        ln2b: await copy(b.ln2Beta),
        fc: await pack(b.fcKernel, C, 4 * C),
        fcB: await copy(b.fcBias),
        mlp: await pack(b.mlpKernel, 4 * C, C),
        mlpB: await copy(b.mlpBias),
        keys: Array.from({ length: H }, () => take(blockPad * hs)),
        values: Array.from({ length: H }, () => take(Math.ceil(hs / 8) * 8 * block)),
      });
    }
    const at = {
      wte: await copy(w.tokens),
      wpe: await copy(w.positions),
      blocks,
      lnfg: await copy(w.lnfGamma),
      lnfb: await copy(w.lnfBeta),
      out: await pack(w.outKernel, C, V, Vp),
      outB: await copy(w.outBias),
      x: take(block * C),
      h: take(block * C),
      qkv: take(block * 3 * C),
      y: take(block * C),
      t1: take(block * C),
      ff: take(block * 4 * C),
      s: take(blockPad),
      logits: take(Vp),
      scratch: take(4),
    };
    const stage = take(Math.max(...packs.map((p) => p.m.length)));
    // The blocks' matrices only: the output layer writes the logits, and is small.
    const quantPlan = quant
      ? QuantProducts.plan(
          packs.filter((p) => p.at !== at.out),
          take,
        )
      : null;
    const pages = Math.ceil(bytes / 65536);
    const shared = worker !== null;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
    const gemm = new WebAssembly.Instance(gemmModule(shared)!, { env: { memory } }).exports as unknown as Gemm;
    const f = new Float32Array(memory.buffer);
    for (const { at: a, m } of plain) f.set(m, a / 4);
    for (const p of packs) {
      f.set(p.m, stage / 4);
      gemm.pack(stage, p.at, p.K, p.N);
    }
    const { mainPrograms, workerPrograms } = worker ? splitProducts(blocks, at, C) : { mainPrograms: [], workerPrograms: [] };
    if (worker) {
      const setup: WorkerSetup = {
        memory,
        gemmModule: gemmModule(true)!,
        simdModule: simdModule(true)!,
        threads: 2,
        spin: SPIN,
        programs: workerPrograms as unknown as [Int32Array, Int32Array],
      };
      if (!(await startWorker(worker, setup))) return GptStream.build(model, null, quant);
    }
    const runner = worker ? makeRunner(memory, gemm.gemm, {}, 2, SPIN, 5000) : null;
    const products = quantPlan?.bind(memory) ?? null;
    return new GptStream(gemm, memory, runner, worker, products, mainPrograms, { C, H, hs, V, Vp, block }, at);
  }

  /** Characters in the window now (the cached positions). */
  get position(): number {
    return this.window.length;
  }

  /** Start over from `ids` (the window a stream of them would have); the next character's logits. */
  prime(ids: ArrayLike<number>): Float32Array {
    const all = Array.from(ids);
    let start = 0;
    // windowStart's rule, in steps (a prime is short next to its cost).
    for (let n = 0; n < all.length; n++) if (n - start >= this.dims.block) start = n - slideKeep(this.dims.block) + 1;
    this.window = all.slice(start);
    return this.run(this.window, 0);
  }

  /** Feed one character; the next character's logits (a view, valid until the next call). */
  step(id: number): Float32Array {
    if (this.disposed) throw new Error('This GptStream was disposed.');
    if (!(Number.isInteger(id) && id >= 0 && id < this.dims.V)) throw new RangeError(`Character index ${id} is outside the vocabulary (0-${this.dims.V - 1}).`);
    const t = this.window.length;
    if (t >= this.dims.block) {
      this.window = [...this.window.slice(t - slideKeep(this.dims.block) + 1), id];
      return this.run(this.window, 0);
    }
    this.window.push(id);
    return this.run([id], t);
  }

  /** The rows ids at positions pos0.. (the cache holds every earlier position): the last row's logits. */
  private run(ids: number[], pos0: number): Float32Array {
    const { C, H, hs, Vp, V, block } = this.dims;
    const f = this.f;
    const a = this.at;
    const n = ids.length;
    const X = a.x / 4;
    for (let r = 0; r < n; r++) {
      const e = a.wte / 4 + ids[r]! * C;
      const p = a.wpe / 4 + (pos0 + r) * C;
      for (let c = 0; c < C; c++) f[X + r * C + c] = f[e + c]! + f[p + c]!;
    }
    const scale = 1 / Math.sqrt(hs);
    for (const b of a.blocks) {
      this.rows.layerNorm(a.x, a.h, n, b.ln1g, b.ln1b);
      this.dense(a.h, b.qkv, b.qkvB, a.qkv, n, C, 3 * C);
      const Q = a.qkv / 4;
      for (let r = 0; r < n; r++) {
        const p = pos0 + r;
        for (let h = 0; h < H; h++) {
          const kb = b.keys[h]! / 4 + (p >> 3) * hs * 8 + (p & 7);
          const vb = b.values[h]! / 4;
          const row = Q + r * 3 * C + h * hs;
          for (let d = 0; d < hs; d++) {
            f[kb + d * 8] = f[row + C + d]!;
            f[vb + ((d >> 3) * block + p) * 8 + (d & 7)] = f[row + 2 * C + d]!;
          }
        }
      }
      for (let r = 0; r < n; r++) {
        const p = pos0 + r;
        const cols = p + 1;
        for (let h = 0; h < H; h++) {
          this.gemm.gemm(a.qkv + (r * 3 * C + h * hs) * 4, 0, 4, b.keys[h]!, a.s, 1, hs, Math.ceil(cols / 4) * 4, 1 << 24);
          this.rows.softmax(a.s, cols, scale);
          for (let q = 0; q < hs; q += 8) {
            const width = Math.min(8, hs - q);
            this.gemm.gemm(a.s, 0, 4, b.values[h]! + (q >> 3) * block * 8 * 4, a.y + (r * C + h * hs + q) * 4, 1, cols, width, 8);
          }
        }
      }
      this.dense(a.y, b.proj, b.projB, a.t1, n, C, C);
      this.rows.addInto(a.x, a.t1, n * C);
      this.rows.layerNorm(a.x, a.h, n, b.ln2g, b.ln2b);
      this.dense(a.h, b.fc, b.fcB, a.ff, n, C, 4 * C);
      this.rows.gelu(a.ff, n * 4 * C);
      this.dense(a.ff, b.mlp, b.mlpB, a.t1, n, 4 * C, C);
      this.rows.addInto(a.x, a.t1, n * C);
    }
    this.rows.layerNorm(a.x + (n - 1) * C * 4, a.h, 1, a.lnfg, a.lnfb);
    this.gemm.gemm(a.h, 0, 4, a.out, a.logits, 1, C, Vp, 1 << 24);
    const L = a.logits / 4;
    for (let j = 0; j < V; j++) f[L + j]! += f[a.outB / 4 + j]!;
    return f.subarray(L, L + V);
  }

  /** out[n, N] = in[n, K]·W + bias. */
  private dense(input: number, w: number, bias: number, out: number, n: number, K: number, N: number): void {
    if (n === 1 && this.quant?.dense(input, w, bias, out)) return;
    const half = n === 1 && this.runner ? this.split.get(w) : undefined;
    if (half) {
      Atomics.store(this.sync, SLOT.parity, half.phase);
      this.runner!.barrier();
      this.runner!.run(half.program);
    } else {
      // Columns of the packed weights per pass: ~256 KB of them, as the engine's matMul groups them.
      this.gemm.gemm(input, K * 4, 4, w, out, n, K, N, Math.max(8, Math.floor((256 * 1024) / (K * 32)) * 8));
    }
    const f = this.f;
    const o = out / 4;
    const b = bias / 4;
    for (let r = 0; r < n; r++) for (let c = 0; c < N; c++) f[o + r * N + c]! += f[b + c]!;
  }

  /** Stop the worker (it leaves its loop at the next barrier); the memory goes with the last reference. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.window = [];
    if (!this.worker) return;
    Atomics.store(this.sync, SLOT.exit, 1);
    this.runner!.barrier();
    void this.worker.terminate();
  }
}
