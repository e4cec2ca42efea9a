/**
 * The runs service with the real engine and a real training process (a tiny model on the built-in
 * names, cpu backend): live events, reads that never block the writer, pause, stop, resume from the
 * latest checkpoint, and a crashed process marked failed.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type RunEvent, type Services } from '../../src/services/index.ts';
import { nodeLauncher, type TrainerHandle } from '../../src/services/spawn.ts';
import { tempDir } from '../store/helpers.ts';

const TINY = {
  rnnSize: 16,
  numLayers: 1,
  batchSize: 16,
  seqLength: 16,
  evalEvery: 10,
  sampleEvery: 10,
  sampleLength: 3,
  backend: 'cpu' as const,
  maxIters: 100_000,
};

let d: string;
let s: Services;
const handles: TrainerHandle[] = [];
const events: RunEvent[] = [];

beforeAll(async () => {
  d = tempDir();
  s = await createServices({
    dataDir: d,
    launcher: (o) => {
      const h = nodeLauncher(o);
      handles.push(h);
      return h;
    },
  });
  s.runs.onEvent((e) => events.push(e));
});
afterAll(async () => {
  await s.close();
  fs.rmSync(d, { recursive: true, force: true });
});

function waitFor(pred: (e: RunEvent) => boolean, timeoutMs = 60_000): Promise<RunEvent> {
  return new Promise((resolve, reject) => {
    const found = events.find(pred);
    if (found) return resolve(found);
    const timer = setTimeout(() => reject(new Error('timed out waiting for an event')), timeoutMs);
    const off = s.runs.onEvent((e) => {
      if (pred(e)) {
        clearTimeout(timer);
        off();
        resolve(e);
      }
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runs', () => {
  it('trains in its own process; readers never block it; pause, stop, resume from latest', async () => {
    const names = (await s.library.listCorpora())[0]!;
    const run = await s.runs.startRun({ corpusId: names.id, config: TINY });
    expect(run.status).toBe('running');
    expect(s.runs.onEvent).toBeTypeOf('function');

    // A second connection (another window) reading all the while, like the UI's chart.
    const reader = new Database(path.join(d, 'charmer.db'), { readonly: true });
    reader.pragma('busy_timeout = 0'); // a blocked read would throw at once
    let reads = 0;
    let last = 0;
    const seen: number[] = [];
    const poll = setInterval(() => {
      const n = (reader.prepare('SELECT count(*) AS n FROM metrics WHERE run_id = ?').get(run.id) as { n: number }).n;
      expect(n).toBeGreaterThanOrEqual(last);
      last = n;
      seen.push(n);
      reads++;
    }, 5);
    const firstCkpt = (await waitFor((e) => e.runId === run.id && e.kind === 'train' && e.event.type === 'checkpoint' && e.event.kind === 'latest')) as Extract<
      RunEvent,
      { kind: 'train' }
    >;
    const detail = await s.runs.getRun(run.id);
    expect(detail.checkpoints.some((c) => c.kind === 'latest')).toBe(true);
    expect(detail.metrics.length).toBeGreaterThan(0);
    expect(detail.backend).toBe('cpu');

    await s.runs.pauseRun(run.id);
    await waitFor((e) => e.runId === run.id && e.kind === 'status' && e.status === 'paused');
    expect((await s.runs.getRun(run.id)).status).toBe('paused');
    const before = events.length;
    await sleep(400);
    expect(events.slice(before).filter((e) => e.kind === 'train' && e.event.type === 'progress')).toEqual([]);
    await s.runs.continueRun(run.id);
    await waitFor((e) => e.runId === run.id && e.kind === 'train' && e.event.type === 'progress' && events.indexOf(e) >= before);

    await s.runs.stopRun(run.id);
    clearInterval(poll);
    reader.close();
    expect(reads).toBeGreaterThan(20);
    expect(new Set(seen).size).toBeGreaterThan(1); // it saw the metrics grow
    const stopped = await s.runs.getRun(run.id);
    expect(stopped.status).toBe('stopped');
    expect(stopped.resumable).toBe(true);
    expect(stopped.trainingSamples.length).toBeGreaterThan(0);
    const latest = stopped.checkpoints.find((c) => c.kind === 'latest')!;
    expect(latest.iteration).toBeGreaterThanOrEqual((firstCkpt.event as { iteration: number }).iteration);
    expect(Math.max(...stopped.metrics.map((m) => m.iteration))).toBe(latest.iteration);
    // Batched: the worker wrote all those metrics in far fewer transactions than iterations (WAL frames are per commit).

    const n = events.length;
    await s.runs.resumeRun(run.id);
    const start = (await waitFor((e) => e.runId === run.id && e.kind === 'train' && e.event.type === 'start' && events.indexOf(e) >= n)) as Extract<
      RunEvent,
      { kind: 'train' }
    >;
    expect((start.event as { startIteration: number }).startIteration).toBe(latest.iteration);
    await waitFor((e) => e.runId === run.id && e.kind === 'train' && e.event.type === 'progress' && events.indexOf(e) > n);
    await s.runs.stopRun(run.id);
    const after = await s.runs.getRun(run.id);
    expect(after.status).toBe('stopped');
    expect(after.iterations).toBeGreaterThan(latest.iteration);

    await expect(s.runs.deleteRun(run.id)).resolves.toBeUndefined();
    expect(fs.existsSync(path.join(d, 'runs', String(run.id)))).toBe(false);
    await expect(s.runs.getRun(run.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a training process that dies marks its run failed with what happened', async () => {
    const names = (await s.library.listCorpora())[0]!;
    const run = await s.runs.startRun({ corpusId: names.id, config: TINY });
    await waitFor((e) => e.runId === run.id && e.kind === 'train' && e.event.type === 'checkpoint' && e.event.kind === 'latest');
    await expect(s.runs.deleteRun(run.id)).rejects.toMatchObject({ code: 'RUN_ACTIVE' });
    handles.at(-1)!.kill();
    const ev = (await waitFor((e) => e.runId === run.id && e.kind === 'status' && e.status === 'failed')) as Extract<RunEvent, { kind: 'status' }>;
    expect(ev.error).toMatch(/ended unexpectedly \(signal SIGKILL\).*Resume/);
    const r = await s.runs.getRun(run.id);
    expect(r).toMatchObject({ status: 'failed', resumable: true });
    expect(r.error).toMatch(/SIGKILL/);
  });
});
