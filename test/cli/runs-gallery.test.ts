/** `charmer runs`, `charmer gallery` and `charmer resume` against a real library (seeded through the store). */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';
import { tempDir } from '../store/helpers.ts';

const REPO = path.resolve(__dirname, '../..');
let d: string;
let runId: number;

function charmer(...args: string[]) {
  return spawnSync(process.execPath, [path.join(REPO, 'bin/charmer.js'), ...args, '--data-dir', d], { cwd: REPO, encoding: 'utf8' });
}

beforeAll(() => {
  d = tempDir('charmer-cli-');
  const store = openStore(d);
  const c = store.insertCorpus({ name: 'poems', mode: 'text', bytes: 10, chars: 10, vocabSize: 5, lines: 2, hash: 'abc', sourcePath: null, charCounts: {} });
  const run = store.createRun({
    corpusId: c.id,
    name: 'poems lstm 2x128',
    config: { mode: 'text', model: 'lstm', numLayers: 2, rnnSize: 128 } as never,
    status: 'stopped',
  });
  runId = run.id;
  store.writeMetrics(
    run.id,
    [1, 2, 3].map((i) => ({ iteration: i, epoch: i / 10, trainLoss: 3 / i, valLoss: i === 3 ? 1.5 : null, lr: 0.002, charsPerS: 1000, elapsedS: i })),
  );
  store.updateRun(run.id, { bestValLoss: 1.5 });
  store.insertSamples([
    { runId: run.id, mode: 'lines', text: 'Marabel' },
    { runId: run.id, mode: 'lines', text: 'Anna, "x"' },
  ]);
  store.close();
});
afterAll(() => fs.rmSync(d, { recursive: true, force: true }));

describe('charmer runs', () => {
  it('lists as a table and as JSON lines, shows one, deletes one', () => {
    const list = charmer('runs');
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/ID\s+STATUS\s+CORPUS/);
    expect(list.stdout).toMatch(/stopped\s+poems\s+lstm 2x128\s+3\s+1\.5000/);
    const json = charmer('runs', '--json');
    const rows = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: runId, status: 'stopped', corpus: 'poems', best_val_loss: 1.5, iterations: 3 });
    const show = charmer('runs', 'show', String(runId));
    expect(show.stdout).toMatch(/Run 1: poems lstm 2x128[\s\S]*best val\s+1\.5000/);
    const missing = charmer('runs', 'show', '42');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no run with id 42/);
  });

  it('resume says clearly when there is no checkpoint', () => {
    const r = charmer('resume', String(runId));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no checkpoint to continue from/);
  });
});

describe('charmer gallery', () => {
  it('lists, searches, marks favourites and exports', () => {
    expect(charmer('gallery').stdout).toMatch(/Marabel/);
    const s = charmer('gallery', 'search', 'mara');
    expect(s.stdout).toMatch(/Marabel/);
    expect(s.stdout).not.toMatch(/Anna/);
    expect(charmer('gallery', 'favorite', '2').status).toBe(0);
    expect(charmer('gallery', 'list', '--favorites').stdout).toMatch(/★ Anna/);
    const out = path.join(d, 'export.csv');
    const e = charmer('gallery', 'export', '--format', 'csv', '--out', out);
    expect(e.status, e.stderr).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^id,text[\s\S]*"Anna, ""x"""/);
    expect(charmer('gallery', 'export', '--format', 'txt').stdout).toBe('Marabel\nAnna, "x"\n');
    expect(JSON.parse(charmer('gallery', 'export', '--format', 'json').stdout)).toHaveLength(2);
  });

  it('deleting a run keeps its generated texts', () => {
    expect(charmer('runs', 'delete', String(runId)).status).toBe(0);
    expect(charmer('runs', '--json').stdout).toBe('');
    expect(charmer('gallery').stdout).toMatch(/Marabel/);
  });
});
