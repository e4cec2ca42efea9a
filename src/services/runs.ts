/**
 * Runs: creates them, starts and supervises one training process per run (./trainer.ts; the process
 * is src/worker/train-process.ts), relays their events, and cleans up after crashes. The process
 * writes its own rows; this side writes only what the process cannot: the run's creation, and
 * 'failed' when the process dies without saying so.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CharmerError } from '../common/errors.ts';
import type { Store } from '../store/store.ts';
import { isActiveStatus } from '../common/enums.ts';
import { isTrainingProcess, pidAlive, readCheckpointMeta, recover } from '../store/recovery.ts';
import type { TrainerLauncher } from './spawn.ts';
import type { ProcessStats } from '../common/train-protocol.ts';
import { launchTrainer, request, type Live } from './trainer.ts';
import { corpusPath, notFound } from './library.ts';
import { assertResumable, defaultRunName, fullConfig } from './training.ts';
import { readOnlyError, starterOfRun } from './starters.ts';
import type { RunDetail, RunEvent, RunsService, RunStatus, RunSummary, StartRunOptions } from './types.ts';
import { RESUME_ONLY_FILES } from '../common/checkpoint-format.ts';

export interface RunsServiceInternal extends RunsService {
  /** Tensors, memory and open files of every live training process (the soak test). */
  stats(): Promise<Array<{ runId: number; pid: number | null } & ProcessStats>>;
  /** Stops every live process (politely, then by force after timeoutMs). */
  shutdown(timeoutMs?: number): Promise<void>;
  isLive(id: number): boolean;
  /** Throws NOT_FOUND, or RUN_ACTIVE while the run trains; changes nothing. */
  assertDeletable(id: number): void;
}

