/**
 * One training process as the runs service sees it: started, its messages turned into run events
 * and answers to requests, and its end (above all an unannounced one: a crash) recorded.
 */
import { CharmerError } from '../common/errors.ts';
import { isActiveStatus } from '../common/enums.ts';
import type { ProcessStats, WorkerMessage, WorkerRequest } from '../common/train-protocol.ts';
import type { Store } from '../store/store.ts';
import { spawnTrainer, type TrainerHandle, type TrainerLauncher } from './spawn.ts';
import type { RunEvent, RunSummary } from './types.ts';

export type RequestBody = WorkerRequest extends infer R ? (R extends { seq: number } ? Omit<R, 'seq'> : never) : never;

export interface Live {
  runId: number;
  handle: TrainerHandle;
  seq: number;
  pending: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
  pendingStats: Map<number, (s: ProcessStats | null) => void>;
  exited: Promise<void>;
  sawExit: boolean;
  lastError: string | null;
}

export interface TrainerDeps {
  store: Store;
  launcher?: TrainerLauncher;
  /** The processes this service started, by run id. */
  live: Map<number, Live>;
  emit: (e: RunEvent) => void;
}

export const request = (l: Live, body: RequestBody): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const seq = ++l.seq;
    l.pending.set(seq, { resolve, reject });
    l.handle.send({ ...body, seq } as WorkerRequest);
  });

export function launchTrainer(deps: TrainerDeps, run: RunSummary, resume: boolean, initFrom?: string): Promise<void> {
  const { store, launcher, live, emit } = deps;
  const handle = spawnTrainer(launcher);
  let resolveExit!: () => void;
  const l: Live = {
    runId: run.id,
    handle,
    seq: 0,
    pending: new Map(),
    pendingStats: new Map(),
    exited: new Promise((r) => (resolveExit = r)),
    sawExit: false,
    lastError: null,
  };
  live.set(run.id, l);
  store.updateRun(run.id, { status: 'running', pid: handle.pid ?? null, started: run.started ?? Date.now(), ended: null, error: null });
  emit({ runId: run.id, kind: 'status', status: 'running', error: null });
  handle.onMessage((m: WorkerMessage) => {
    switch (m.type) {
      case 'ack': {
        const p = l.pending.get(m.seq);
        l.pending.delete(m.seq);
        if (!p) return;
        if (m.ok) p.resolve();
        else p.reject(new CharmerError((m.code as never) ?? 'IO_ERROR', m.message));
        return;
      }
      case 'stats':
        l.pendingStats.get(m.seq)?.(m.stats);
        l.pendingStats.delete(m.seq);
        return;
      case 'event':
        if (m.event.type === 'error') l.lastError = m.event.message;
        emit({ runId: run.id, kind: 'train', event: m.event });
        return;
      case 'status':
        emit({ runId: run.id, kind: 'status', status: m.status, error: null });
        return;
      case 'exit':
        l.sawExit = true;
        emit({ runId: run.id, kind: 'status', status: m.status, error: m.error });
        return;
    }
  });
  handle.onExit((code, signal) => {
    live.delete(run.id);
    for (const p of l.pending.values()) p.reject(new CharmerError('RUN_NOT_ACTIVE', `Run ${run.id} stopped training just now.`, { runId: run.id }));
    l.pending.clear();
    for (const r of l.pendingStats.values()) r(null);
    l.pendingStats.clear();
    if (!l.sawExit || (code !== 0 && code !== null)) {
      // Crashed: it could not record its own end. Keep whatever it wrote; say what happened.
      const current = store.isOpen ? store.getRun(run.id) : null;
      if (current && (isActiveStatus(current.status) || !l.sawExit)) {
        const tail = (handle.stderrTail?.() ?? '')
          .replace(/=+\s*\nHi, looks like you are running TensorFlow\.js[^\n]*\n\s*=+/g, '') // TF.js's banner is no error
          .trim()
          .split('\n')
          .slice(-5)
          .join('\n');
        const error =
          l.lastError ??
          `The training process ended unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})${tail ? `: ${tail}` : ''}. Resume the run to continue from its last checkpoint.`;
        if (isActiveStatus(current.status)) {
          store.updateRun(run.id, { status: 'failed', error, ended: Date.now(), pid: null });
          emit({ runId: run.id, kind: 'status', status: 'failed', error });
        }
      }
    }
    resolveExit();
  });
  return request(l, { type: 'start', dataDir: store.dataDir, runId: run.id, resume, ...(initFrom ? { initFrom } : {}) });
}
