/**
 * Soak test (not in CI): `npm run soak -- --minutes N [--data-dir DIR] [--json FILE]`.
 *
 * Through the API (the contract's dispatch, every input validated, as browser mode and Electron
 * call it) it keeps busy for N minutes: two trainings (the built-in names in lines mode, and a text
 * corpus), generation (lines and text), the writing companion and Inspect, each in its own loop.
 * It samples what every process holds (TF.js tensors, resident memory, open file handles) after a
 * warm-up round of every operation, once a minute, and at the end, then prints the figures and
 * whether anything grew steadily. Exit code 1 when something did.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { contract, type Events } from '../src/api/contract.ts';
import { createDispatch } from '../src/api/dispatch.ts';
import { createHandlers } from '../src/api/node/handlers.ts';
import type { EmitOf } from '../src/api/define.ts';
import { createServices, type Diagnostics } from '../src/services/index.ts';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '20' }, 'data-dir': { type: 'string' }, json: { type: 'string' }, threads: { type: 'string', default: '1' } },
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error('--minutes must be a positive number');
const dataDir = values['data-dir'] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'charmer-soak-'));
const threads = Number(values.threads);

const services = await createServices({ dataDir });
const emit: EmitOf<Events> = () => {};
const dispatch = createDispatch(contract, createHandlers(services, { shell: 'browser', version: 'soak' }, emit));

async function call<T>(channel: string, input: unknown = {}): Promise<T> {
  const r = await dispatch(channel, input);
  if (r.error) throw new Error(`${channel}: ${r.error.code}: ${r.error.message}`);
  return r.result as T;
}

const log = (s: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

// The text corpus: tiny-shakespeare beside the checkout when present, else a generated text.
const shakespeare = path.resolve(import.meta.dirname, '../../shared/data/tinyshakespeare.txt');
const text = fs.existsSync(shakespeare)
  ? fs.readFileSync(shakespeare, 'utf8').slice(0, 300_000)
  : Array.from({ length: 4000 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog, and the cat watches.\n`).join('');
type Corpus = { id: number; name: string; builtin: boolean };
const corpora = await call<Corpus[]>('library.list');
const names = corpora.find((c) => c.builtin)!;
const prose = (await call<{ corpus: Corpus }>('library.importText', { text, name: 'soak prose', mode: 'text' })).corpus;

const budget = minutes * 60;
const common = { maxTime: budget + 120, maxEpochs: 100000, maxIters: 0, evalEvery: 50, sampleEvery: 100, threads, backend: 'wasm' as const };
type Run = { id: number; status: string; iterations: number };
const linesRun = await call<Run>('runs.start', { corpusId: names.id, name: 'soak names', config: { ...common, mode: 'lines', rnnSize: 64, numLayers: 2 } });
const textRun = await call<Run>('runs.start', {
  corpusId: prose.id,
  name: 'soak prose',
  config: { ...common, mode: 'text', rnnSize: 64, numLayers: 2, batchSize: 16, seqLength: 32 },
});
log(`data dir ${dataDir}; runs ${linesRun.id} (names) and ${textRun.id} (prose) started`);

async function waitForCheckpoint(id: number): Promise<void> {
  for (;;) {
    const r = await call<{ checkpoints: unknown[]; status: string; error: string | null }>('runs.get', { id });
    if (r.checkpoints.length > 0) return;
    if (r.status === 'failed') throw new Error(`run ${id} failed: ${r.error}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}
await waitForCheckpoint(linesRun.id);
await waitForCheckpoint(textRun.id);
log('both runs have a checkpoint');

const counts = { lines: 0, text: 0, companion: 0, inspect: 0, polls: 0 };
let seed = 1;
const ops: Record<keyof typeof counts, () => Promise<unknown>> = {
  lines: () => call('generate.lines', { runId: linesRun.id, kind: 'latest', requestId: 'soak-lines', count: 200, temperature: 0.8, seed: seed++ }),
  text: () =>
    call('generate.text', { runId: textRun.id, kind: 'latest', requestId: 'soak-text', length: 400, prime: 'ROMEO:', temperature: 0.8, seed: seed++ }),
  companion: () =>
    call('generate.continuations', {
      runId: textRun.id,
      kind: 'latest',
      requestId: 'soak-companion',
      context: text.slice(0, 2000),
      count: 3,
      length: 60,
      seed: seed++,
    }),
  inspect: () => call('inspect.run', { runId: textRun.id, checkpoint: 'latest', text: text.slice(5000, 7000), topK: 5, inspectId: 'soak-inspect' }),
  // What the Train view does while it shows the runs.
  polls: async () => {
    await call('runs.list', {});
    await call('runs.metrics', { id: linesRun.id, afterIteration: -1 });
    await new Promise((r) => setTimeout(r, 500));
  },
};

// A warm-up round: first-use allocations (kernels, the model thread's cache) are not growth.
for (const op of Object.values(ops)) await op();
log('warm-up done');

interface Sample {
  t: number;
  d: Diagnostics;
}
const samples: Sample[] = [];
const started = Date.now();
const sample = async () => samples.push({ t: Math.round((Date.now() - started) / 1000), d: await services.diagnostics!() });
await sample();

const end = started + budget * 1000;
const errors: string[] = [];
const loops = (Object.keys(ops) as (keyof typeof counts)[]).map(async (name) => {
  while (Date.now() < end) {
    try {
      await ops[name]();
      counts[name]++;
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message}`);
      if (errors.length > 50) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
});
const ticker = setInterval(() => {
  void sample().then(() => {
    const s = samples.at(-1)!.d;
    log(
      `t=${samples.at(-1)!.t}s main rss ${mb(s.main.rss)} fds ${s.main.openFiles}; model thread ${s.modelThread?.numTensors} tensors; ` +
        s.trainers.map((t) => `run ${t.runId}: ${t.numTensors} tensors rss ${mb(t.rss)} fds ${t.openFiles}`).join('; ') +
        `; ops ${JSON.stringify(counts)}`,
    );
  });
}, 60_000);
await Promise.all(loops);
clearInterval(ticker);
await sample();
const runsAtEnd = await call<Run[]>('runs.list', {});
await call('runs.stop', { id: linesRun.id }).catch(() => {});
await call('runs.stop', { id: textRun.id }).catch(() => {});
await services.close();

function mb(b: number): string {
  return `${(b / 2 ** 20).toFixed(0)} MB`;
}

// Growth: the second half against the first (one-off steps early on, such as caches filling, are
// not a trend). Tensors: no new high beyond the first half's plus what one request in flight holds;
// memory: the second half's mean within 10% of the first's; file handles: at most 2 more.
type Series = { name: string; values: number[]; kind: 'tensors' | 'rss' | 'files' };
const series: Series[] = [
  { name: 'main rss', values: samples.map((s) => s.d.main.rss), kind: 'rss' },
  { name: 'main open files', values: samples.map((s) => s.d.main.openFiles ?? 0), kind: 'files' },
  { name: 'model thread tensors', values: samples.map((s) => s.d.modelThread?.numTensors ?? 0), kind: 'tensors' },
];
for (const id of [linesRun.id, textRun.id]) {
  const of = (s: Sample) => s.d.trainers.find((t) => t.runId === id);
  const have = samples.filter(of);
  series.push(
    { name: `run ${id} tensors`, values: have.map((s) => of(s)!.numTensors), kind: 'tensors' },
    { name: `run ${id} rss`, values: have.map((s) => of(s)!.rss), kind: 'rss' },
    { name: `run ${id} open files`, values: have.map((s) => of(s)!.openFiles ?? 0), kind: 'files' },
  );
}
const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / Math.max(1, a.length);
const verdicts = series.map((s) => {
  const half = Math.max(1, Math.floor(s.values.length / 2));
  const first = s.values.slice(0, half);
  const second = s.values.slice(half);
  const ok =
    s.kind === 'tensors'
      ? Math.max(...second) <= Math.max(...first) + 10
      : s.kind === 'rss'
        ? mean(second) <= mean(first) * 1.1
        : Math.max(...second) <= Math.max(...first) + 2;
  return {
    name: s.name,
    kind: s.kind,
    values: s.values,
    start: s.values[0],
    end: s.values.at(-1),
    min: Math.min(...s.values),
    max: Math.max(...s.values),
    firstHalf: mean(first),
    secondHalf: mean(second),
    ok,
  };
});

const fmt = (name: string, v: number | undefined) => (v === undefined ? '-' : /rss/.test(name) ? mb(v) : String(v));
const lines = [
  `Soak: ${minutes} min, ${samples.length} samples; operations ${JSON.stringify(counts)}; errors ${errors.length}`,
  `Runs at the end: ${runsAtEnd
    .filter((r) => r.id === linesRun.id || r.id === textRun.id)
    .map((r) => `${r.id} ${r.status} at iteration ${r.iterations}`)
    .join(', ')}`,
  '',
  '| what | at start | at end | lowest | highest | first-half mean | second-half mean | bounded |',
  '|---|---|---|---|---|---|---|---|',
  ...verdicts.map(
    (v) =>
      `| ${v.name} | ${fmt(v.name, v.start)} | ${fmt(v.name, v.end)} | ${fmt(v.name, v.min)} | ${fmt(v.name, v.max)} | ${fmt(v.name, Math.round(v.firstHalf))} | ${fmt(v.name, Math.round(v.secondHalf))} | ${v.ok ? 'yes' : 'NO'} |`,
  ),
];
process.stdout.write(lines.join('\n') + '\n');
if (errors.length) process.stdout.write(`First errors:\n${errors.slice(0, 5).join('\n')}\n`);
if (values.json) fs.writeFileSync(values.json, JSON.stringify({ minutes, counts, errors, samples, verdicts }, null, 1));
process.exitCode = verdicts.every((v) => v.ok) && errors.length === 0 ? 0 : 1;
