/**
 * A training process: one run, one process (child_process.fork under Node, utilityProcess in
 * Electron). It opens the library itself and is the only writer of its run's metrics, checkpoint
 * rows, status and training samples (through RunRecorder, in batched transactions), and forwards
 * every engine event to the parent. Pausing is not pulling the next event from train(); stopping
 * aborts the signal, and the engine finishes its step, writes latest and emits done('stopped').
 */
import type { TrainEvent } from '../common/events.ts';
import { isCharmerError } from '../common/errors.ts';
import { openStore } from '../store/store.ts';
import type { Store } from '../store/store.ts';
import { loadEngine } from '../services/engine.ts';
import { RunRecorder } from '../services/recorder.ts';
import { checkpointDirOf, corpusFileOfRun } from '../services/training.ts';
import { loadLibraryCorpus } from '../services/library.ts';
import { weighBuiltinItems } from '../engine/builtin-corpora.ts';
import type { Corpus } from '../engine/corpus.ts';
import { isWorkerRequest, type WorkerMessage, type WorkerRequest } from '../common/train-protocol.ts';
import { processStats } from '../engine/stats.ts';

interface Port {
  send(m: WorkerMessage): Promise<void>;
  onMessage(cb: (m: unknown) => void): void;
}

function makePort(): Port {
  const parentPort = (process as unknown as { parentPort?: { postMessage(m: unknown): void; on(ev: 'message', cb: (e: { data: unknown }) => void): void } })
    .parentPort;
  if (parentPort) {
    return {
      send: async (m) => parentPort.postMessage(m),
      onMessage: (cb) => parentPort.on('message', (e) => cb(e.data)),
    };
  }
  if (!process.send) throw new Error('train-process must be started with an IPC channel (child_process.fork or utilityProcess)');
  return {
    send: (m) =>
      new Promise<void>((resolve) => {
        if (!process.connected) return resolve();
        process.send!(m, undefined, undefined, () => resolve());
      }),
    onMessage: (cb) => process.on('message', cb),
  };
}

const port = makePort();
const controller = new AbortController();
let paused = false;
let wake: (() => void) | null = null;
let started = false;
/** Set when the parent (the app or `charmer serve`) is gone: the run ends as interrupted, resumable. */
let parentGone = false;

/**
 * A training process must not outlive the process that supervises it: nobody could stop it, and a
 * restarted server would find its run "training in another window". When the IPC channel closes
 * (the parent exited, or was killed with SIGKILL) it stops as if asked to: the engine finishes its
 * step and writes `latest`, and the run is left interrupted, to be resumed. If that takes too long,
 * it exits anyway; the next start of the library marks the run interrupted from its latest checkpoint.
 */
function onParentGone(): void {
  if (parentGone) return;
  parentGone = true;
  if (!started) process.exit(0);
  controller.abort();
  paused = false;
  wake?.();
  setTimeout(() => process.exit(1), 60_000).unref();
}
// child_process.fork: the channel's end. SIGTERM (a restarted server stopping a run it did not
// start, or a system shutdown) is the same request.
process.on('disconnect', onParentGone);
process.on('SIGTERM', onParentGone);
// stderr is a pipe to the parent: once the parent is gone, any write to it (TF.js, a warning) fails
// with EPIPE, which unhandled would end this process before it wrote its checkpoint.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
// Electron's utility process has no 'disconnect' on parentPort: a parent that dies leaves this
// process re-parented, which changes process.ppid (a check a second, off the hot path).
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) onParentGone();
}, 1000).unref();

function ack(seq: number, error?: unknown): void {
  if (!error) void port.send({ type: 'ack', seq, ok: true });
  else
    void port.send({ type: 'ack', seq, ok: false, code: isCharmerError(error) ? error.code : 'INTERNAL', message: (error as Error).message ?? String(error) });
}

port.onMessage((raw) => {
  if (!isWorkerRequest(raw)) return;
  const req = raw as WorkerRequest;
  switch (req.type) {
    case 'start':
      if (started) return ack(req.seq, new Error('already started'));
      started = true;
      ack(req.seq);
      void runTraining(req.dataDir, req.runId, req.resume, req.initFrom);
      return;
    case 'pause':
      paused = true;
      ack(req.seq);
      return;
    case 'resume':
      paused = false;
      wake?.();
      ack(req.seq);
      return;
    case 'stats':
      void processStats().then((stats) => port.send({ type: 'stats', seq: req.seq, stats }));
      return;
    case 'stop':
      controller.abort();
      paused = false;
      wake?.();
      ack(req.seq);
      return;
  }
});

