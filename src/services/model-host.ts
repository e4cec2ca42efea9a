/**
 * ModelHost: the services' handle on the model thread (src/worker/model-thread.ts). Sampling and
 * inspection run there, off the thread that answers the UI; requests can be cancelled (a temperature
 * slider re-sampling as it moves cancels the previous request).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CharmerError, type CharmerErrorCode } from '../common/errors.ts';
import type { InspectChunk, LineSample, NameCard, PositionAttention, SampleResult } from '../engine/index.ts';
import type { ProcessStats } from '../common/train-protocol.ts';
import type {
  AttentionScan,
  InspectRequestOptions,
  LinesRequestOptions,
  ModelReply,
  ModelRequest,
  NameCardRequestOptions,
  TextRequestOptions,
} from '../common/model-protocol.ts';

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  onPart?(m: ModelReply): void;
}

type Request = ModelRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

function threadUrl(): URL {
  // Electron's build: out/main/model-thread.js, beside the bundle or one folder up from a chunk.
  // The sources run through tsx.
  for (const rel of ['./model-thread.js', '../model-thread.js']) {
    const bundled = new URL(rel, import.meta.url);
    if (bundled.protocol === 'file:' && existsSync(fileURLToPath(bundled))) return bundled;
  }
  return new URL('../worker/model-thread-entry.mjs', import.meta.url);
}

export class ModelHost {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(threadUrl());
    w.on('message', (m: ModelReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.type === 'done' || m.type === 'error') {
        this.pending.delete(m.id);
        // An idle thread must not keep the process alive; a busy one must.
        if (this.pending.size === 0) w.unref();
        if (m.type === 'done') p.resolve(m.result);
        else p.reject(new CharmerError(m.code as CharmerErrorCode, m.message, m.details ?? {}));
      } else p.onPart?.(m);
    });
    const fail = (why: string) => {
      this.worker = null;
      for (const p of this.pending.values()) p.reject(new Error(`The model thread stopped: ${why}`));
      this.pending.clear();
    };
    w.on('error', (e) => fail(e.message));
    w.on('exit', (code) => fail(`exit code ${code}`));
    w.unref();
    this.worker = w;
    return w;
  }

  private request<T>(req: Request, signal?: AbortSignal, onPart?: (m: ModelReply) => void): Promise<T> {
    const id = this.nextId++;
    const w = this.thread();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onPart });
      w.ref();
      if (signal) {
        if (signal.aborted) w.postMessage({ id: this.nextId++, type: 'cancel', target: id });
        else signal.addEventListener('abort', () => w.postMessage({ id: this.nextId++, type: 'cancel', target: id }), { once: true });
      }
      w.postMessage({ ...req, id });
    });
  }

  sampleLines(dir: string, opts: LinesRequestOptions, signal?: AbortSignal): Promise<LineSample[]> {
    return this.request({ type: 'sampleLines', dir, opts }, signal);
  }

  sampleText(dir: string, opts: TextRequestOptions, onText: (chunk: string) => void, signal?: AbortSignal): Promise<SampleResult> {
    return this.request({ type: 'sampleText', dir, opts }, signal, (m) => m.type === 'text' && onText(m.chunk));
  }

  nameCard(dir: string, text: string, opts: NameCardRequestOptions, signal?: AbortSignal): Promise<NameCard> {
    return this.request({ type: 'nameCard', dir, text, opts }, signal);
  }

  inspect(dir: string, text: string, opts: InspectRequestOptions, onChunk: (chunk: InspectChunk) => void, signal?: AbortSignal): Promise<void> {
    return this.request<null>({ type: 'inspect', dir, text, opts }, signal, (m) => m.type === 'chunk' && onChunk(m.chunk)).then(() => undefined);
  }

  attention(dir: string, text: string, onProgress: (p: { done: number; total: number }) => void, signal?: AbortSignal): Promise<AttentionScan> {
    return this.request<AttentionScan>({ type: 'attention', dir, text }, signal, (m) => m.type === 'progress' && onProgress({ done: m.done, total: m.total }));
  }

  attentionAt(dir: string, text: string, position: number): Promise<PositionAttention> {
    return this.request<PositionAttention>({ type: 'attentionAt', dir, text, position });
  }

  /** The model thread's tensors (null when it has not started). For the soak test. */
  async stats(): Promise<ProcessStats | null> {
    if (!this.worker) return null;
    return this.request<ProcessStats>({ type: 'stats' });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
