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
    throw new CharmerError('BAD_OPTION', `This model is ${cell === 'rnn' ? 'a vanilla RNN' : `an ${cell.toUpperCase()}`}: it has no attention to look at. Inspect shows what its cells track instead.`);
  }
  let memo = sources.get(model);
  if (!memo) sources.set(model, (memo = []));
  const windows = memo;
  return {
    layers,
    heads,
    blockSize,
    async attend(ids) {
      const key = ids.join(',');
      const hit = windows.find((w) => w.key === key);
      if (hit) return hit.probs;
      const probs = (await attentionMaps(model, ids)).flat();
      windows.unshift({ key, probs });
      windows.length = Math.min(windows.length, MEMO_WINDOWS);
      return probs;
    },
  };
}

/**
 * The last few windows' attention per model: clicking through a text asks for one window again and
 * again (every position in it is answered from the same matrices), and a window of a 4x384 model at
 * block 256 is a whole forward pass. Four windows of that model hold 16 MB.
 */
const MEMO_WINDOWS = 4;
const sources = new WeakMap<CharModel, Array<{ key: string; probs: Float32Array[] }>>();
