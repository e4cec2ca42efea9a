/**
 * Messages between the services (ModelHost, src/services/model-host.ts) and the model thread
 * (src/worker/model-thread.ts) that loads checkpoints and samples / inspects off the main thread.
 * Each request has an `id`; streamed parts and the final answer carry the same id.
 */
import type { ProcessStats } from './protocol.ts';
import type { Novelty } from '../common/enums.ts';
import type { InspectChunk, LineSample, NameCard, SampleLinesOptions, SampleResult, SampleTextOptions } from '../engine/index.ts';

export interface NameCardRequestOptions {
  category?: Record<string, string> | null;
  novelty?: Novelty | null;
}

export type LinesRequestOptions = Omit<SampleLinesOptions, 'items' | 'signal'>;
export type TextRequestOptions = Omit<SampleTextOptions, 'signal'>;
export interface InspectRequestOptions {
  topK?: number;
  chunkSize?: number;
  skipUnknown?: boolean;
}

export type ModelRequest =
  | { id: number; type: 'sampleLines'; dir: string; opts: LinesRequestOptions }
  | { id: number; type: 'sampleText'; dir: string; opts: TextRequestOptions }
  | { id: number; type: 'inspect'; dir: string; text: string; opts: InspectRequestOptions }
  | { id: number; type: 'nameCard'; dir: string; text: string; opts: NameCardRequestOptions }
  | { id: number; type: 'cancel'; target: number }
  /** Diagnostics for the soak test: the thread's tensors (answered with done). */
  | { id: number; type: 'stats' };

export type ModelReply =
  | { id: number; type: 'text'; chunk: string }
  | { id: number; type: 'chunk'; chunk: InspectChunk }
  | { id: number; type: 'done'; result: LineSample[] | SampleResult | NameCard | ProcessStats | null }
  | { id: number; type: 'error'; code: string; message: string; details?: Record<string, unknown> };
