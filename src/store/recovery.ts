/**
 * What happens on every open, so that a library killed at any moment comes back consistent:
 * - a run left queued/running/paused whose process is gone becomes 'interrupted';
 * - checkpoint rows are reconciled with the files (the engine writes DIR/best and DIR/latest
 *   atomically, then the recorder writes the row): a row whose directory is gone is removed, a
 *   directory without a row (killed between the two) gets its row back, from model.json's metadata;
 * - an interrupted run's metrics beyond its latest checkpoint are removed: resuming redoes them.
 * Runs whose process is alive (another window, the command line) are left alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CHECKPOINT_FILES, CHECKPOINT_KINDS, TEMP_SIBLING, charmerMetadataOf, oldTwinName, weightFilesOf } from '../common/checkpoint-format.ts';
import type { Store } from './store.ts';

export interface RecoveryReport {
  interrupted: number[];
  checkpointsRemoved: number;
  checkpointsAdded: number;
  metricsTrimmed: number;
}

/** Is a process with this pid alive (on this machine)? A zombie (ended, not yet reaped) is not. */
export function pidAlive(pid: number | null | undefined): boolean {
  if (!pid || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A training process whose parent was killed is re-parented; where nothing reaps it (a container
  // whose first process is not an init), it stays a zombie that kill(0) still finds.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS, Windows): kill(0) is the answer
  }
}

/** Whether a live pid is a Charmer training process (Linux: its command line; elsewhere unknown, so no). */
export function isTrainingProcess(pid: number): boolean {
  try {
    return /train-process\.(ts|js)/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  } catch {
    return false;
  }
}

export interface CheckpointMeta {
  iteration: number;
  valLoss: number | null;
}

/**
 * Iteration and validation loss of a checkpoint directory, from model.json's
 * userDefinedMetadata.charmer, or null when there is no complete checkpoint there.
 */
export function readCheckpointMeta(dir: string): CheckpointMeta | null {
  try {
    const modelJson = path.join(dir, CHECKPOINT_FILES.model);
    if (!fs.existsSync(modelJson)) return null;
    const j = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as Record<string, unknown>;
    const meta = charmerMetadataOf(j) ?? {};
    for (const w of weightFilesOf(j)) if (!fs.existsSync(path.join(dir, w))) return null;
    const iteration = Number(meta.iteration);
    if (!Number.isFinite(iteration)) return null;
    const v = meta.valLoss ?? meta.bestValLoss;
    return { iteration, valLoss: typeof v === 'number' && Number.isFinite(v) ? v : null };
  } catch {
    return null;
  }
}

/**
 * Finishes what a crash interrupted in a run folder: the engine writes a checkpoint into a temporary
 * sibling, renames the old one to `.KIND.old`, then renames the new one into place. Killed between
 * the two renames, only `.KIND.old` is complete: it is renamed back. Temporary folders are removed.
 * Only for runs whose process is gone.
 */
export function repairRunDir(runDir: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(runDir);
  } catch {
    return;
  }
  for (const kind of CHECKPOINT_KINDS) {
    const dir = path.join(runDir, kind);
    const old = path.join(runDir, oldTwinName(kind));
    if (!fs.existsSync(path.join(dir, CHECKPOINT_FILES.model)) && fs.existsSync(path.join(old, CHECKPOINT_FILES.model))) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(old, dir);
    } else if (fs.existsSync(old)) {
      fs.rmSync(old, { recursive: true, force: true });
    }
  }
  for (const e of entries) if (TEMP_SIBLING.test(e)) fs.rmSync(path.join(runDir, e), { recursive: true, force: true });
}

export function recover(store: Store): RecoveryReport {
  const report: RecoveryReport = { interrupted: [], checkpointsRemoved: 0, checkpointsAdded: 0, metricsTrimmed: 0 };
  const live = new Set<number>();
  const STALE_QUEUED_MS = 60_000;
  store.transaction(() => {
    for (const r of store.activeRunRows()) {
      if (pidAlive(r.pid)) {
        live.add(r.id);
        continue;
      }
      if (r.status === 'queued' && r.pid === null && Date.now() - r.created < STALE_QUEUED_MS) {
        live.add(r.id); // being started by a live service right now
        continue;
      }
      store.updateRun(r.id, { status: 'interrupted', pid: null, ended: Date.now() });
      report.interrupted.push(r.id);
    }
  });
  const interrupted = new Set(report.interrupted);
  for (const runId of store.allRunIds()) {
    if (live.has(runId)) continue;
    repairRunDir(store.runDir(runId));
    store.transaction(() => {
      const rows = store.listCheckpoints(runId);
      for (const kind of CHECKPOINT_KINDS) {
        const dir = path.join(store.runDir(runId), kind);
        const meta = readCheckpointMeta(dir);
        const row = rows.find((c) => c.kind === kind);
        if (!meta) {
          if (row) {
            store.deleteCheckpointRow(row.id);
            report.checkpointsRemoved++;
          }
          continue;
        }
        if (!row || row.iteration !== meta.iteration || path.resolve(row.path) !== path.resolve(dir)) {
          store.upsertCheckpoint(runId, kind, meta.iteration, meta.valLoss, dir);
          if (!row) report.checkpointsAdded++;
        }
      }
      if (interrupted.has(runId)) {
        const latest = readCheckpointMeta(path.join(store.runDir(runId), 'latest'));
        if (latest) {
          report.metricsTrimmed += store.deleteMetricsAfter(runId, latest.iteration);
          store.updateRun(runId, { iterations: latest.iteration });
        }
      }
    });
  }
  return report;
}
