/** `charmer runs [list|show ID|delete ID] [--json] [--data-dir DIR]`: the library's training runs. */
import type { Command } from '../command.ts';
import { formatHelp, parseOptions, type OptionSpecs } from '../args.ts';
import { CharmerError } from '../../common/errors.ts';
import { describeModel, shortModelName } from '../../common/options.ts';
import { openLibraryStore } from '../../services/open.ts';
import { createRunsService } from '../../services/runs.ts';
import type { RunSummary } from '../../services/types.ts';

const specs: OptionSpecs = {
  'data-dir': { type: 'string', help: 'the library folder (default: CHARMER_DATA_DIR or the platform location)' },
  json: { type: 'boolean', help: 'one JSON object per run and line (snake_case)', default: false },
  help: { type: 'boolean', help: 'show this help', short: 'h' },
};

const USAGE = 'charmer runs [list | show ID | delete ID] [--json] [--data-dir DIR]';

export function runJson(r: RunSummary): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    corpus: r.corpusName,
    corpus_id: r.corpusId,
    model: r.config.model,
    num_layers: r.config.numLayers,
    rnn_size: r.config.rnnSize,
    ...(r.config.model === 'transformer' ? { n_layer: r.config.nLayer, n_head: r.config.nHead, n_embd: r.config.nEmbd, block_size: r.config.blockSize } : {}),
    iterations: r.iterations,
    total_iters: r.totalIters,
    best_val_loss: r.bestValLoss,
    baseline_val_loss: r.baselineValLoss,
    backend: r.backend,
    device: r.device,
    params: r.params,
    parent_run_id: r.parentRunId,
    resumable: r.resumable,
    error: r.error,
    created: new Date(r.created).toISOString(),
    started: r.started === null ? null : new Date(r.started).toISOString(),
    ended: r.ended === null ? null : new Date(r.ended).toISOString(),
  };
}

function fmtLoss(v: number | null): string {
  return v === null ? '-' : v.toFixed(4);
}

export function parseId(s: string | undefined, what: string): number {
  const n = Number(s);
  if (!s || !Number.isInteger(n) || n < 1) throw new CharmerError('BAD_OPTION', `Give the ${what} id, a whole number (got "${s ?? ''}").`);
  return n;
}

export const runsCommand: Command = {
  name: 'runs',
  summary: 'list, show or delete the training runs in the library',
  async run(argv) {
    const { values, positionals } = parseOptions(argv, specs);
    if (values.help) {
      process.stdout.write(formatHelp(USAGE, specs, 'Runs are recorded by charmer train and the app. Resume one with charmer resume ID.'));
      return 0;
    }
    const [action = 'list', arg] = positionals;
    const store = openLibraryStore(values['data-dir'] as string | undefined);
    if (store.notice) process.stderr.write(`charmer: ${store.notice}\n`);
    try {
      const runs = createRunsService(store);
      const out = (s: string) => process.stdout.write(s);
      switch (action) {
        case 'list': {
          const list = await runs.listRuns();
          if (values.json) {
            for (const r of list) out(JSON.stringify(runJson(r)) + '\n');
            return 0;
          }
          if (!list.length) {
            out(`No runs yet in ${store.dataDir}. Train one with: charmer train FILE\n`);
            return 0;
          }
          const rows = list.map((r) => [
            String(r.id),
            r.status,
            r.corpusName,
            shortModelName(r.config),
            `${r.iterations}${r.totalIters ? `/${r.totalIters}` : ''}`,
            fmtLoss(r.bestValLoss),
            new Date(r.created).toISOString().slice(0, 16).replace('T', ' '),
          ]);
          const head = ['ID', 'STATUS', 'CORPUS', 'MODEL', 'ITERS', 'BEST VAL', 'CREATED'];
          const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
          for (const r of [head, ...rows])
            out(
              r
                .map((c, i) => c.padEnd(w[i]!))
                .join('  ')
                .trimEnd() + '\n',
            );
          return 0;
        }
        case 'show': {
          const d = await runs.getRun(parseId(arg, 'run'));
          if (values.json) {
            out(
              JSON.stringify({
                ...runJson(d),
                config: d.config,
                metrics: d.metrics,
                checkpoints: d.checkpoints,
                training_samples: d.trainingSamples.map((s) => ({ iteration: s.iteration, text: s.text })),
              }) + '\n',
            );
            return 0;
          }
          out(`Run ${d.id}: ${d.name}\n`);
          out(`  status      ${d.status}${d.error ? ` (${d.error})` : ''}\n`);
          out(`  corpus      ${d.corpusName} (id ${d.corpusId})\n`);
          out(`  model       ${describeModel(d.config)}${d.params ? `, ${d.params.toLocaleString('en-US')} parameters` : ''}\n`);
          out(`  iterations  ${d.iterations}${d.totalIters ? ` of ${d.totalIters}` : ''}\n`);
          out(`  best val    ${fmtLoss(d.bestValLoss)} nats/char${d.baselineValLoss !== null ? ` (n-gram baseline ${fmtLoss(d.baselineValLoss)})` : ''}\n`);
          if (d.backend) out(`  backend     ${d.backend} (${d.device})\n`);
          for (const c of d.checkpoints) out(`  ${c.kind.padEnd(11)} ${c.path} (iteration ${c.iteration}, val ${fmtLoss(c.valLoss)})\n`);
          if (!d.checkpoints.length) out('  checkpoints none\n');
          if (d.resumable && d.status !== 'completed' && d.status !== 'running' && d.status !== 'paused') out(`  resume with charmer resume ${d.id}\n`);
          const last = d.trainingSamples.at(-1);
          if (last) out(`\nLast sample (iteration ${last.iteration}):\n${last.text}\n`);
          return 0;
        }
        case 'delete': {
          const id = parseId(arg, 'run');
          await runs.deleteRun(id);
          out(`Deleted run ${id} and its checkpoints.\n`);
          return 0;
        }
        default:
          throw new CharmerError('BAD_OPTION', `Unknown action "${action}". Usage: ${USAGE}`);
      }
    } finally {
      store.close();
    }
  },
};
