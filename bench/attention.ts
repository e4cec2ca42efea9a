/**
 * Inspect for a Transformer: the time to rank every head over a text (scanAttention, windows of
 * the block every half block) and to answer one clicked character (attentionAt; the first click in
 * a window runs it, the next ones in it are remembered), on an untrained model of the given shape
 * over the last characters of tiny-shakespeare (or any text file). One JSON line.
 *
 *   npx tsx bench/attention.ts [--n-embd 128] [--n-layer 4] [--n-head 4] [--block-size 64] [--chars 2000] [--file PATH]
 */
import { readFileSync } from 'node:fs';
import {
  attentionAt,
  attentionSourceOf,
  attentionWindowStart,
  CharModel,
  chooseBackend,
  encodeKnown,
  scanAttention,
  Vocabulary,
  type CharmerMetadata,
} from '../src/engine/index.ts';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const nEmbd = Number(arg('n-embd', '128'));
const nLayer = Number(arg('n-layer', '4'));
const nHead = Number(arg('n-head', '4'));
const blockSize = Number(arg('block-size', '64'));
const chars = Number(arg('chars', '2000'));
const text = readFileSync(arg('file', new URL('../../shared/data/tinyshakespeare.txt', import.meta.url).pathname), 'utf8');

await chooseBackend('wasm');
const vocab = new Vocabulary([...new Set(text)].sort());
const spec = { cell: 'transformer' as const, vocabSize: vocab.size, embeddingSize: nEmbd, hidden: nEmbd, layers: nLayer, dropout: 0, heads: nHead, blockSize };
const model = CharModel.create(spec, vocab, { mode: 'text' } as CharmerMetadata, 1);
const src = attentionSourceOf(model);
const known = encodeKnown(model, text.slice(-chars));
// Warm-up: the kernels compile on first use.
await scanAttention(src, known.ids.subarray(0, blockSize), known.chars.slice(0, blockSize));

let t0 = performance.now();
await scanAttention(src, known.ids, known.chars);
const scanS = (performance.now() - t0) / 1000;
// A click in a window not read yet (the scan's four remembered windows are the last ones), then one beside it.
const pos = Math.min(known.ids.length - 2, blockSize * 2 + 3);
t0 = performance.now();
await attentionAt(src, known.ids, pos);
const firstClickMs = performance.now() - t0;
t0 = performance.now();
await attentionAt(src, known.ids, pos + 1);
const nextClickMs = performance.now() - t0;
console.log(
  JSON.stringify({
    nEmbd,
    nLayer,
    nHead,
    blockSize,
    chars: known.ids.length,
    window: attentionWindowStart(pos, blockSize),
    scanS: +scanS.toFixed(2),
    firstClickMs: +firstClickMs.toFixed(1),
    nextClickMs: +nextClickMs.toFixed(1),
  }),
);
model.dispose();
