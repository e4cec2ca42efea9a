/** What every open does after a crash: interrupted runs, checkpoint rows that match the files. */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.ts';
import { createServices } from '../../src/services/index.ts';
import { tempDirPerTest, writeFakeCheckpoint } from './helpers.ts';

const dir = tempDirPerTest();

/** A pid that surely belongs to no process: one that just exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout as unknown as number;
}

function seedRun(store: Store, status: 'running' | 'paused' | 'completed', pid: number | null) {
  const c =
    store.getCorpusByHash('h') ??
    store.insertCorpus({ name: 'c', mode: 'text', bytes: 1, chars: 1, vocabSize: 1, lines: 1, hash: 'h', sourcePath: null, charCounts: {} });
  const run = store.createRun({ corpusId: c.id, name: 'r', config: { mode: 'text' } });
  store.updateRun(run.id, { status, pid });
  store.writeMetrics(
    run.id,
    Array.from({ length: 30 }, (_, i) => ({ iteration: i + 1, epoch: 0, trainLoss: 3 - i / 30, valLoss: null, lr: 0.002, charsPerS: 100, elapsedS: i })),
  );
  return run.id;
}

describe('recovery on open', () => {
  it('marks a run whose process is gone interrupted, trims metrics past its latest checkpoint, restores rows', () => {
    const d = dir();
    let store = openStore(d);
    const id = seedRun(store, 'running', Number(deadPid()));
    writeFakeCheckpoint(path.join(store.runDir(id), 'latest'), 20);
    writeFakeCheckpoint(path.join(store.runDir(id), 'best'), 20, 2.1);
    // killed after the latest files were written but before its row: no checkpoint rows at all
    store.close();
    store = openStore(d);
    expect(store.recovery.interrupted).toEqual([id]);
    const run = store.getRun(id)!;
    expect(run.status).toBe('interrupted');
    expect(run.resumable).toBe(true);
    expect(store.listCheckpoints(id).map((c) => [c.kind, c.iteration])).toEqual([
      ['best', 20],
      ['latest', 20],
    ]);
    expect(store.lastMetricIteration(id)).toBe(20);
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    store.close();
  });

  it('leaves a run whose process is alive alone', () => {
    const d = dir();
    let store = openStore(d);
    const id = seedRun(store, 'running', process.pid);
    store.close();
    store = openStore(d);
    expect(store.getRun(id)!.status).toBe('running');
    expect(store.lastMetricIteration(id)).toBe(30);
    store.close();
  });

  it('finishes a checkpoint swap that a crash cut in half (.latest.old) and removes temporary folders', () => {
    const d = dir();
    let store = openStore(d);
    const id = seedRun(store, 'running', Number(deadPid()));
    const runDir = store.runDir(id);
    writeFakeCheckpoint(path.join(runDir, '.latest.old'), 10);
    fs.mkdirSync(path.join(runDir, '.latest.tmp-123-456'), { recursive: true });
    fs.writeFileSync(path.join(runDir, '.latest.tmp-123-456', 'weights.bin'), 'half');
    store.close();
    store = openStore(d);
    expect(fs.readdirSync(runDir).sort()).toEqual(['latest']);
    expect(store.listCheckpoints(id).map((c) => [c.kind, c.iteration])).toEqual([['latest', 10]]);
    expect(store.lastMetricIteration(id)).toBe(10);
    store.close();
  });

  it('a checkpoint deleted by hand: its row goes, and resuming says what happened', async () => {
    const d = dir();
    const store = openStore(d);
    const id = seedRun(store, 'completed', null);
    for (const kind of ['best', 'latest'] as const) {
      writeFakeCheckpoint(path.join(store.runDir(id), kind), 30);
      store.upsertCheckpoint(id, kind, 30, 2, path.join(store.runDir(id), kind));
    }
    store.close();
    fs.rmSync(path.join(d, 'runs', String(id), 'latest'), { recursive: true });
    const services = await createServices({ dataDir: d });
    const run = await services.runs.getRun(id);
    expect(run.checkpoints.map((c) => c.kind)).toEqual(['best']);
    expect(run.resumable).toBe(false);
    for (const c of run.checkpoints) expect(fs.existsSync(path.join(c.path, 'model.json'))).toBe(true);
    await expect(services.runs.resumeRun(id)).rejects.toMatchObject({
      code: 'CHECKPOINT_MISSING',
      message: expect.stringMatching(/no checkpoint to continue from.*deleted by hand/),
    });
    // deleted while the library is open: getRun notices too
    fs.rmSync(path.join(d, 'runs', String(id), 'best'), { recursive: true });
    expect((await services.runs.getRun(id)).checkpoints).toEqual([]);
    await services.close();
  });
});
