/**
 * The shipped starter models on an empty data folder: listed and sampled by the command line with
 * no training, present in the library as read-only runs, and refused (with a sentence saying why)
 * when the API is asked to delete, rename or resume one, or to delete the corpus one trains on.
 * The suite runs with CHARMER_STARTERS=none; these tests point it at the real resources/starters.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../src/services/index.ts';
import { createHandlers } from '../../src/api/node/handlers.ts';
import { createDispatch } from '../../src/api/dispatch.ts';
import { contract } from '../../src/api/contract.ts';
import { listStarters } from '../../src/services/starters.ts';
import { tempDir } from '../store/helpers.ts';

const REPO = path.resolve(__dirname, '../..');
const STARTERS = path.join(REPO, 'resources/starters');
const shipped = listStarters(STARTERS);
const has = (id: string) => shipped.some((s) => s.id === id);
const metaOf = (id: string) => JSON.parse(fs.readFileSync(path.join(STARTERS, id, 'model.json'), 'utf8')).userDefinedMetadata.charmer;

function charmer(args: string[], dataDir: string) {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin/charmer.js'), ...args], {
    env: { ...process.env, CHARMER_STARTERS: STARTERS, CHARMER_DATA_DIR: dataDir },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('starter models on the command line, empty data folder', () => {
  it('charmer models --json lists every shipped starter with its validation loss', () => {
    const dataDir = tempDir();
    const r = charmer(['models', '--json'], dataDir);
    expect(r.code, r.err).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const s of shipped) {
      const line = lines.find((l) => l.id === s.id);
      expect(line, s.id).toBeDefined();
      expect(line.kind).toBe(metaOf(s.id).mode);
      expect(line.val_loss).toBe(metaOf(s.id).bestValLoss);
      expect(typeof line.name).toBe('string');
    }
  });

  it.skipIf(!has('baby-names'))('charmer sample baby-names --count 20 prints 20 names, some new', () => {
    const r = charmer(['sample', 'baby-names', '--count', '20', '--json', '--seed', '1'], tempDir());
    expect(r.code, r.err).toBe(0);
    const items = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(items).toHaveLength(20);
    for (const it of items) {
      expect(it.text.length).toBeGreaterThan(0);
      expect(['train', 'val', 'new']).toContain(it.novelty);
    }
    expect(items.some((it) => it.novelty === 'new')).toBe(true);
  });

  it.skipIf(!has('shakespeare'))('charmer sample shakespeare --prime "ROMEO:" continues the prime', () => {
    const r = charmer(['sample', 'shakespeare', '--prime', 'ROMEO:', '--length', '200', '--seed', '3'], tempDir());
    expect(r.code, r.err).toBe(0);
    expect(r.out.startsWith('ROMEO:')).toBe(true);
    expect(r.out.trim().length).toBeGreaterThan('ROMEO:'.length + 100);
  });

  it('an unknown model name says what it looked for', () => {
    const r = charmer(['sample', 'no-such-starter'], tempDir());
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/no starter model or checkpoint folder called "no-such-starter"/);
  });
});

describe('starter models in the library are read-only', () => {
  let services: Services;
  let dispatch: ReturnType<typeof createDispatch>;
  const before = process.env.CHARMER_STARTERS;

  beforeAll(async () => {
    process.env.CHARMER_STARTERS = STARTERS;
    services = await createServices({ dataDir: tempDir() });
    dispatch = createDispatch(
      contract,
      createHandlers(services, { shell: 'browser', version: 'test' }, () => {}),
    );
  });
  afterAll(async () => {
    await services?.close();
    process.env.CHARMER_STARTERS = before;
  });

  it('every shipped starter is a completed run with its checkpoint and loss history', async () => {
    const runs = await services.runs.listRuns();
    expect(runs.map((r) => r.starter).sort()).toEqual(shipped.map((s) => s.id).sort());
    for (const s of shipped) {
      const run = runs.find((r) => r.starter === s.id)!;
      const detail = await services.runs.getRun(run.id);
      expect(detail.status).toBe('completed');
      expect(detail.bestValLoss).toBe(metaOf(s.id).bestValLoss);
      expect(detail.checkpoints.map((c) => c.kind)).toEqual(['best']);
      expect(detail.metrics.some((m) => m.valLoss !== null)).toBe(true);
    }
  });

  it('the API refuses to delete, rename or resume a starter, or delete its corpus, and nothing is lost', async () => {
    const runs = await services.runs.listRuns();
    for (const run of runs.filter((r) => r.starter)) {
      const files = fs.readdirSync(path.join(services.info.dataDir, 'runs', String(run.id), 'best')).sort();
      for (const [channel, input] of [
        ['runs.remove', { id: run.id }],
        ['runs.rename', { id: run.id, name: 'mine now' }],
        ['runs.resume', { id: run.id }],
        ['library.remove', { id: run.corpusId, force: true }],
      ] as const) {
        const reply = (await dispatch(channel, input)) as { error: { code: string; message: string } | null };
        expect(reply.error, channel).not.toBeNull();
        expect(reply.error!.code, channel).toBe('STARTER_READ_ONLY');
        expect(reply.error!.message).toContain(run.starter!);
      }
      const after = await services.runs.getRun(run.id);
      expect(after.name).toBe(run.name);
      expect(fs.readdirSync(path.join(services.info.dataDir, 'runs', String(run.id), 'best')).sort()).toEqual(files);
    }
    expect((await services.library.listCorpora()).length).toBeGreaterThan(0);
  });

  it('a copy of a starter is a model of ones own: same checkpoint and loss, and it can be deleted', async () => {
    const starter = (await services.runs.listRuns()).find((r) => r.starter)!;
    const reply = (await dispatch('runs.copy', { id: starter.id })) as {
      error: unknown;
      result: { id: number; name: string; bestValLoss: number | null; starter?: string };
    };
    expect(reply.error).toBeNull();
    const copy = reply.result;
    expect(copy.starter).toBeUndefined();
    expect(copy.bestValLoss).toBe(starter.bestValLoss);
    const detail = await services.runs.getRun(copy.id);
    expect(detail.checkpoints.map((c) => c.kind)).toEqual(['best']);
    // Buffer.equals: a deep toEqual over megabytes of weights takes minutes.
    expect(
      fs.readFileSync(path.join(detail.checkpoints[0]!.path, 'weights.bin')).equals(fs.readFileSync(path.join(STARTERS, starter.starter!, 'weights.bin'))),
    ).toBe(true);
    const renamed = (await dispatch('runs.rename', { id: copy.id, name: 'mine' })) as { error: unknown };
    expect(renamed.error).toBeNull();
    expect(((await dispatch('runs.remove', { id: copy.id })) as { error: unknown }).error).toBeNull();
    expect(fs.existsSync(path.join(STARTERS, starter.starter!, 'model.json'))).toBe(true);
  });

  it.skipIf(!has('baby-names'))('generates names from the starter with no training', async () => {
    const run = (await services.runs.listRuns()).find((r) => r.starter === 'baby-names')!;
    const a = await services.generation.sampleLines({ runId: run.id, count: 10, seed: 5 });
    expect(a.items).toHaveLength(10);
    expect(a.model.starter).toBe('baby-names');
  });

  it('a second start does not add the starters again', async () => {
    const dataDir = services.info.dataDir;
    const count = (await services.runs.listRuns()).length;
    await services.close();
    services = await createServices({ dataDir });
    dispatch = createDispatch(
      contract,
      createHandlers(services, { shell: 'browser', version: 'test' }, () => {}),
    );
    expect((await services.runs.listRuns()).length).toBe(count);
  });
});