export function createRunsService(store: Store, launcher?: TrainerLauncher): RunsServiceInternal {
  const live = new Map<number, Live>();
  const listeners = new Set<(e: RunEvent) => void>();

  const emit = (e: RunEvent) => {
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        /* a listener's failure is its own */
      }
    }
  };

  const launch = (run: RunSummary, resume: boolean, initFrom?: string): Promise<void> => launchTrainer({ store, launcher, live, emit }, run, resume, initFrom);

  /**
   * Runs left running/paused by a process that is gone (a server killed mid-run, whose training
   * process has since stopped) become interrupted now, not at the next start of the library.
   */
  const settleOrphans = () => {
    const stale = store.activeRunRows().some((r) => !live.has(r.id) && !(r.status === 'queued' && r.pid === null) && !pidAlive(r.pid));
    if (stale) recover(store);
  };

  /** A run that is active in the library but not started by this service, with its process alive. */
  const orphanPid = (id: number): number | null => {
    if (live.has(id)) return null;
    const row = store.activeRunRows().find((r) => r.id === id);
    return row?.pid && pidAlive(row.pid) ? row.pid : null;
  };

  const getLive = (id: number): Live => {
    const l = live.get(id);
    if (l) return l;
    settleOrphans();
    const run = store.getRun(id);
    if (!run) throw notFound('run', id);
    if (orphanPid(id) !== null) {
      throw new CharmerError(
        'RUN_ACTIVE',
        `Run ${id} is training in another window or command (or still stopping after its server ended). Stop it there, or stop it here and resume it.`,
        { runId: id },
      );
    }
    throw new CharmerError('RUN_NOT_ACTIVE', `Run ${id} is not training (it is ${run.status}). Resume it to train further.`, { runId: id, status: run.status });
  };

  /**
   * Stops a training process this service did not start: one left by a server that was killed (it
   * stops by itself within seconds, as its IPC channel closed) or started by an earlier server. Only
   * a Charmer training process is signalled, never whatever else holds a recycled pid.
   */
  const stopOrphan = async (id: number, pid: number) => {
    if (!isTrainingProcess(pid)) {
      throw new CharmerError('RUN_ACTIVE', `Run ${id} is training in another window or command (process ${pid}). Stop it there first.`, { runId: id, pid });
    }
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    // It finishes its step and writes `latest` (seconds); not our child, so no exit event to wait on.
    const deadline = Date.now() + 120_000;
    while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (pidAlive(pid))
      throw new CharmerError('RUN_ACTIVE', `Run ${id}'s training process (${pid}) did not stop within two minutes. Try again, or end process ${pid}.`, {
        runId: id,
        pid,
      });
    settleOrphans();
  };

  /** The checkpoint a fine-tune started from: its parent's best, else its latest. */
  const baseOf = (run: RunSummary): string | undefined => {
    if (!run.parentRunId) return undefined;
    for (const kind of ['best', 'latest']) {
      const dir = path.join(store.runDir(run.parentRunId), kind);
      if (readCheckpointMeta(dir)) return dir;
    }
    return undefined;
  };

  const withStarter = (r: RunSummary): RunSummary => {
    const starter = starterOfRun(store, r.id);
    return starter ? { ...r, starter } : r;
  };
  /** Starters ship with the app: refused before anything is touched. */
  const assertNotStarter = (id: number, action: string) => {
    const starter = starterOfRun(store, id);
    if (starter) throw readOnlyError(id, starter, action);
  };

  const service: RunsServiceInternal = {
    async listRuns(filter) {
      settleOrphans();
      return store.listRuns(filter).map(withStarter);
    },
    async getRun(id): Promise<RunDetail> {
      settleOrphans();
      const run = store.getRun(id);
      if (!run) throw notFound('run', id);
      // A checkpoint deleted by hand: its row goes (only for runs not training now).
      let checkpoints = store.listCheckpoints(id);
      if (!live.has(id) && run.status !== 'running' && run.status !== 'paused') {
        for (const c of checkpoints) if (!readCheckpointMeta(c.path)) store.deleteCheckpointRow(c.id);
        checkpoints = store.listCheckpoints(id);
      }
      return {
        ...withStarter(run),
        metrics: store.listMetrics(id),
        checkpoints,
        trainingSamples: store.listSamples({ runId: id, source: 'training', sort: 'oldest', limit: 10_000 }).items,
      };
    },
    async getMetrics(id, afterIteration) {
      return store.listMetrics(id, afterIteration ?? -1);
    },
    async startRun(opts: StartRunOptions) {
      const corpus = store.getCorpus(opts.corpusId);
      if (!corpus) throw notFound('corpus', opts.corpusId);
      corpusPath(store, corpus); // the copy must exist
      let initFrom: string | undefined;
      if (opts.initFrom) {
        const parent = store.getRun(opts.initFrom.runId);
        if (!parent) throw notFound('run', opts.initFrom.runId);
        const kind = opts.initFrom.kind ?? 'best';
        initFrom = path.join(store.runDir(parent.id), kind);
        if (!readCheckpointMeta(initFrom)) {
          throw new CharmerError('CHECKPOINT_MISSING', `Run ${parent.id} has no ${kind} checkpoint (${initFrom} is missing) to fine-tune from.`, {
            path: initFrom,
          });
        }
      }
      const config = fullConfig(corpus, opts.config);
      const run = store.createRun({
        corpusId: corpus.id,
        name: opts.name ?? defaultRunName(corpus, config),
        config,
        parentRunId: opts.initFrom?.runId ?? null,
      });
      fs.mkdirSync(store.runDir(run.id), { recursive: true });
      await launch(run, false, initFrom);
      return store.getRun(run.id)!;
    },
    async resumeRun(id) {
      settleOrphans();
      const run = store.getRun(id);
      if (!run) throw notFound('run', id);
      assertNotStarter(id, 'trained further (that would overwrite it)');
      if (live.has(id)) throw new CharmerError('RUN_ACTIVE', `Run ${id} is already training.`, { runId: id });
      if (isActiveStatus(run.status)) {
        throw new CharmerError('RUN_ACTIVE', `Run ${id} is training in another window or command. Stop it there first.`, { runId: id });
      }
      if (!readCheckpointMeta(path.join(store.runDir(id), 'latest')) && store.listCheckpoints(id).length === 0 && run.status !== 'completed') {
        // Stopped before its first checkpoint: nothing to continue from, so it starts again from
        // the beginning, with the same settings (and the same base model for a fine-tune).
        store.deleteMetricsAfter(id, -1);
        await launch(run, false, baseOf(run));
        return store.getRun(id)!;
      }
      const from = assertResumable(store, run);
      store.deleteMetricsAfter(id, from);
      await launch(run, true);
      return store.getRun(id)!;
    },
    async pauseRun(id) {
      await request(getLive(id), { type: 'pause' });
    },
    async continueRun(id) {
      await request(getLive(id), { type: 'resume' });
    },
    async stopRun(id) {
      const l = live.get(id);
      if (!l) {
        settleOrphans();
        const pid = orphanPid(id);
        if (pid !== null) return stopOrphan(id, pid);
        getLive(id); // NOT_FOUND, or RUN_NOT_ACTIVE: it is not training
        return;
      }
      await request(l, { type: 'stop' }).catch(() => {});
      await l.exited;
    },
    async renameRun(id, name) {
      if (!store.getRun(id)) throw notFound('run', id);
      assertNotStarter(id, 'renamed');
      store.updateRun(id, { name });
      return store.getRun(id)!;
    },
    assertDeletable(id) {
      settleOrphans();
      const run = store.getRun(id);
      if (!run) throw notFound('run', id);
      assertNotStarter(id, 'deleted');
      if (live.has(id) || isActiveStatus(run.status)) {
        throw new CharmerError('RUN_ACTIVE', `Run ${id} ("${run.name}") is training. Stop it before deleting it.`, { runId: id });
      }
    },
    async deleteRun(id) {
      service.assertDeletable(id);
      store.deleteRunRows(id);
      fs.rmSync(store.runDir(id), { recursive: true, force: true });
    },
    async copyRun(id, name) {
      const run = store.getRun(id);
      if (!run) throw notFound('run', id);
      const from = store.listCheckpoints(id).find((c) => c.kind === 'best') ?? store.listCheckpoints(id).find((c) => c.kind === 'latest');
      if (!from || !readCheckpointMeta(from.path)) {
        throw new CharmerError('CHECKPOINT_MISSING', `Run ${id} ("${run.name}") has no checkpoint to copy yet.`, { runId: id });
      }
      const copy = store.createRun({
        corpusId: run.corpusId,
        name: name ?? `${run.name.replace(/ \(starter\)$/, '')} (copy)`,
        config: run.config,
        status: 'completed',
        parentRunId: id,
        totalIters: run.totalIters,
      });
      const dest = path.join(store.runDir(copy.id), 'best');
      try {
        fs.mkdirSync(dest, { recursive: true });
        // Weights and settings only: the copy is a finished model, not a training to resume.
        for (const f of fs.readdirSync(from.path)) if (!RESUME_ONLY_FILES.includes(f)) fs.copyFileSync(path.join(from.path, f), path.join(dest, f));
        store.writeMetrics(copy.id, store.listMetrics(id));
        store.upsertCheckpoint(copy.id, 'best', from.iteration, from.valLoss, dest);
        store.updateRun(copy.id, {
          iterations: run.iterations,
          bestValLoss: run.bestValLoss,
          baselineValLoss: run.baselineValLoss,
          params: run.params,
          backend: run.backend,
          device: run.device,
          started: Date.now(),
          ended: Date.now(),
        });
      } catch (e) {
        store.deleteRunRows(copy.id);
        fs.rmSync(store.runDir(copy.id), { recursive: true, force: true });
        throw e;
      }
      return store.getRun(copy.id)!;
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    isLive: (id) => live.has(id),
    async stats() {
      const all = await Promise.all(
        [...live.values()].map(
          (l) =>
            new Promise<({ runId: number; pid: number | null } & ProcessStats) | null>((resolve) => {
              const seq = ++l.seq;
              l.pendingStats.set(seq, (s) => resolve(s && { runId: l.runId, pid: l.handle.pid ?? null, ...s }));
              l.handle.send({ type: 'stats', seq });
            }),
        ),
      );
      return all.filter((s) => s !== null);
    },
    async shutdown(timeoutMs = 10_000) {
      await Promise.all(
        [...live.values()].map(async (l) => {
          request(l, { type: 'stop' }).catch(() => {});
          const timer = setTimeout(() => l.handle.kill(), timeoutMs);
          await l.exited;
          clearTimeout(timer);
        }),
      );
    },
  };
  return service;
}

export type { RunStatus };
