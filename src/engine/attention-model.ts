/**
 * A loaded model as an AttentionSource (./attention.ts): only a Transformer has one; a recurrent
 * model is refused with a sentence saying what Inspect shows for it instead.
 */
import type { AttentionSource } from './attention.ts';
import { CharmerError } from './errors.ts';
import type { CharModel } from './model.ts';
import { attentionMaps } from './transformer/index.ts';

/** The characters of `text` the model knows, as ids, and how many it does not know. */
export function encodeKnown(model: CharModel, text: string): { ids: Int32Array; chars: string[]; skipped: number } {
  const chars: string[] = [];
  const ids: number[] = [];
  let skipped = 0;
  for (const ch of text) {
    const i = model.vocab.indexOf(ch);
    if (i < 0) skipped++;
    else {
      chars.push(ch);
      ids.push(i);
    }
  }
  return { ids: Int32Array.from(ids), chars, skipped };
}

export function attentionSourceOf(model: CharModel): AttentionSource {
  const { cell, layers, heads, blockSize } = model.spec;
  if (cell !== 'transformer' || !heads || !blockSize) {
    throw new CharmerError(
      'BAD_OPTION',
      `This model is ${cell === 'rnn' ? 'a vanilla RNN' : `an ${cell.toUpperCase()}`}: it has no attention to look at. Inspect shows what its cells track instead.`,
    );
  }
  let memo = sources.get(model);
  if (!memo) sources.set(model, (memo = []));
  const windows = memo;
  // A lines model read every item after the start marker ('\n', as in training and sampling).
  const nl = model.vocab.indexOf('\n');
  const marker = model.meta.mode === 'lines' && nl >= 0 ? nl : undefined;
  return {
    layers,
    heads,
    blockSize,
    ...(marker !== undefined ? { marker } : {}),
    async attend(ids) {
      const key = ids.join(',');
      const hit = windows.find((w) => w.key === key);
      if (hit) return hit.probs;
      // The text's first item has no marker before it: read it after one, as the model learnt it,
      // and leave the marker's row and column out (that row's weights then sum to less than 1).
      const lead = marker !== undefined && ids[0] !== marker && ids.length < blockSize;
      const maps = (await attentionMaps(model, lead ? [marker, ...ids] : ids)).flat();
      const probs = lead ? maps.map((m) => dropFirst(m, ids.length + 1)) : maps;
      windows.unshift({ key, probs });
      windows.length = Math.min(windows.length, MEMO_WINDOWS);
      return probs;
    },
  };
}

/** A [T x T] matrix without its first row and column. */
function dropFirst(m: Float32Array, T: number): Float32Array {
  const out = new Float32Array((T - 1) * (T - 1));
  for (let i = 1; i < T; i++) out.set(m.subarray(i * T + 1, i * T + T), (i - 1) * (T - 1));
  return out;
}

/**
 * The last few windows' attention per model: clicking through a text asks for one window again and
 * again (every position in it is answered from the same matrices), and a window of a 4x384 model at
 * block 256 is a whole forward pass. Four windows of that model hold 16 MB.
 */
const MEMO_WINDOWS = 4;
const sources = new WeakMap<CharModel, Array<{ key: string; probs: Float32Array[] }>>();
