/**
 * Issue 15, items 8, 9 and 10, with real training processes: removing a corpus is all or nothing,
 * a run stopped in its first moments is stopped (and can be started again), and the error codes
 * that used to be wrong or raw (unknown ids, pause of a finished run, a run deleted mid-sampling).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type RunEvent, type Services } from '../../src/services/index.ts';
import { tempDir } from '../store/helpers.ts';

const TINY = { rnnSize: 16, numLayers: 1, batchSize: 16, seqLength: 16, evalEvery: 10, sampleEvery: 0, backend: 'cpu' as const, threads: 1 };

let d: string;
let s: Services;
const events: RunEvent[] = [];

beforeAll(async () => {
  d = tempDir();
  s = await createServices({ dataDir: d });
  s.runs.onEvent((e) => events.push(e));
});
afterAll(async () => {
  await s.close();
  fs.rmSync(d, { recursive: true, force: true });
});

function waitFor(pred: (e: RunEvent) => boolean): Promise<RunEvent> {
  return new Promise((resolve) => {
    const found = events.find(pred);
    if (found) return resolve(found);
    const off = s.runs.onEvent((e) => {
      if (pred(e)) {
        off();
        resolve(e);
      }
    });
  });
}
const status = (runId: number, st: string) => (e: RunEvent) => e.runId === runId && e.kind === 'status' && e.status === st;
const trainEvent = (runId: number, type: string) => (e: RunEvent) => e.runId === runId && e.kind === 'train' && e.event.type === type;

async function corpus(name: string): Promise<number> {
  const text =
    Array.from({ length: 400 }, (_, i) => `${name}${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + ((i * 7) % 26))}`).join('\n') + '\n';
  return (await s.library.importCorpus({ text, name }, { mode: 'lines' })).corpus.id;
}

async function finishedRun(corpusId: number): Promise<number> {
  const run = await s.runs.startRun({ corpusId, config: { ...TINY, maxIters: 20 } });
  await waitFor(status(run.id, 'completed'));
  // 'completed' comes just before the process exits; the run is finished once it has.
  while ((s.runs as unknown as { isLive(id: number): boolean }).isLive(run.id)) await new Promise((r) => setTimeout(r, 50));
  return run.id;
}

describe('runs and the library under awkward timing', () => {
  it('a run stopped in its first moments is stopped, not failed, and starts again on resume', async () => {
    const corpusId = await corpus('early');
    const run = await s.runs.startRun({ corpusId, config: { ...TINY, maxIters: 100_000 } });
    await s.runs.stopRun(run.id);
    const stopped = await s.runs.getRun(run.id);
    expect(stopped.status).toBe('stopped');
    expect(stopped.error).toBeNull();
    const again = await s.runs.resumeRun(run.id);
    expect(again.status).toBe('running');
    await waitFor((e) => trainEvent(run.id, 'checkpoint')(e));
    await s.runs.stopRun(run.id);
    expect((await s.runs.getRun(run.id)).status).toBe('stopped');
    await s.runs.deleteRun(run.id);
  });

  it('library.remove {force} with one run training deletes nothing; once stopped, deletes everything', async () => {
    const corpusId = await corpus('both');
    const done = await finishedRun(corpusId);
    const training = await s.runs.startRun({ corpusId, config: { ...TINY, maxIters: 100_000 } });
    await waitFor(trainEvent(training.id, 'progress'));
    await expect(s.library.deleteCorpus(corpusId, { force: true })).rejects.toMatchObject({ code: 'RUN_ACTIVE' });
    // Nothing went: the finished run, its folder and the corpus are all still there.
    expect((await s.runs.getRun(done)).status).toBe('completed');
    expect(fs.existsSync(path.join(d, 'runs', String(done), 'latest', 'model.json'))).toBe(true);
    expect((await s.library.getCorpus(corpusId)).id).toBe(corpusId);
    await s.runs.stopRun(training.id);
    await s.library.deleteCorpus(corpusId, { force: true });
    for (const id of [done, training.id]) {
      await expect(s.runs.getRun(id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(fs.existsSync(path.join(d, 'runs', String(id)))).toBe(false);
    }
    await expect(s.library.getCorpus(corpusId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('wrong ids and finished runs get the right codes', async () => {
    const corpusId = await corpus('codes');
    const run = await finishedRun(corpusId);
    await expect(s.runs.pauseRun(run)).rejects.toMatchObject({ code: 'RUN_NOT_ACTIVE', message: expect.stringMatching(/not training.*completed/) });
    await expect(s.runs.continueRun(run)).rejects.toMatchObject({ code: 'RUN_NOT_ACTIVE' });
    await expect(s.runs.pauseRun(999_999)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const sample = { runId: 999_999, mode: 'lines' as const, text: 'Ada' };
    await expect(s.gallery.saveSample(sample)).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/no run with id 999999/) });
    await expect(s.gallery.saveSample({ runId: run, checkpointId: 999_999, mode: 'lines', text: 'Ada' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/checkpoint/),
    });
    await expect(s.gallery.saveSamples([{ runId: run, mode: 'lines', text: 'Bea' }, sample])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await s.gallery.listSamples({ search: 'Bea' })).total).toBe(0); // all or nothing
    await expect(s.drafts.saveDraft({ title: 't', text: 'x', runId: 999_999 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const before = (await s.drafts.listDrafts()).length;
    await expect(s.drafts.saveDraft({ id: 999_999, title: 't', text: 'x' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/no draft/),
    });
    expect((await s.drafts.listDrafts()).length).toBe(before);
  });

  it('a run deleted while another client samples it: a clear NOT_FOUND, not ENOENT', async () => {
    const corpusId = await corpus('gone');
    const run = await finishedRun(corpusId);
    // The model thread starts on this first use and reads the checkpoint after the delete below.
    const sampling = s.generation.sampleLines({ runId: run, count: 5 });
    await s.runs.deleteRun(run);
    await expect(sampling).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/was deleted while it was being sampled/) });
  });
});
