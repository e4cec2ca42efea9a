/**
 * The model thread: loads checkpoints (a few kept warm) and answers sampling and inspection
 * requests, streaming text and inspection chunks back. A worker thread, so neither Electron's main
 * process nor browser mode's server stops answering while a model runs.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { buildNameCard, chooseBackend, inspectText, isCharmerError, loadCheckpoint, resolveCheckpointDir, sampleLines, sampleText, type BackendName, type CheckpointData } from '../engine/index.ts';
import type { ModelReply, ModelRequest } from './model-protocol.ts';

const port = parentPort!;
const KEEP = 3;
const loaded = new Map<string, { key: string; data: CheckpointData }>();
const running = new Map<number, AbortController>();

function send(m: ModelReply): void {
  port.postMessage(m);
}

/** A checkpoint, reloaded when its model.json changed (a run wrote a newer best/latest). */
async function checkpoint(dir: string): Promise<CheckpointData> {
  const path = await resolveCheckpointDir(dir);
  const key = `${path}:${statSync(join(path, 'model.json')).mtimeMs}`;
  const hit = loaded.get(dir);
  if (hit?.key === key) {
    loaded.delete(dir);
    loaded.set(dir, hit);
    return hit.data;
  }
  hit?.data.model.dispose();
  const data = await loadCheckpoint(dir);
  loaded.set(dir, { key, data });
  while (loaded.size > KEEP) {
    const [oldest, entry] = loaded.entries().next().value as [string, { data: CheckpointData }];
    entry.data.model.dispose();
    loaded.delete(oldest);
  }
  return data;
}

async function handle(req: Exclude<ModelRequest, { type: 'cancel' }>, signal: AbortSignal): Promise<void> {
  const ck = await checkpoint(req.dir);
  if (req.type === 'sampleLines') {
    send({ id: req.id, type: 'done', result: await sampleLines(ck.model, { ...req.opts, items: ck.items, signal }) });
    return;
  }
  if (req.type === 'nameCard') {
    send({ id: req.id, type: 'done', result: await buildNameCard(req.text, { model: ck.model, ...(ck.items ? { items: ck.items } : {}), category: req.opts.category ?? null, novelty: req.opts.novelty ?? null }) });
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
