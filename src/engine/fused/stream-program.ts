/**
 * The step program of ./stream.ts: what each thread does for one character, as a flat Int32Array
 * of ops and their byte addresses, and the interpreter that runs it.
 *
 * The interpreter is source text, not a function: the main thread builds it with `new Function`
 * and the worker thread is started from the same text (worker_threads `eval`), so both threads run
 * the very same code and a bundled build needs no worker file of its own. It is plain JS that a
 * bundler never rewrites (a transpiled function's `toString()` may carry helpers such as esbuild's
 * `__name`, which the worker would not have).
 */

/** Op codes; each op is followed by its arguments (byte addresses in the shared memory, then sizes). */
export const OP = {
  /** dst, table, rowBytes: copy the input character's row of a table (the first layer's input projection). */
  ROW: 0,
  /** a, bp, c, K, N: c[N] = a[K]·B, B packed by gemm.pack. */
  GEMM: 1,
  /** simd.ts lstmFwd's 11 arguments. */
  LSTM: 2,
  /** simd.ts gruFwdA's 8 arguments. */
  GRU_A: 3,
  /** simd.ts gruFwdB's 8 arguments. */
  GRU_B: 4,
  /** simd.ts rnnFwd's 6 arguments. */
  RNN: 5,
  /** dst, src, bytes. */
  COPY: 6,
  /** Wait until every thread has got here. */
  SYNC: 7,
} as const;

/** Int32 slots at byte 0 of the memory. */
export const SLOT = { count: 0, generation: 1, id: 2, exit: 3, parity: 4 } as const;
/** Bytes the slots take (the rest of the memory starts after them). */
export const SLOT_BYTES = 64;

const RUNNER = String.raw`
function makeRunner(memory, gemm, k, threads, spin, patienceMs) {
  const sync = new Int32Array(memory.buffer, 0, 5);
  const u8 = new Uint8Array(memory.buffer);
  // A counting barrier: the last thread to arrive resets the count and bumps the generation. The
  // others spin on the generation for a while (a layer takes tens of microseconds; a futex wake-up
  // costs about as much) and then sleep on it.
  function barrier() {
    const g = Atomics.load(sync, 1);
    if (Atomics.add(sync, 0, 1) === threads - 1) {
      Atomics.store(sync, 0, 0);
      Atomics.add(sync, 1, 1);
      Atomics.notify(sync, 1);
      return;
    }
    for (let s = 0; s < spin; s++) if (Atomics.load(sync, 1) !== g) return;
    while (Atomics.load(sync, 1) === g) {
      if (Atomics.wait(sync, 1, g, patienceMs) === 'timed-out') throw new Error('The other sampling thread stopped answering.');
    }
  }
  function run(p) {
    let i = 0;
    while (i < p.length) {
      switch (p[i]) {
        case 0: {
          const src = p[i + 2] + Atomics.load(sync, 2) * p[i + 3];
          u8.copyWithin(p[i + 1], src, src + p[i + 3]);
          i += 4;
          break;
        }
        case 1:
          gemm(p[i + 1], 0, 4, p[i + 2], p[i + 3], 1, p[i + 4], p[i + 5], 16777216);
          i += 6;
          break;
        case 2:
          k.lstmFwd(p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6], p[i + 7], p[i + 8], p[i + 9], p[i + 10], p[i + 11]);
          i += 12;
          break;
        case 3:
          k.gruFwdA(p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6], p[i + 7], p[i + 8]);
          i += 9;
          break;
        case 4:
          k.gruFwdB(p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6], p[i + 7], p[i + 8]);
          i += 9;
          break;
        case 5:
          k.rnnFwd(p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6]);
          i += 7;
          break;
        case 6:
          u8.copyWithin(p[i + 1], p[i + 2], p[i + 2] + p[i + 3]);
          i += 4;
          break;
        case 7:
          barrier();
          i += 1;
          break;
        default:
          throw new Error('bad sampling op ' + p[i]);
      }
    }
  }
  return { barrier, run };
}`;

export interface Runner {
  barrier(): void;
  run(program: Int32Array): void;
}

type MakeRunner = (memory: WebAssembly.Memory, gemm: (...a: number[]) => void, k: object, threads: number, spin: number, patienceMs: number) => Runner;

/** The interpreter for this (main) thread. */
export const makeRunner = new Function(`${RUNNER}\nreturn makeRunner;`)() as MakeRunner;

/** What the worker is sent once it runs (structured-cloned: the memory is shared, the modules compiled once). */
export interface WorkerSetup {
  memory: WebAssembly.Memory;
  gemmModule: WebAssembly.Module;
  simdModule: WebAssembly.Module;
  threads: number;
  spin: number;
  /** This worker's programs for parity 0 and 1. */
  programs: [Int32Array, Int32Array];
}

/**
 * The worker: started before the weights are packed (a thread takes ~30 ms to boot here, about
 * what packing a 2x512 model takes), it waits for its WorkerSetup, instantiates the modules on the
 * shared memory, and then runs a step each time the main thread starts one.
 */
export const WORKER_SOURCE = String.raw`
const { parentPort } = require('node:worker_threads');
${RUNNER}
parentPort.once('message', ({ memory, gemmModule, simdModule, threads, spin, programs }) => {
  const gemm = new WebAssembly.Instance(gemmModule, { env: { memory } }).exports.gemm;
  const k = new WebAssembly.Instance(simdModule, { env: { memory } }).exports;
  // Between steps the main thread may wait as long as it likes (a paused stream): no timeout here.
  const r = makeRunner(memory, gemm, k, threads, spin, Infinity);
  const sync = new Int32Array(memory.buffer, 0, 5);
  parentPort.postMessage('ready');
  for (;;) {
    r.barrier();
    if (Atomics.load(sync, 3) === 1) break;
    r.run(programs[Atomics.load(sync, 4)]);
  }
});
`;
