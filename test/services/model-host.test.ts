import { mkdtempSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend, corpusFromString, loadCheckpoint, sampleLines, sampleTextAll, train, type InspectChunk } from '../../src/engine/index.ts';
import { ModelHost } from '../../src/services/model-host.ts';

const host = new ModelHost();
const names = join(mkdtempSync(join(tmpdir(), 'charmer-host-')), 'names');
const prose = join(mkdtempSync(join(tmpdir(), 'charmer-host-')), 'prose');

async function fit(text: string, mode: 'text' | 'lines', out: string): Promise<void> {
  const config = { backend: 'wasm' as const, rnnSize: 32, numLayers: 1, batchSize: 8, seqLength: 16, maxIters: 40, evalEvery: 1000, sampleEvery: 0, mode };
  for await (const ev of train({ corpus: corpusFromString(text, { mode }), out, config, baseline: false })) void ev;
}

beforeAll(async () => {
  process.env.CHARMER_BACKEND = 'wasm';
  await chooseBackend('wasm');
  await fit(['Ada', 'Alan', 'Grace', 'Edsger', 'Barbara', 'Donald', 'Ken', 'Dennis', 'Linus', 'Guido', 'Bjarne', 'Niklaus'].join('\n'), 'lines', names);
  await fit('the quick brown fox jumps over the lazy dog. '.repeat(30), 'text', prose);
});

afterAll(() => host.close());

describe('ModelHost (sampling and inspection in a worker thread)', () => {
  it('samples names with novelty tags exactly as the engine does in-process', async () => {
    const opts = { count: 15, temperature: 1, seed: 4 };
    const remote = await host.sampleLines(join(names, 'latest'), opts);
    const ck = await loadCheckpoint(join(names, 'latest'));
    const local = await sampleLines(ck.model, { ...opts, items: ck.items });
    ck.model.dispose();
    expect(remote).toEqual(local);
    expect(remote.length).toBeGreaterThan(0);
  });

  it('streams text in chunks that add up to the whole sample, and the same seed gives the same text', async () => {
    const parts: string[] = [];
    const r = await host.sampleText(join(prose, 'latest'), { prime: 'the ', length: 300, temperature: 0.8, seed: 9 }, (c) => parts.push(c));
    expect(parts.join('')).toBe(r.text);
    expect([...r.text]).toHaveLength(300);
    const ck = await loadCheckpoint(join(prose, 'latest'));
    expect(await sampleTextAll(ck.model, { prime: 'the ', length: 300, temperature: 0.8, seed: 9 })).toEqual(r);
    ck.model.dispose();
  });

  it('a cancelled request ends early', async () => {
    const controller = new AbortController();
    let got = '';
    const p = host.sampleText(
      join(prose, 'latest'),
      { length: 200_000, temperature: 1, seed: 1 },
      (c) => {
        got += c;
        if (got.length > 50) controller.abort();
      },
      controller.signal,
    );
    const r = await p;
    expect(r.text.length).toBeLessThan(200_000);
  });

  it('streams inspection chunks and reports person-facing errors with their code', async () => {
    const chunks: InspectChunk[] = [];
    await host.inspect(join(prose, 'latest'), 'the lazy dog jumps', { chunkSize: 5 }, (c) => chunks.push(c));
    expect(chunks.map((c) => c.chars.join('')).join('')).toBe('the lazy dog jumps');
    expect(chunks[0]!.activations.length).toBeGreaterThan(0);
    await expect(host.sampleText(join(prose, 'latest'), { prime: 'THE', length: 5 }, () => {})).rejects.toMatchObject({ code: 'UNKNOWN_CHARACTERS' });
    await expect(host.sampleLines(join(prose, 'nope'), { count: 1 })).rejects.toMatchObject({ code: 'BAD_CHECKPOINT' });
  });

  it('a checkpoint rewritten while a request uses it: that request finishes on the model it had (found by the soak)', async () => {
    const dir = join(prose, 'latest');
    const text = 'the quick brown fox jumps over the lazy dog. '.repeat(60);
    let second: Promise<unknown> | null = null;
    let chunks = 0;
    const first = host.inspect(dir, text, { chunkSize: 5 }, () => {
      if (++chunks !== 1) return;
      // As a training run does when it writes latest/ again: a newer model.json. The next request
      // loads it and retires the model the inspection is still running on.
      const later = new Date(Date.now() + 60_000);
      utimesSync(join(dir, 'model.json'), later, later);
      second = host.sampleText(dir, { prime: 'the ', length: 10, temperature: 1, seed: 2 }, () => {});
    });
    await expect(first).resolves.toBeUndefined();
    expect(chunks).toBeGreaterThan(100);
    await expect(second).resolves.toMatchObject({ text: expect.any(String) });
  });
});
