/**
 * Issue 15, item 3: a real `charmer serve` training a run is killed with SIGKILL. Its training
 * process notices its IPC channel close and exits by itself (before, it trained on, unseen and
 * unstoppable); a restarted server shows the run interrupted, resumes it, and pause, stop and remove
 * all work. Waits follow events and process exits, with generous limits for a busy CI machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { serve, type Served } from '../e2e/helpers.ts';
import { connectApi } from './raw.ts';
import { pidAlive } from '../../src/store/recovery.ts';
import type { RunEvent } from '../../src/services/types.ts';

let dir: string;
let dataDir: string;
const servers: Served[] = [];
const tokenOf = (s: Served) => new URL(s.url).searchParams.get('token')!;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'charmer-orphan-'));
  dataDir = join(dir, 'library');
});

afterAll(async () => {
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

function trainingPid(runId: number): number | null {
  const db = new Database(join(dataDir, 'charmer.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT pid FROM runs WHERE id = ?').get(runId) as { pid: number | null }).pid;
  } finally {
    db.close();
  }
}

/** Resolves when `pid` has ended (it is not our child, so there is no exit event): checked every 100 ms. */
async function ended(pid: number, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !pidAlive(pid);
}

const config = { rnnSize: 32, numLayers: 1, batchSize: 16, seqLength: 16, evalEvery: 25, sampleEvery: 0, maxTime: 3600, maxEpochs: 1000, threads: 1 };
const isTrain =
  (runId: number, type: string, min = 0) =>
  (e: RunEvent) =>
    e.runId === runId && e.kind === 'train' && e.event.type === type && ('iteration' in e.event ? e.event.iteration >= min : true);
const isStatus = (runId: number, status: string) => (e: RunEvent) => e.runId === runId && e.kind === 'status' && e.status === status;

describe('a training process whose server was killed', () => {
  it('exits by itself; after a restart the run is interrupted and can be resumed, paused, stopped and removed', async () => {
    const first = await serve(dataDir);
    servers.push(first);
    const api = await connectApi(first.port, tokenOf(first));
    const corpus = ((await api.call('library.list', {})).result as Array<{ id: number }>)[0]!;
    const started = await api.call('runs.start', { corpusId: corpus.id, config });
    expect(started.error).toBeNull();
    const runId = (started.result as { id: number }).id;
    // Training for real, with a checkpoint on disk.
    await api.waitEvent<RunEvent>('runEvent', isTrain(runId, 'checkpoint'));
    const progressed = await api.waitEvent<RunEvent>('runEvent', isTrain(runId, 'progress', 30));
    expect(progressed).toBeTruthy();
    const pid = trainingPid(runId)!;
    expect(pidAlive(pid)).toBe(true);
    const lastSeen = Math.max(
      ...api.seen<RunEvent>('runEvent').map((e) => (e.runId === runId && e.kind === 'train' && e.event.type === 'progress' ? e.event.iteration : 0)),
    );
    api.close();

    const gone = new Promise((r) => first.proc.once('exit', r));
    first.proc.kill('SIGKILL');
    await gone;
    // "Within a few seconds" on an idle machine; the limit is for a loaded CI box.
    expect(await ended(pid, 60_000)).toBe(true);

    const second = await serve(dataDir);
    servers.push(second);
    const api2 = await connectApi(second.port, tokenOf(second));
    const after = await api2.call('runs.get', { id: runId });
    expect(after.result).toMatchObject({ status: 'interrupted' });
    const latest = (after.result as { checkpoints: Array<{ kind: string; iteration: number }> }).checkpoints.find((c) => c.kind === 'latest')!;
    // It stopped as if asked to, writing `latest` where it was (not merely killed at its last evaluation).
    expect(latest.iteration).toBeGreaterThanOrEqual(lastSeen);
    expect(existsSync(join(dataDir, 'runs', String(runId), 'latest', 'model.json'))).toBe(true);
    // Nothing to pause on a run that is not training: said as such, not "training elsewhere".
    expect((await api2.call('runs.pause', { id: runId })).error?.code).toBe('RUN_NOT_ACTIVE');

    const resumed = await api2.call('runs.resume', { id: runId });
    expect(resumed.error).toBeNull();
    await api2.waitEvent<RunEvent>('runEvent', isTrain(runId, 'progress', latest.iteration + 5));
    expect((await api2.call('runs.pause', { id: runId })).error).toBeNull();
    await api2.waitEvent<RunEvent>('runEvent', isStatus(runId, 'paused'));
    expect((await api2.call('runs.continue', { id: runId })).error).toBeNull();
    expect((await api2.call('runs.stop', { id: runId })).error).toBeNull();
    expect((await api2.call('runs.get', { id: runId })).result).toMatchObject({ status: 'stopped' });
    expect((await api2.call('runs.remove', { id: runId })).error).toBeNull();
    expect((await api2.call('runs.get', { id: runId })).error?.code).toBe('NOT_FOUND');
    api2.close();
  });

  it('a restarted server that finds the old training process still alive stops it on runs.stop', async () => {
    const first = await serve(dataDir);
    servers.push(first);
    const api = await connectApi(first.port, tokenOf(first));
    const corpus = ((await api.call('library.list', {})).result as Array<{ id: number }>)[0]!;
    const runId = ((await api.call('runs.start', { corpusId: corpus.id, config })).result as { id: number }).id;
    await api.waitEvent<RunEvent>('runEvent', isTrain(runId, 'checkpoint'));
    const pid = trainingPid(runId)!;
    api.close();
    // Frozen, it cannot notice its server's end: it is still there when the next server starts.
    process.kill(pid, 'SIGSTOP');
    const gone = new Promise((r) => first.proc.once('exit', r));
    first.proc.kill('SIGKILL');
    await gone;
    const second = await serve(dataDir);
    servers.push(second);
    const api2 = await connectApi(second.port, tokenOf(second));
    expect((await api2.call('runs.get', { id: runId })).result).toMatchObject({ status: 'running' });
    expect((await api2.call('runs.pause', { id: runId })).error?.code).toBe('RUN_ACTIVE');
    const stopping = api2.call('runs.stop', { id: runId });
    process.kill(pid, 'SIGCONT');
    expect((await stopping).error).toBeNull();
    expect(pidAlive(pid)).toBe(false);
    const run = (await api2.call('runs.get', { id: runId })).result as { status: string; checkpoints: Array<{ kind: string }> };
    expect(run.status).toBe('interrupted');
    expect(run.checkpoints.map((c) => c.kind)).toContain('latest');
    expect((await api2.call('runs.resume', { id: runId })).error).toBeNull();
    expect((await api2.call('runs.stop', { id: runId })).error).toBeNull();
    api2.close();
  });
});
