/**
 * The benchmark's pieces that need no timing: FLOP accounting, option checking, and one tiny
 * measurement end to end (so `npm run bench` cannot rot unnoticed).
 */
import { describe, expect, it } from 'vitest';
import { measure, trainFlopsPerChar } from '../../src/bench/measure.ts';
import { benchCommand } from '../../src/cli/commands/bench.ts';

describe('bench', () => {
  it('counts matrix-product FLOPs per training character like the issue (3x forward)', () => {
    // 2-layer LSTM, 128 units, vocabulary 65: per layer 2*(128+128)*512, plus the output layer.
    expect(trainFlopsPerChar({ cell: 'lstm', layers: 2, hidden: 128 })).toBe(3 * (2 * 2 * 256 * 512 + 2 * 128 * 65));
    expect(trainFlopsPerChar({ cell: 'gru', layers: 2, hidden: 512 })).toBe(3 * (2 * 2 * 1024 * 1536 + 2 * 512 * 65));
    // 4 blocks of width 128, context 64: qkv + projection 8C², MLP 16C², attention 4TC; the head.
    expect(trainFlopsPerChar({ cell: 'transformer', layers: 4, hidden: 128, seq: 64 })).toBe(3 * (4 * (24 * 128 * 128 + 4 * 64 * 128) + 2 * 128 * 65));
  });

  it('rejects unknown cells and backends with a clear message', async () => {
    await expect(benchCommand.run(['--cells', 'mamba'])).rejects.toThrow(/--cells accepts lstm, gru, rnn, transformer/);
    await expect(benchCommand.run(['--cells', 'transformer', '--hidden', '130', '--heads', '4'])).rejects.toThrow(
      /--hidden 130 is not a multiple of --heads 4.*--hidden 132/,
    );
    await expect(benchCommand.run(['--backend', 'tpu'])).rejects.toThrow(/--backend accepts/);
    await expect(benchCommand.run(['--hidden', 'big'])).rejects.toThrow(/--hidden/);
  });

  it('measures a tiny configuration with every key the issue asks for', async () => {
    const r = await measure({ impl: 'charmer-fused', backend: 'wasm', cell: 'lstm', layers: 1, hidden: 8, batch: 4, seq: 5, seconds: 0.1, threads: 1 });
    for (const k of ['impl', 'backend', 'cell', 'layers', 'hidden', 'batch', 'seq', 'train_chars_per_s', 'sample_chars_per_s', 'peak_rss_mb'] as const)
      expect(r[k]).toBeDefined();
    expect(r.train_chars_per_s).toBeGreaterThan(0);
    expect(r.sample_chars_per_s).toBeGreaterThan(0);
  });
});
