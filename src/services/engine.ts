/**
 * The part of the engine (src/engine/index.ts, docs/ENGINE.md) that training needs, loaded lazily so
 * that opening the library never pays for TensorFlow.js. CHARMER_ENGINE_MODULE may name another
 * module with the same exports (the tests use a tiny deterministic one to exercise crashes quickly).
 */
import { pathToFileURL } from 'node:url';
import type { TrainConfig } from '../common/options.ts';
import type { TrainEvent } from '../common/events.ts';
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
let provided: (() => Promise<unknown>) | null = null;

/**
 * For a host that bundles the engine itself (the command line's build, scripts/build-cli.mjs): loading
 * it again by path would run the sources beside the bundled copy, two engines on one TensorFlow.js.
 */
export function provideEngine(load: () => Promise<unknown>): void {
  provided = load;
}

export function loadEngine(): Promise<EngineApi> {
  if (!cached) {
    const override = process.env.CHARMER_ENGINE_MODULE;
    const spec = override ? pathToFileURL(override).href : new URL('../engine/index.ts', import.meta.url).href;
    const load = !override && provided ? provided : () => import(/* @vite-ignore */ spec);
    cached = (load() as Promise<EngineApi>).then((m) => {
      if (typeof m.train !== 'function' || typeof m.loadCorpus !== 'function') {
        throw new Error(`${spec} does not export train() and loadCorpus()`);
      }
      return m;
    });
  }
  return cached;
}
