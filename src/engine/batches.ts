/**
 * Batches. Text mode follows char-rnn: the split is cut into `batch` contiguous rows and each step
 * takes the next `seq` characters of every row, so the recurrent state can be carried from one step
 * to the next (truncated BPTT). Lines mode: each row is one item, [marker, chars...] -> [chars...,
 * marker], padded to the longest item of the batch with a mask, from a zero state.
 */
import type { Split } from './corpus.ts';
import { Rng } from './rng.ts';

export interface Batch {
  x: Int32Array;
  y: Int32Array;
  /** 1 where y is a real target, 0 on padding; null when every position counts. */
  mask: Float32Array | null;
  rows: number;
  steps: number;
  /** Targets that count (for per-character averages). */
  count: number;
}

export interface TextLayout {
  rows: number;
  rowLength: number;
  itersPerEpoch: number;
}

export function textLayout(n: number, batch: number, seq: number): TextLayout {
  const rowLength = Math.floor((n - 1) / batch);
  return { rows: batch, rowLength, itersPerEpoch: Math.floor(rowLength / seq) };
}

export function textBatch(data: Uint16Array, layout: TextLayout, index: number, seq: number): Batch {
  const { rows, rowLength } = layout;
  const x = new Int32Array(rows * seq);
  const y = new Int32Array(rows * seq);
  for (let r = 0; r < rows; r++) {
    const base = r * rowLength + index * seq;
    for (let t = 0; t < seq; t++) {
      x[r * seq + t] = data[base + t]!;
      y[r * seq + t] = data[base + t + 1]!;
    }
  }
  return { x, y, mask: null, rows, steps: seq, count: rows * seq };
}

/**
 * Rows of `seq` characters from random places of the split (nanoGPT's get_batch), for models that
 * carry no state between batches. Drawn from `rng`, so a resumed run draws the same windows.
 */
export function randomWindows(data: Uint16Array, rows: number, seq: number, rng: Rng): Batch {
  const x = new Int32Array(rows * seq);
  const y = new Int32Array(rows * seq);
  const starts = data.length - seq; // a start s needs data[s .. s + seq] (the last as a target)
  for (let r = 0; r < rows; r++) {
    const base = rng.int(starts);
    for (let t = 0; t < seq; t++) {
      x[r * seq + t] = data[base + t]!;
      y[r * seq + t] = data[base + t + 1]!;
    }
  }
  return { x, y, mask: null, rows, steps: seq, count: rows * seq };
}

/** The whole validation split in text mode: rows with carried state, the last chunk shorter. */
export function* textEvalBatches(data: Uint16Array, batch: number, seq: number): Generator<Batch> {
  const rows = Math.max(1, Math.min(batch, Math.floor((data.length - 1) / seq) || 1));
  const rowLength = Math.floor((data.length - 1) / rows);
  for (let start = 0; start < rowLength; start += seq) {
    const steps = Math.min(seq, rowLength - start);
    const x = new Int32Array(rows * steps);
    const y = new Int32Array(rows * steps);
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < steps; t++) {
        x[r * steps + t] = data[r * rowLength + start + t]!;
        y[r * steps + t] = data[r * rowLength + start + t + 1]!;
      }
    }
    yield { x, y, mask: null, rows, steps, count: rows * steps };
  }
}

export function linesBatch(items: Uint16Array[], marker: number): Batch {
  const rows = items.length;
  const steps = Math.max(...items.map((it) => it.length)) + 1;
  const x = new Int32Array(rows * steps).fill(marker);
  const y = new Int32Array(rows * steps).fill(marker);
  const mask = new Float32Array(rows * steps);
  let count = 0;
  items.forEach((it, r) => {
    const o = r * steps;
    for (let t = 0; t < it.length; t++) {
      x[o + t + 1] = it[t]!;
      y[o + t] = it[t]!;
    }
    mask.fill(1, o, o + it.length + 1);
    count += it.length + 1;
  });
  return { x, y, mask, rows, steps, count };
}

/** The order of training items in an epoch: a fixed function of seed and epoch (so resume needs no state). */
let lastOrder: { key: string; order: Uint32Array } | null = null;

export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  const key = `${n}:${seed}:${epoch}`;
  if (lastOrder?.key === key) return lastOrder.order;
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  new Rng(seed * 1000003 + epoch * 7919 + 17).shuffle(order);
  lastOrder = { key, order };
  return order;
}

export function linesItersPerEpoch(n: number, batch: number): number {
  return Math.ceil(n / batch);
}

export function linesTrainBatch(split: Split & { mode: 'lines' }, marker: number, batch: number, seed: number, iteration: number): Batch {
  const per = linesItersPerEpoch(split.items.length, batch);
  const epoch = Math.floor(iteration / per);
  const k = iteration % per;
  const order = epochOrder(split.items.length, seed, epoch);
  const chosen = Array.from(order.subarray(k * batch, Math.min(split.items.length, (k + 1) * batch)), (i) => split.items[i]!);
  return linesBatch(chosen, marker);
}
