/**
 * Messages between the runs service (parent) and a training process (src/worker/train-process.ts).
 * Requests carry a sequence number `seq`; the worker answers each with an `ack` of the same number.
 * Every engine event (start, progress, eval, sample, checkpoint, done, error) is forwarded as an
 * `event` message after the worker has written what it must into SQLite. Plain JSON both ways, so it
 * travels the same over child_process IPC and Electron's utilityProcess MessagePort.
 */
import type { TrainEvent } from './events.ts';

export type WorkerRequest =
  | {
      seq: number;
      type: 'start';
      dataDir: string;
      runId: number;
      /** Continue from runs/<id>/latest. */
      resume: boolean;
      /** Fine-tune: the checkpoint directory to start from. */
      initFrom?: string;
    }
  | { seq: number; type: 'pause' }
  | { seq: number; type: 'resume' }
  | { seq: number; type: 'stop' }
  /** Diagnostics for the soak test (scripts/soak.ts): answered by a `stats` message. */
  | { seq: number; type: 'stats' };

/** What a process holds: TF.js tensors and bytes, resident memory, open file handles. */
export interface ProcessStats {
  numTensors: number;
  numBytes: number;
  rss: number;
  openFiles: number | null;
}

export type WorkerMessage =
  | { type: 'ready'; pid: number }
  | { type: 'ack'; seq: number; ok: true }
  | { type: 'ack'; seq: number; ok: false; code: string; message: string }
  | { type: 'event'; runId: number; event: TrainEvent }
  | { type: 'status'; runId: number; status: 'running' | 'paused' }
  | { type: 'stats'; seq: number; stats: ProcessStats }
  /** Sent last, once the database is closed; the process then exits 0. */
  | { type: 'exit'; runId: number; status: 'completed' | 'stopped' | 'failed'; error: string | null };

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

export function isWorkerRequest(m: unknown): m is WorkerRequest {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && typeof (m as { seq?: unknown }).seq === 'number';
}

/**
 * Starting a training process, independent of how (src/services/spawn.ts: child_process.fork under
 * Node; src/main/launcher.ts: utilityProcess.fork in Electron).
 */
export interface TrainerHandle {
  pid: number | undefined;
  send(msg: WorkerRequest): void;
  onMessage(cb: (msg: WorkerMessage) => void): void;
  /** code null when killed by a signal (signal then names it). */
  onExit(cb: (code: number | null, signal: string | null) => void): void;
  /** Hard kill (SIGKILL); a polite stop is the 'stop' request. */
  kill(): void;
  /** Lines the process wrote to stderr (the last few kilobytes), for the error text of a crash. */
  stderrTail?(): string;
}

export interface LaunchOptions {
  /** Absolute path of the worker entry (TypeScript under Node+tsx, built JS under Electron). */
  entry: string;
  /** The process's environment (a NodeJS.ProcessEnv; written plainly so this file needs no Node types). */
  env: Record<string, string | undefined>;
}

export type TrainerLauncher = (opts: LaunchOptions) => TrainerHandle;
