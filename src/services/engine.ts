/**
 * The part of the engine (src/engine/index.ts, docs/ENGINE.md) that training needs, loaded lazily so
 * that opening the library never pays for TensorFlow.js. CHARMER_ENGINE_MODULE may name another
 * module with the same exports (the tests use a tiny deterministic one to exercise crashes quickly).
 */
import { pathToFileURL } from 'node:url';
import type { TrainConfig } from '../common/options.ts';
import type { TrainEvent } from '../engine/events.ts';
import type { CorpusMode } from '../common/enums.ts';

export interface TrainOptions {
  corpus: unknown;
  config: Partial<TrainConfig>;
  out: string;
  resume?: boolean;
  initFrom?: string;
  signal?: AbortSignal;
}

export interface EngineApi {
  loadCorpus(source: string, opts?: { mode?: CorpusMode; signal?: AbortSignal }): Promise<unknown>;
  train(opts: TrainOptions): AsyncGenerator<TrainEvent>;
}

let cached: Promise<EngineApi> | null = null;

export function loadEngine(): Promise<EngineApi> {
  if (!cached) {
    const override = process.env.CHARMER_ENGINE_MODULE;
    const spec = override ? pathToFileURL(override).href : new URL('../engine/index.ts', import.meta.url).href;
    cached = (import(/* @vite-ignore */ spec) as Promise<EngineApi>).then((m) => {
      if (typeof m.train !== 'function' || typeof m.loadCorpus !== 'function') {
        throw new Error(`${spec} does not export train() and loadCorpus()`);
      }
      return m;
    });
  }
  return cached;
}
