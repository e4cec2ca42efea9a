/**
 * `charmer bench`: training and sampling speed per backend and configuration, the fused engine
 * path against the stock TF.js layers, side by side with PyTorch (../shared/tools/torch_reference.py,
 * when Debian's python3-torch is installed) and against the machine's matrix-product throughput.
 * Each measurement runs in a child process (fresh backend, its own peak RSS).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../engine/config.ts';
import { matmulGflops } from './matmul.ts';
import { trainFlopsPerChar, type BenchCell, type MeasureRequest, type MeasureResult } from './measure.ts';

export interface BenchOptions {
  backends: BackendName[];
  cells: BenchCell[];
  /** Attention heads (transformer only). */
  heads: number;
  hidden: number[];
  impls: MeasureRequest['impl'][];
  layers: number;
  batch: number;
  seq: number;
  seconds: number;
  threads: number;
  torch: 'auto' | 'on' | 'off';
  /** Backends named explicitly run every size; by default cpu runs only <= 128 units (its stock 2x512 step takes minutes). */
  explicitBackends: boolean;
}

export type BenchLine = Record<string, unknown>;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const TORCH_SCRIPT = resolve(root, '..', 'shared', 'tools', 'torch_reference.py');

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => res({ code: code ?? 1, out, err }));
    p.on('error', (e) => res({ code: 1, out, err: String(e) }));
  });
}

async function measureInChild(req: MeasureRequest): Promise<MeasureResult | { error: string }> {
  const r = await runChild(process.execPath, [join(root, 'bin', 'charmer.js'), 'bench', '--child', JSON.stringify(req)]);
  const line = r.out.split('\n').find((l) => l.startsWith('{'));
  if (r.code === 0 && line) return JSON.parse(line) as MeasureResult;
  return { error: (r.err.split('\n').filter(Boolean).pop() ?? `exit ${r.code}`).slice(0, 300) };
}

async function torchAvailable(): Promise<boolean> {
  if (!existsSync(TORCH_SCRIPT) || !existsSync('/usr/bin/python3')) return false;
  return (await runChild('/usr/bin/python3', ['-c', 'import torch'])).code === 0;
}

async function torchMeasure(o: BenchOptions, cell: BenchCell, hidden: number): Promise<BenchLine | null> {
  const env = { ...process.env, OMP_NUM_THREADS: String(availableParallelism()) };
  const args = [
    TORCH_SCRIPT,
    '--cells',
    cell,
    '--hidden',
    String(hidden),
    '--layers',
    String(o.layers),
    '--heads',
    String(o.heads),
    '--batch',
    String(o.batch),
    '--seq',
    String(o.seq),
    '--seconds',
    String(o.seconds),
  ];
  // Best of three runs of a third of the time each, as measure.ts does for ours.
  let best: BenchLine | null = null;
  for (let i = 0; i < 3; i++) {
    const r = await runChild(
      '/usr/bin/python3',
      args.map((a, k) => (args[k - 1] === '--seconds' ? String(Math.max(1, o.seconds / 3)) : a)),
      env,
    );
    const line = r.out.split('\n').find((l) => l.startsWith('{'));
    const got = line ? (JSON.parse(line) as BenchLine) : null;
    if (got && (!best || (got.train_chars_per_s as number) > (best.train_chars_per_s as number))) best = got;
  }
  return best;
}

/** Runs the benchmark, calling `emit` with one object per measurement as soon as it is known. */
export async function runBench(o: BenchOptions, emit: (line: BenchLine) => void): Promise<void> {
  const threads = o.threads > 0 ? o.threads : availableParallelism();
  const mm = await matmulGflops(threads, Math.min(3, o.seconds));
  const gflops = mm.all;
  emit({
    kind: 'machine',
    cores: availableParallelism(),
    matmul: '[2500x512]x[512x2048] float32, tfjs wasm',
    matmul_gflops_1_thread: round1(mm.one),
    matmul_gflops_all_threads: round1(mm.all),
    threads,
    load_average_1m: round2(loadavg()[0]!),
  });
  const torch = o.torch === 'off' ? false : await torchAvailable();
  if (o.torch === 'on' && !torch) emit({ kind: 'note', message: `PyTorch peer unavailable (needs /usr/bin/python3 with torch and ${TORCH_SCRIPT})` });
  for (const cell of o.cells) {
    for (const hidden of o.hidden) {
      const fused: MeasureResult[] = [];
      for (const backend of o.backends) {
        if (backend === 'cpu' && hidden > 128 && !o.explicitBackends) {
          emit({ kind: 'skipped', backend, cell, hidden, reason: 'plain-JS cpu backend at > 128 units takes minutes per step; ask with --backend cpu' });
          continue;
        }
        const impls = [...o.impls].sort((a, b) => (a === 'charmer-fused' ? -1 : b === 'charmer-fused' ? 1 : 0));
        for (const impl of impls) {
          const r = await measureInChild({
            impl,
            backend,
            cell,
            layers: o.layers,
            hidden,
            batch: o.batch,
            seq: o.seq,
            seconds: o.seconds,
            threads: o.threads,
            ...(cell === 'transformer' ? { heads: o.heads } : {}),
          });
          if ('error' in r) {
            emit({ kind: 'error', impl, backend, cell, layers: o.layers, hidden, error: r.error });
            continue;
          }
          const bound = (gflops * 1e9) / r.train_flops_per_char;
          const line = { kind: 'result', ...r, matmul_bound_chars_per_s: Math.round(bound), bound_ratio: round2(bound / r.train_chars_per_s) };
          emit(line);
          if (impl === 'charmer-fused') fused.push(r);
        }
      }
      if (torch) {
        const t = await torchMeasure(o, cell, hidden);
        if (t) {
          emit({ kind: 'peer', ...t });
          for (const f of fused) {
            emit({
              kind: 'ratio',
              backend: f.backend,
              cell,
              layers: o.layers,
              hidden,
              charmer_train_chars_per_s: f.train_chars_per_s,
              pytorch_train_chars_per_s: t.train_chars_per_s,
              vs_pytorch: round2(f.train_chars_per_s / (t.train_chars_per_s as number)),
              matmul_bound_chars_per_s: Math.round((gflops * 1e9) / f.train_flops_per_char),
              bound_ratio: round2((gflops * 1e9) / f.train_flops_per_char / f.train_chars_per_s),
            });
          }
        }
      }
    }
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
export { trainFlopsPerChar };
