/**
 * Crash safety, the hard way: `charmer train` on a tiny model, killed with SIGKILL at seeded random
 * moments; after each kill the library must open consistent (integrity ok, the run 'interrupted',
 * no metrics row past its latest checkpoint, no row pointing to a missing file), and
 * `charmer resume` must continue from exactly that checkpoint (and be killed again).
 * The kill moments are tied to the run's own progress, never to the clock: each is "the Nth event
 * of a kind" (the start, an iteration, an evaluation, when the checkpoint is being written, a
 * checkpoint), read from the JSON events the command prints, so a busy machine only slows the
 * test down and never changes what it exercises. The choices are seeded.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';
import { commands } from '../../src/cli/commands/index.ts';
import { tempDir } from '../store/helpers.ts';

const REPO = path.resolve(__dirname, '../..');
const KILLS = Number(process.env.CHARMER_KILLS ?? 20);
const TINY = [
  '--rnn-size',
  '16',
  '--num-layers',
  '1',
  '--batch-size',
  '16',
  '--seq-length',
  '16',
  '--eval-every',
  '4',
  '--sample-every',
  '0',
  '--backend',
  'cpu',
  '--max-iters',
  '100000',
];

/** mulberry32: the kill moments are random but the same on every run. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Until `charmer train` is registered in commands/index.ts, run its module directly. */
function charmerArgs(args: string[]): string[] {
  if (commands.some((c) => c.name === args[0])) return [path.join(REPO, 'bin/charmer.js'), ...args];
  const mod = path.join(REPO, `src/cli/commands/${args[0]}.ts`);
  return [
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    `const m = await import(${JSON.stringify(mod)}); const c = Object.values(m).find((x) => x && x.name === ${JSON.stringify(args[0])}); process.exitCode = await c.run(${JSON.stringify(args.slice(1))});`,
  ];
}

interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** A moment in the run's own progress: the nth event of this type on stdout (--json). */
interface Moment {
  type: 'start' | 'progress' | 'eval' | 'checkpoint';
  n: number;
}

function runCharmer(args: string[], killAt: Moment | null): Promise<Outcome & { killedAt: Moment | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, charmerArgs(args), { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let seen = 0;
    let partial = '';
    let killed = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!killAt || killed) return;
      const lines = (partial + d).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        let ev: { type?: string };
        try {
          ev = JSON.parse(line);
        } catch {
          continue;
        }
        if (ev.type === killAt.type && ++seen === killAt.n) {
          killed = true;
          child.kill('SIGKILL');
          return;
        }
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr, killedAt: killed ? killAt : null }));
  });
}

/** A seeded moment: early or late in a run, between steps, during a checkpoint write or just after. */
function moment(random: () => number): Moment {
  const r = random();
  if (r < 0.15) return { type: 'start', n: 1 };
  if (r < 0.55) return { type: 'progress', n: 1 + Math.floor(random() * 14) };
  if (r < 0.8) return { type: 'eval', n: 1 + Math.floor(random() * 3) }; // the checkpoint is being written
  return { type: 'checkpoint', n: 1 + Math.floor(random() * 4) };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Opens the library as the next start would, and checks that it is consistent. */
function checkLibrary(dataDir: string, runId: number): { latest: number | null } {
  const store = openStore(dataDir);
  try {
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(store.db.pragma('foreign_key_check')).toEqual([]);
    const run = store.getRun(runId)!;
    expect(run.status).toBe('interrupted');
    const checkpoints = store.listCheckpoints(runId);
    for (const c of checkpoints) {
      expect(fs.existsSync(path.join(c.path, 'model.json')), c.path).toBe(true);
      expect(fs.existsSync(path.join(c.path, 'weights.bin')), c.path).toBe(true);
    }
    const latest = checkpoints.find((c) => c.kind === 'latest')?.iteration ?? null;
    expect(latest !== null).toBe(run.resumable);
    if (latest !== null) {
      const last = store.lastMetricIteration(runId);
      if (last !== null) expect(last).toBeLessThanOrEqual(latest);
    }
    return { latest };
  } finally {
    store.close();
  }
}

describe('kill test', () => {
  it(`survives ${KILLS} SIGKILLs of charmer train / charmer resume at random moments`, async () => {
    const dataDir = tempDir('charmer-kill-');
    dirs.push(dataDir);
    const random = rng(20240611);
    let runId: number | null = null;
    let resumable = false;
    let resumes = 0;
    let lastLatest: number | null = null;
    for (let k = 0; k < KILLS; k++) {
      const at = moment(random);
      let out: Outcome;
      if (runId === null || !resumable) {
        out = await runCharmer(['train', 'names', '--data-dir', dataDir, '--json', ...TINY], at);
        const db = new Database(path.join(dataDir, 'charmer.db'), { readonly: true });
        const row = db.prepare('SELECT max(id) AS id FROM runs').get() as { id: number | null };
        db.close();
        runId = row.id;
      } else {
        out = await runCharmer(['resume', String(runId), '--data-dir', dataDir, '--json', '--max-iters', '100000'], at);
        const start = out.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((e) => e.type === 'start');
        // It continued from exactly the checkpoint the library pointed to.
        if (start) {
          expect(start.start_iteration).toBe(lastLatest);
          resumes++;
        }
      }
      expect(out.signal, `${JSON.stringify(at)}: ${out.stderr}`).toBe('SIGKILL');
      if (runId === null) continue; // killed before it created its run
      const { latest } = checkLibrary(dataDir, runId);
      if (lastLatest !== null && resumable && latest !== null) expect(latest).toBeGreaterThanOrEqual(lastLatest);
      resumable = latest !== null;
      lastLatest = latest;
    }
    expect(runId).not.toBeNull();
    // Finally let it finish: resume to a few iterations past the last checkpoint.
    if (!resumable) {
      const out = await runCharmer(['resume', String(runId), '--data-dir', dataDir], null);
      expect(out.code).toBe(2);
      expect(out.stderr).toMatch(/no checkpoint to continue from/);
      return;
    }
    const target = lastLatest! + 6;
    const out = await runCharmer(['resume', String(runId), '--data-dir', dataDir, '--json', '--max-iters', String(target)], null);
    expect(out.code, out.stderr).toBe(0);
    const start = out.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.type === 'start');
    expect(start?.start_iteration).toBe(lastLatest);
    const store = openStore(dataDir);
    const run = store.getRun(runId!)!;
    expect(run.status).toBe('completed');
    expect(run.iterations).toBe(target);
    const metrics = store.listMetrics(runId!);
    expect(metrics.at(-1)!.iteration).toBe(target);
    // one row per iteration, no gaps or duplicates across all the kills
    expect(metrics.map((m) => m.iteration)).toEqual(Array.from({ length: target }, (_, i) => i + 1));
    store.close();
    expect(resumes).toBeGreaterThan(0);
  }, 900_000); // 21 process starts: minutes when other processes hold both cores; nothing here waits on the clock
});
