/**
 * `charmer bench`: training and sampling speed of the fused engine path and of the stock TF.js
 * layers per backend and configuration (2x128 and 2x512, LSTM and GRU, batch 50, seq 50 by
 * default), with the machine's matMul throughput and PyTorch side by side when it is installed.
 * --json prints one JSON object per line. See docs/PERFORMANCE.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import { CharmerError } from '../../common/errors.ts';
import { BACKEND_NAMES, RECURRENT_CELLS, type BackendName } from '../../common/enums.ts';
import type { BenchCell } from '../../bench/measure.ts';

const specs: OptionSpecs = {
  backend: { type: 'string', help: 'comma-separated backends: wasm, cpu, webgpu, tensorflow', default: 'wasm,cpu' },
  cells: { type: 'string', help: 'comma-separated model types: lstm, gru, rnn, transformer', default: 'lstm,gru' },
  hidden: { type: 'string', help: 'comma-separated hidden sizes', default: '128,512' },
  impl: { type: 'string', help: 'comma-separated: charmer-fused, tfjs-stock', default: 'charmer-fused,tfjs-stock' },
  layers: { type: 'int', help: 'layers (recurrent layers, or Transformer blocks)', default: 2 },
  heads: { type: 'int', help: 'attention heads (transformer; --hidden must be a multiple of it)', default: 4 },
  batch: { type: 'int', help: 'batch size', default: 50 },
  seq: { type: 'int', help: "sequence length (the Transformer's context length)", default: 50 },
  seconds: { type: 'number', help: 'seconds of training per measurement (after one warm-up step)', default: 10 },
  threads: { type: 'int', help: 'threads for the fused path (0 = one per core)', default: 0 },
  torch: { type: 'string', help: 'PyTorch peer side by side: auto (when installed), on, off', default: 'auto', choices: ['auto', 'on', 'off'] },
  ui: {
    type: 'string',
    help: "the UI's response time while a model trains (browser mode in Chromium): auto (when /usr/bin/chromium exists), on, off",
    default: 'auto',
    choices: ['auto', 'on', 'off'],
  },
  json: { type: 'boolean', help: 'one JSON object per line', default: false },
  child: { type: 'string', help: '(internal) run one measurement and print it' },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

function list<T extends string>(name: string, v: string, allowed: readonly T[]): T[] {
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const i of items) if (!allowed.includes(i as T)) throw new CharmerError('BAD_OPTION', `--${name} accepts ${allowed.join(', ')} (got "${i}").`);
  return items as T[];
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'measure training and sampling speed (fused vs stock TF.js, vs PyTorch, vs matMul throughput)',
  async run(argv) {
    const { values } = parseOptions(argv, specs);
    if (values.help) {
      process.stdout.write(formatHelp('charmer bench [options]', specs, 'Training chars/s and sampling chars/s per backend and configuration.') + '\n');
      return 0;
    }
    if (typeof values.child === 'string') {
      const { measure } = await import('../../bench/measure.ts');
      process.stdout.write(JSON.stringify(await measure(JSON.parse(values.child))) + '\n');
      process.exit(0); // worker threads and backends: do not wait for them
    }
    const hidden = String(values.hidden)
      .split(',')
      .map((s) => Number(s.trim()));
    if (hidden.some((h) => !Number.isInteger(h) || h <= 0)) throw new CharmerError('BAD_OPTION', '--hidden needs positive whole numbers, e.g. 128,512.');
    const cells = list<BenchCell>('cells', String(values.cells), [...RECURRENT_CELLS, 'transformer']);
    const heads = values.heads as number;
    if (!(heads > 0)) throw new CharmerError('BAD_OPTION', '--heads needs a positive whole number, e.g. 4.');
    const odd = hidden.filter((h) => h % heads !== 0);
    if (cells.includes('transformer') && odd.length)
      throw new CharmerError(
        'BAD_OPTION',
        `--hidden ${odd.join(',')} is not a multiple of --heads ${heads}: a Transformer splits its width evenly across heads (try --hidden ${odd.map((h) => Math.max(heads, Math.round(h / heads) * heads)).join(',')}).`,
      );
    const { runBench } = await import('../../bench/run.ts');
    const json = Boolean(values.json);
    const explicit = argv.some((a) => a === '--backend' || a.startsWith('--backend='));
    await runBench(
      {
        backends: list<BackendName>('backend', String(values.backend), BACKEND_NAMES),
        cells,
        heads,
        hidden,
        impls: list('impl', String(values.impl), ['charmer-fused', 'tfjs-stock'] as const),
        layers: values.layers as number,
        batch: values.batch as number,
        seq: values.seq as number,
        seconds: values.seconds as number,
        threads: values.threads as number,
        torch: values.torch as 'auto' | 'on' | 'off',
        explicitBackends: explicit,
      },
      (line) => process.stdout.write((json ? JSON.stringify(line) : human(line)) + '\n'),
    );
    if (values.ui === 'on' || (values.ui === 'auto' && existsSync(process.env.CHARMER_CHROMIUM ?? '/usr/bin/chromium'))) {
      const script = fileURLToPath(new URL('../../../bench/ui-response.ts', import.meta.url));
      const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--seconds', String(Math.max(10, values.seconds as number))], { encoding: 'utf8' });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      if (r.status !== 0 || !line.startsWith('{'))
        throw new CharmerError('IO_ERROR', `The UI benchmark failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
      const ui = { kind: 'ui', ...JSON.parse(line) } as Record<string, unknown>;
      process.stdout.write((json ? JSON.stringify(ui) : human(ui)) + '\n');
    }
    return 0;
  },
};

function human(l: Record<string, unknown>): string {
  switch (l.kind) {
    case 'machine':
      return `matMul ${l.matmul}: ${l.matmul_gflops_1_thread} GFLOP/s on 1 thread, ${l.matmul_gflops_all_threads} on ${l.threads}`;
    case 'result':
      return `${String(l.impl).padEnd(13)} ${String(l.backend).padEnd(6)} ${l.cell} ${l.layers}x${l.hidden}${l.heads ? ` h${l.heads}` : ''} b${l.batch} s${l.seq} threads ${l.threads}: train ${l.train_chars_per_s} chars/s (${l.ms_per_step} ms/step), sample ${l.sample_chars_per_s} chars/s (1 stream) ${l.sample_batch_chars_per_s} (${l.batch} streams), peak RSS ${l.peak_rss_mb} MB, matMul bound ${l.matmul_bound_chars_per_s} (x${l.bound_ratio})`;
    case 'peer':
      return `${String(l.impl).padEnd(13)} threads ${l.threads} ${l.cell} ${l.layers}x${l.hidden}: train ${l.train_chars_per_s} chars/s`;
    case 'ui':
      return l.skipped
        ? `UI: skipped (${l.skipped})`
        : `UI while training (browser mode, Chromium): ${l.clicks} view switches, median ${l.median_ms} ms, p95 ${l.p95_ms} ms, worst ${l.worst_ms} ms`;
    case 'ratio':
      return `  => ${l.backend} ${l.cell} ${l.layers}x${l.hidden}: ${l.vs_pytorch}x PyTorch; matMul bound / charmer = ${l.bound_ratio}`;
    default:
      return JSON.stringify(l);
  }
}
