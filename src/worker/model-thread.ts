/**
 * The model thread: loads checkpoints (a few kept warm) and answers sampling and inspection
 * requests, streaming text and inspection chunks back. A worker thread, so neither Electron's main
 * process nor browser mode's server stops answering while a model runs.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import {
  attentionAt,
  attentionSourceOf,
  buildNameCard,
  encodeKnown,
  chooseBackend,
  inspectText,
  scanAttention,
  isCharmerError,
  loadCheckpoint,
  resolveCheckpointDir,
  sampleLines,
  sampleText,
  type BackendName,
  type CheckpointData,
} from '../engine/index.ts';
import type { ModelReply, ModelRequest } from '../common/model-protocol.ts';
import { processStats } from '../engine/stats.ts';

const port = parentPort!;
const KEEP = 3;
/**
 * Loaded checkpoints, newest use last. A model in use by a request is never disposed under it: a
 * newer checkpoint (a training run wrote best/ or latest/ again) or the cache limit retires an
 * entry, and the last request using a retired entry disposes it. Requests arriving while a
 * checkpoint loads share that load. (Before, a request disposed the model another request was
 * sampling from: "Container 'charmer' is already disposed", found by the soak test.)
 */
interface Entry {
  key: string;
  data: CheckpointData;
  users: number;
  retired: boolean;
}
const loaded = new Map<string, Entry>();
const loading = new Map<string, Promise<Entry>>();
const running = new Map<number, AbortController>();

function send(m: ModelReply): void {
  port.postMessage(m);
}

function retire(e: Entry): void {
  e.retired = true;
  if (e.users === 0) e.data.model.dispose();
}

function release(e: Entry): void {
  e.users--;
  if (e.retired && e.users === 0) e.data.model.dispose();
}

/**
 * A checkpoint, reloaded when its model.json changed; call release() when done with it. A training
 * run replaces its checkpoint folder by renames, so a read can fall between them (the folder gone
 * for a moment, or moved aside mid-read: ENOENT, found by the soak test): a failed load is tried
 * again a few times before its error is the answer.
 */
async function acquire(dir: string): Promise<Entry> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await acquireOnce(dir);
    } catch (e) {
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 25 * 2 ** attempt));
    }
  }
}

async function acquireOnce(dir: string): Promise<Entry> {
  const path = await resolveCheckpointDir(dir);
  const key = `${path}:${statSync(join(path, 'model.json')).mtimeMs}`;
  const hit = loaded.get(dir);
  if (hit?.key === key) {
    loaded.delete(dir);
    loaded.set(dir, hit);
    hit.users++;
    return hit;
  }
  let pending = loading.get(key);
  if (!pending) {
    pending = loadCheckpoint(dir).then((data) => {
      const entry: Entry = { key, data, users: 0, retired: false };
      const old = loaded.get(dir);
      loaded.delete(dir);
      if (old) retire(old);
      loaded.set(dir, entry);
      while (loaded.size > KEEP) {
        const [oldest, e] = loaded.entries().next().value as [string, Entry];
        loaded.delete(oldest);
        retire(e);
      }
      return entry;
    });
    loading.set(key, pending);
    void pending.finally(() => loading.delete(key)).catch(() => {});
  }
  const entry = await pending;
  entry.users++;
  return entry;
}

async function handle(req: Exclude<ModelRequest, { type: 'cancel' }>, signal: AbortSignal): Promise<void> {
  if (req.type === 'stats') {
    send({ id: req.id, type: 'done', result: await processStats() });
    return;
  }
  const entry = await acquire(req.dir);
  try {
    await answer(req, entry.data, signal);
  } finally {
    release(entry);
  }
}

async function answer(req: Exclude<ModelRequest, { type: 'cancel' | 'stats' }>, ck: CheckpointData, signal: AbortSignal): Promise<void> {
  if (req.type === 'sampleLines') {
    send({ id: req.id, type: 'done', result: await sampleLines(ck.model, { ...req.opts, items: ck.items, signal }) });
    return;
  }
  if (req.type === 'nameCard') {
    send({
      id: req.id,
      type: 'done',
      result: await buildNameCard(req.text, {
        model: ck.model,
        ...(ck.items ? { items: ck.items } : {}),
        category: req.opts.category ?? null,
        novelty: req.opts.novelty ?? null,
      }),
    });
    return;
  }
  if (req.type === 'attention' || req.type === 'attentionAt') {
    const src = attentionSourceOf(ck.model);
    const { ids, chars, skipped } = encodeKnown(ck.model, req.text);
    if (req.type === 'attentionAt') {
      send({ id: req.id, type: 'done', result: await attentionAt(src, ids, req.position) });
      return;
    }
    const ranking = await scanAttention(src, ids, chars, { signal, onProgress: (p) => send({ id: req.id, type: 'progress', ...p }) });
    send({ id: req.id, type: 'done', result: { chars, skipped, blockSize: src.blockSize, ranking } });
    return;
  }
  if (req.type === 'sampleText') {
    const gen = sampleText(ck.model, { ...req.opts, signal });
    let buffer = '';
    let last = performance.now();
    for (;;) {
      const r = await gen.next();
      if (r.done) {
        if (buffer) send({ id: req.id, type: 'text', chunk: buffer });
        send({ id: req.id, type: 'done', result: r.value });
        return;
      }
      buffer += r.value;
      // About 60 messages a second at most: streaming stays smooth without flooding the port.
      if (performance.now() - last > 16) {
        send({ id: req.id, type: 'text', chunk: buffer });
        buffer = '';
        last = performance.now();
        // The model's reads resolve as microtasks: give the thread a turn so a cancel can arrive.
        await new Promise((r) => setImmediate(r));
      }
    }
  }
  for await (const chunk of inspectText(ck.model, req.text, { ...req.opts, signal })) send({ id: req.id, type: 'chunk', chunk });
  send({ id: req.id, type: 'done', result: null });
}

const ready = chooseBackend((process.env.CHARMER_BACKEND as BackendName | undefined) ?? 'auto');

port.on('message', (req: ModelRequest) => {
  if (req.type === 'cancel') {
    running.get(req.target)?.abort();
    return;
  }
  const controller = new AbortController();
  running.set(req.id, controller);
  ready
    .then(() => handle(req, controller.signal))
    .catch((e: unknown) => {
      if (isCharmerError(e)) send({ id: req.id, type: 'error', code: e.code, message: e.message, details: e.details });
      else send({ id: req.id, type: 'error', code: 'INTERNAL', message: (e as Error)?.message ?? String(e) });
    })
    .finally(() => running.delete(req.id));
});
