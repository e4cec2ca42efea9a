/** The command line's progress bar follows whichever limit ends first: --max-iters or --max-time (issue 20, item 10). */
import { describe, expect, it } from 'vitest';
import { EventPrinter } from '../../src/cli/events.ts';
import { DEFAULT_CONFIG } from '../../src/engine/config.ts';
import type { TrainEvent } from '../../src/engine/events.ts';

/** A terminal-like stream that keeps what was written. */
function tty() {
  const chunks: string[] = [];
  return { stream: { isTTY: true, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream, chunks };
}

function start(maxTime: number, totalIters: number): TrainEvent {
  return {
    type: 'start',
    config: { ...DEFAULT_CONFIG, maxTime },
    backend: { backend: 'wasm', device: 'CPU (WebAssembly, 2 threads)', threads: 2 },
    vocabSize: 30,
    params: 1000,
    trainChars: 10000,
    valChars: 1000,
    itersPerEpoch: 100,
    totalIters,
    startIteration: 0,
    baselineValLoss: null,
    baselineOrder: null,
  };
}

function progress(iteration: number, elapsedS: number, totalIters: number): TrainEvent {
  return { type: 'progress', iteration, epoch: iteration / 100, trainLoss: 2, lr: 0.002, charsPerS: 1000, elapsedS, etaS: 0, totalIters };
}

/** The bar's filled share, from the last bar drawn. */
function filled(chunks: string[]): number {
  const bar = /\[(#*)(\.*)\]/.exec(chunks.filter((c) => c.startsWith('\r')).at(-1)!)!;
  return bar[1]!.length / (bar[1]!.length + bar[2]!.length);
}

describe('CLI progress bar', () => {
  it('with --max-time, the bar fills with the time when time ends first', () => {
    const { stream, chunks } = tty();
    const p = new EventPrinter({ json: false }, stream, stream);
    p.handle(start(10, 7600));
    p.handle(progress(132, 5, 7600));
    expect(filled(chunks)).toBe(0.5);
    p.handle(progress(265, 10, 7600));
    expect(filled(chunks)).toBe(1);
    expect(chunks.at(-1)).toMatch(/10s\/10s \(iteration 265\)/);
  });

  it('when the iterations end first, the bar counts iterations', () => {
    const { stream, chunks } = tty();
    const p = new EventPrinter({ json: false }, stream, stream);
    p.handle(start(3600, 100));
    p.handle(progress(50, 10, 100));
    expect(filled(chunks)).toBe(0.5);
    expect(chunks.at(-1)).toMatch(/\] 50\/100 epoch/);
  });

  it('without --max-time, iterations only', () => {
    const { stream, chunks } = tty();
    const p = new EventPrinter({ json: false }, stream, stream);
    p.handle(start(0, 200));
    p.handle(progress(50, 1000, 200));
    expect(filled(chunks)).toBe(0.25);
  });
});