function isAbort(e: unknown): boolean {
  const err = e as { name?: unknown; code?: unknown; message?: unknown } | null;
  return err?.name === 'AbortError' || err?.code === 'ABORT_ERR' || (typeof err?.message === 'string' && /operation was aborted/i.test(err.message));
}

async function waitWhilePaused(store: Store, runId: number): Promise<void> {
  if (!paused) return;
  store.updateRun(runId, { status: 'paused' });
  await port.send({ type: 'status', runId, status: 'paused' });
  while (paused) await new Promise<void>((r) => (wake = r));
  wake = null;
  if (!controller.signal.aborted) {
    store.updateRun(runId, { status: 'running' });
    await port.send({ type: 'status', runId, status: 'running' });
  }
}

async function runTraining(dataDir: string, runId: number, resume: boolean, initFrom: string | undefined): Promise<void> {
  let store: Store | null = null;
  let recorder: RunRecorder | null = null;
  let exitCode = 0;
  try {
    store = openStore(dataDir, { recover: false });
    recorder = new RunRecorder(store, runId);
    recorder.begin();
    await port.send({ type: 'status', runId, status: 'running' });
    const run = store.getRun(runId);
    if (!run) throw new Error(`run ${runId} is not in the library`);
    const engine = await loadEngine();
    const row = store.getCorpus(run.corpusId);
    // Lists with categories are tables; corpusFileOfRun says clearly when the copy is missing.
    let corpus: unknown;
    if (row?.categories?.length) corpus = await loadLibraryCorpus(store, row, { signal: controller.signal });
    else {
      corpus = await engine.loadCorpus(corpusFileOfRun(store, run), { mode: run.config.mode, signal: controller.signal });
      // The library's name and built-in id go into the checkpoint (name cards know a brand model by it).
      const id = row ? (row.builtinId ?? (row.builtin && row.name === 'names' ? 'names' : null)) : null;
      if (row && corpus && typeof corpus === 'object') Object.assign(corpus, { name: row.name }, id ? { builtin: id } : {});
      // us-baby-names without categories trains popular names more often too, as loadLibraryCorpus does.
      weighBuiltinItems(corpus as Corpus);
    }
    const gen = engine.train({ corpus, config: run.config, out: checkpointDirOf(store, runId), resume, initFrom, signal: controller.signal });
    for (;;) {
      await waitWhilePaused(store, runId);
      const next = await gen.next();
      if (next.done) break;
      const ev: TrainEvent = next.value;
      recorder.handle(ev);
      await port.send({ type: 'event', runId, event: ev });
    }
    if (!recorder.finalStatus) {
      // The generator ended without done/error: treat as stopped (resumable).
      recorder.handle({ type: 'done', reason: 'stopped', iteration: recorder.lastIteration, bestValLoss: null, elapsedS: 0 });
    }
  } catch (e) {
    if (controller.signal.aborted && recorder && !recorder.finalStatus && isAbort(e)) {
      // Stopped before training began (while the corpus loaded or the backend started): a stop,
      // not a failure. The run has no checkpoint; runs.resume starts it from the beginning.
      const done: TrainEvent = { type: 'done', reason: 'stopped', iteration: recorder.lastIteration, bestValLoss: null, elapsedS: 0 };
      recorder.handle(done);
      await port.send({ type: 'event', runId, event: done });
    } else {
      const message = isCharmerError(e) ? (e as Error).message : `${(e as Error)?.message ?? String(e)}`;
      try {
        recorder?.fail(message);
      } catch {
        exitCode = 1; // the library itself failed (disk full?): the parent marks the run failed
      }
      if (!recorder) exitCode = 1;
      await port.send({
        type: 'event',
        runId,
        event: { type: 'error', code: isCharmerError(e) ? e.code : 'INTERNAL', message, iteration: recorder?.lastIteration ?? 0 },
      });
    }
  }
  if (parentGone && recorder?.finalStatus === 'stopped' && store) {
    // Nobody asked for this stop: the run is interrupted (resumable), as after a crash.
    try {
      store.updateRun(runId, { status: 'interrupted', ended: Date.now(), pid: null });
    } catch {
      /* the next open of the library recovers it */
    }
  }
  const status = (recorder?.finalStatus ?? 'failed') as 'completed' | 'stopped' | 'failed';
  const error = status === 'failed' ? (store?.getRun(runId)?.error ?? 'training failed') : null;
  store?.close();
  await port.send({ type: 'exit', runId, status, error });
  process.exit(exitCode);
}
