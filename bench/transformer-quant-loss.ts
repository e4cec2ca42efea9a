/**
 * What sampling on 8-bit weights costs in accuracy: a trained Transformer checkpoint streams a
 * text's validation part (its last 10%, as training holds it out) character by character through
 * the GptStream on float32 weights and on 8-bit weights (src/engine/transformer/quant-step.ts), and
 * prints the mean log-loss of the next character under each (nats/char), their difference, the
 * largest per-step difference of any likely character's log-probability, and how often the two
 * streams' likeliest characters differ. Both streams run the same windows (the prime, then one
 * character at a time, sliding past the context), so the difference is the quantisation alone.
 *
 *   npx tsx bench/transformer-quant-loss.ts --model DIR --text FILE [--chars 20000]
 */
import { readFileSync } from 'node:fs';
import { chooseBackend } from '../src/engine/backend.ts';
import { loadCheckpoint } from '../src/engine/checkpoint.ts';
import { GptStream } from '../src/engine/transformer/stream.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};

/** log p of every character from logits, in float64. */
function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const l of logits) max = Math.max(max, l);
  let z = 0;
  for (const l of logits) z += Math.exp(l - max);
  const lz = max + Math.log(z);
  return Float64Array.from(logits, (l) => l - lz);
}

async function main(): Promise<void> {
  const dir = arg('model');
  const file = arg('text');
  if (!dir || !file) throw new Error('Usage: npx tsx bench/transformer-quant-loss.ts --model DIR --text FILE [--chars N]');
  await chooseBackend('wasm');
  const { model } = await loadCheckpoint(dir);
  const text = readFileSync(file, 'utf8');
  const val = text.slice(Math.round(text.length * 0.9));
  const ids = Array.from(model.vocab.encode(val.slice(0, Number(arg('chars') ?? 20000) + 1), true));
  const streams = [(await GptStream.open(model, { quant: false }))!, (await GptStream.open(model, { quant: true }))!];
  if (streams[1]!.weightBits !== 8) throw new Error('The 8-bit products are not available here (SIMD WebAssembly, CHARMER_SAMPLE_QUANT).');
  let lp = streams.map((s) => logSoftmax(s.prime(ids.slice(0, 1))));
  const loss = [0, 0];
  let worst = 0;
  let argmaxDiffers = 0;
  const t0 = performance.now();
  for (let n = 1; n < ids.length; n++) {
    const [f, q] = lp as [Float64Array, Float64Array];
    loss[0]! -= f[ids[n]!]!;
    loss[1]! -= q[ids[n]!]!;
    let af = 0;
    let aq = 0;
    for (let c = 0; c < f.length; c++) {
      if (f[c]! > Math.log(1e-3)) worst = Math.max(worst, Math.abs(f[c]! - q[c]!));
      if (f[c]! > f[af]!) af = c;
      if (q[c]! > q[aq]!) aq = c;
    }
    if (af !== aq) argmaxDiffers++;
    lp = streams.map((s) => logSoftmax(s.step(ids[n]!)));
  }
  const steps = ids.length - 1;
  for (const s of streams) s.dispose();
  console.log(
    JSON.stringify({
      model: dir,
      shape: { layers: model.spec.layers, width: model.spec.hidden, heads: model.spec.heads, context: model.spec.blockSize, params: model.params },
      chars: steps,
      loss_f32: +(loss[0]! / steps).toFixed(5),
      loss_int8: +(loss[1]! / steps).toFixed(5),
      difference_nats_per_char: +((loss[1]! - loss[0]!) / steps).toFixed(5),
      worst_logprob_difference: +worst.toFixed(4),
      argmax_differs: +(argmaxDiffers / steps).toFixed(5),
      seconds: Math.round((performance.now() - t0) / 1000),
    }),
  );
}

await main();
