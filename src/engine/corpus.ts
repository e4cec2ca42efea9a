/**
 * Corpora: a text file (or string) read as Unicode code points in one streaming pass and kept as a
 * typed array of vocabulary indices (2 bytes a character), so a 100 MB file fits in a few hundred MB.
 * Everything a person can get wrong with a file ends here in one CharmerError that says what to do.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import type { CategorySpec } from './categories.ts';
import type { CorpusMode } from './config.ts';
import { CharmerError } from './errors.ts';
import { DEFAULT_CONFIG, optionProblem } from './config.ts';
import type { LoadProgress } from './events.ts';
import { builtinNamesText, BUILTIN_NAMES } from './names.ts';
import { Rng } from './rng.ts';
import { MAX_VOCAB, Vocabulary } from './vocabulary.ts';

/** Lines mode is for short items; a longer line means the file is prose and wants text mode. */
export const MAX_ITEM_LENGTH = 500;
const NEWLINE = 10;
const CR = 13;

export interface Corpus {
  name: string;
  mode: CorpusMode;
  vocab: Vocabulary;
  /** Characters (code points) in the file. */
  length: number;
  /** Newline-separated lines in the file (lines mode: the items). */
  lines: number;
  /** sha256 (hex) of the bytes. */
  hash: string;
  bytes: number;
  /** Text mode: the whole stream as vocabulary indices. */
  text?: Uint16Array;
  /** Lines mode: item i is data[offsets[i] .. offsets[i + 1]). */
  items?: { data: Uint16Array; offsets: Uint32Array };
  /** Occurrences of each vocabulary entry, by index. */
  counts: Float64Array;
  /** Lines mode with categories: each item starts with one reserved token per column (./categories.ts). */
  categories?: CategorySpec;
  /** The built-in corpus this is (us-baby-names, startup-names, names), for name cards. */
  builtin?: string;
  /** Lines mode: how many times each item is trained per epoch (default once); validation counts each item once. */
  weights?: Uint8Array;
}

export interface LoadOptions {
  mode?: CorpusMode;
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
}

/**
 * Decodes UTF-8 chunk by chunk into provisional indices (in order of first appearance), validating
 * as it goes so an error can name the byte offset. Code points split across chunks are carried over.
 */
class Utf8IndexDecoder {
  /** Provisional index per code point, -1 if not seen yet. */
  private readonly slot = new Int32Array(0x110000).fill(-1);
  readonly seen: number[] = [];
  out: Uint16Array;
  length = 0;
  private pending = new Uint8Array(4);
  private pendingLen = 0;
  private offset = 0;
  private first = true;

  constructor(
    capacity: number,
    private readonly name: string,
  ) {
    this.out = new Uint16Array(Math.max(16, capacity));
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3; // BOM: not part of the text
      // A NUL near the start means a binary file (an image, a PDF...): say so, rather than
      // reporting the first byte that is not UTF-8.
      const nul = chunk.subarray(0, 8192).indexOf(0);
      if (nul >= 0) this.binary(nul);
    }
    if (this.pendingLen > 0) {
      // Complete the code point that straddled the previous chunk.
      const need = seqLength(this.pending[0]!) - this.pendingLen;
      const take = Math.min(need, chunk.length);
      for (let k = 0; k < take; k++) this.pending[this.pendingLen++] = chunk[k]!;
      i += take;
      if (this.pendingLen < seqLength(this.pending[0]!)) return;
      this.decodeAt(this.pending, 0, this.pendingLen, this.offset - this.pendingLen + take);
      this.pendingLen = 0;
    }
    const n = chunk.length;
    while (i < n) {
      const b = chunk[i]!;
      if (b < 0x80) {
        if (b === 0) this.binary(this.offset + i);
        this.emit(b);
        i++;
        continue;
      }
      const len = seqLength(b);
      if (len === 0) this.invalid(this.offset + i);
      if (i + len > n) {
        for (let k = i; k < n; k++) this.pending[this.pendingLen++] = chunk[k]!;
        break;
      }
      this.decodeAt(chunk, i, len, this.offset + i);
      i += len;
    }
    this.offset += n;
  }

  finish(): void {
    if (this.pendingLen > 0) this.invalid(this.offset - this.pendingLen, 'the file ends in the middle of a character');
  }

  private decodeAt(buf: Uint8Array, i: number, len: number, at: number): void {
    const b0 = buf[i]!;
    let cp = len === 2 ? b0 & 0x1f : len === 3 ? b0 & 0x0f : b0 & 0x07;
    for (let k = 1; k < len; k++) {
      const b = buf[i + k]!;
      if ((b & 0xc0) !== 0x80) this.invalid(at);
      cp = (cp << 6) | (b & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
    const min = len === 2 ? 0x80 : len === 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.invalid(at);
    this.emit(cp);
  }

  private emit(cp: number): void {
    let id = this.slot[cp]!;
    if (id < 0) {
      id = this.seen.length;
      if (id >= MAX_VOCAB) {
        throw new CharmerError(
          'VOCAB_TOO_LARGE',
          `${this.name} has more than ${MAX_VOCAB.toLocaleString('en-US')} distinct characters, the most Charmer handles. ` +
            'Is it really text in one language? Split it, or remove unusual symbols.',
        );
      }
      this.slot[cp] = id;
      this.seen.push(cp);
    }
    if (this.length === this.out.length) {
      const grown = new Uint16Array(this.out.length * 2);
      grown.set(this.out);
      this.out = grown;
    }
    this.out[this.length++] = id;
  }

  private binary(at: number): never {
    throw new CharmerError(
      'BINARY_FILE',
      `${this.name} is not a text file: it contains a NUL byte at byte offset ${at}. Choose a plain-text file (.txt) saved as UTF-8.`,
      { byteOffset: at },
    );
  }

  private invalid(at: number, why = 'invalid UTF-8'): never {
    throw new CharmerError(
      'INVALID_UTF8',
      `${this.name} is not valid UTF-8 text (${why} at byte offset ${at}). Save it as UTF-8 in your editor and import it again.`,
      { byteOffset: at },
    );
  }
}

function seqLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/** Load a file, or the built-in `names` corpus. */
export async function loadCorpus(source: string, opts: LoadOptions = {}): Promise<Corpus> {
  if (source === BUILTIN_NAMES) return corpusFromString(builtinNamesText(), { mode: opts.mode ?? 'lines', name: BUILTIN_NAMES });
  let stat;
  try {
    stat = await fsp.stat(source);
  } catch {
    throw new CharmerError('FILE_NOT_FOUND', `There is no file at ${source}. Check the path, or use the built-in corpus "names".`, { path: source });
  }
  if (stat.isDirectory()) {
    throw new CharmerError('IS_DIRECTORY', `${source} is a folder, not a text file. Choose a .txt file inside it.`, { path: source });
  }
  if (stat.size === 0) throw emptyError(source);
  const name = source.split(/[\\/]/).pop() ?? source;
  const decoder = new Utf8IndexDecoder(stat.size, name);
  const hash = createHash('sha256');
  let bytesRead = 0;
  const stream = createReadStream(source, { highWaterMark: 4 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      opts.signal?.throwIfAborted();
      hash.update(chunk);
      decoder.push(chunk);
      bytesRead += chunk.length;
      opts.onProgress?.({ bytesRead, totalBytes: stat.size });
    }
  } catch (e) {
    stream.destroy();
    if (e instanceof CharmerError || (e as Error).name === 'AbortError') throw e;
    throw new CharmerError('IO_ERROR', `Could not read ${source}: ${(e as Error).message}`);
  }
  decoder.finish();
  return buildCorpus(decoder, { name, mode: opts.mode ?? 'text', hash: hash.digest('hex'), bytes: bytesRead });
}

export function corpusFromString(text: string, opts: { mode?: CorpusMode; name?: string } = {}): Corpus {
  const bytes = Buffer.from(text, 'utf8');
  const name = opts.name ?? 'pasted text';
  if (bytes.length === 0) throw emptyError(name);
  const decoder = new Utf8IndexDecoder(text.length, name);
  decoder.push(bytes);
  decoder.finish();
  const hash = createHash('sha256').update(bytes).digest('hex');
  return buildCorpus(decoder, { name, mode: opts.mode ?? 'text', hash, bytes: bytes.length });
}

function emptyError(name: string): CharmerError {
  return new CharmerError('EMPTY_CORPUS', `${name} is empty. A model needs text to learn from: a few thousand characters at least.`);
}

function buildCorpus(d: Utf8IndexDecoder, meta: { name: string; mode: CorpusMode; hash: string; bytes: number }): Corpus {
  const raw = d.out.subarray(0, d.length);
  const chars = d.seen.map((cp) => String.fromCodePoint(cp));
  if (meta.mode === 'lines') return buildLines(raw, chars, d.seen, meta);
  if (raw.length === 0) throw emptyError(meta.name);
  const vocab = new Vocabulary(chars);
  // Provisional (first-appearance) ids to sorted vocabulary indices, in place.
  const perm = Uint16Array.from(chars, (c) => vocab.indexOf(c));
  const counts = new Float64Array(vocab.size);
  let lines = 0;
  const nl = vocab.indexOf('\n');
  for (let i = 0; i < raw.length; i++) {
    const v = perm[raw[i]!]!;
    raw[i] = v;
    counts[v]!++;
  }
  if (nl >= 0) lines = counts[nl]!;
  if (raw.length && raw[raw.length - 1] !== nl) lines++;
  const text = raw.length < d.out.length / 2 ? raw.slice() : raw;
  return { ...meta, vocab, length: raw.length, lines, text, counts };
}

function buildLines(raw: Uint16Array, chars: string[], cps: number[], meta: { name: string; mode: CorpusMode; hash: string; bytes: number }): Corpus {
  const nlId = cps.indexOf(NEWLINE);
  const crId = cps.indexOf(CR);
  // Items are the non-blank lines, without their line ending; '\n' joins the vocabulary as the marker.
  const spaceIds = new Set(cps.map((cp, i) => (String.fromCodePoint(cp).trim() === '' ? i : -1)).filter((i) => i >= 0));
  const offsets: number[] = [0];
  const data = new Uint16Array(raw.length);
  let n = 0;
  let lineNo = 0;
  let start = 0;
  const flush = (end: number) => {
    lineNo++;
    let e = end;
    if (e > start && raw[e - 1] === crId) e--;
    let blank = true;
    for (let k = start; k < e; k++) if (!spaceIds.has(raw[k]!)) blank = false;
    if (blank) return;
    if (e - start > MAX_ITEM_LENGTH) {
      throw new CharmerError(
        'ITEM_TOO_LONG',
        `Line ${lineNo} of ${meta.name} has ${e - start} characters; lines mode is for short items (names, titles) of up to ${MAX_ITEM_LENGTH}. Use text mode for prose.`,
        { line: lineNo },
      );
    }
    for (let k = start; k < e; k++) data[n++] = raw[k]!;
    offsets.push(n);
  };
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === nlId) {
      flush(i);
      start = i + 1;
    }
  }
  if (start < raw.length) flush(raw.length);
  if (offsets.length === 1) throw emptyError(meta.name);
  // The vocabulary holds the characters that occur in items, plus the marker.
  const used = new Uint8Array(chars.length);
  for (let i = 0; i < n; i++) used[data[i]!] = 1;
  const vocab = new Vocabulary(['\n', ...chars.filter((_, i) => used[i])]);
  const perm = Uint16Array.from(chars, (c) => Math.max(0, vocab.indexOf(c)));
  const counts = new Float64Array(vocab.size);
  for (let i = 0; i < n; i++) {
    const v = perm[data[i]!]!;
    data[i] = v;
    counts[v]!++;
  }
  counts[vocab.indexOf('\n')] = offsets.length - 1;
  const items = { data: data.slice(0, n), offsets: Uint32Array.from(offsets) };
  return { ...meta, vocab, length: raw.length, lines: offsets.length - 1, items, counts };
}

/** Lines mode when most lines are short and word-like (a list of names or titles), else text. */
export function guessMode(sample: string): CorpusMode {
  const lines = sample
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
  if (lines.length < 20) return 'text';
  const lengths = lines.map((l) => [...l].length).sort((a, b) => a - b);
  const median = lengths[Math.floor(lengths.length / 2)]!;
  const words = lines.slice(0, 2000).reduce((s, l) => s + l.trim().split(/\s+/).length, 0) / Math.min(lines.length, 2000);
  return median <= 40 && words <= 4 ? 'lines' : 'text';
}

export type Split = { mode: 'text'; data: Uint16Array } | { mode: 'lines'; items: Uint16Array[] };

/** Deterministic split: the tail in text mode, a seeded random subset of items in lines mode. */
export function splitCorpus(corpus: Corpus, valFraction = DEFAULT_CONFIG.valFraction, seed = DEFAULT_CONFIG.seed): { train: Split; val: Split } {
  const problem = optionProblem('valFraction', valFraction);
  if (problem) {
    throw new CharmerError('BAD_OPTION', problem);
  }
  if (corpus.text) {
    const n = corpus.text.length;
    const nVal = Math.max(1, Math.round(n * valFraction));
    return {
      train: { mode: 'text', data: corpus.text.subarray(0, n - nVal) },
      val: { mode: 'text', data: corpus.text.subarray(n - nVal) },
    };
  }
  const all = corpusItems(corpus);
  const order = Uint32Array.from(all.keys());
  new Rng(seed).shuffle(order);
  const nVal = Math.max(1, Math.round(all.length * valFraction));
  const val = [...order.subarray(0, nVal)].sort((a, b) => a - b).map((i) => all[i]!);
  const w = corpus.weights?.length === all.length ? corpus.weights : null;
  const train = [...order.subarray(nVal)].sort((a, b) => a - b).flatMap((i) => (w && w[i]! > 1 ? Array<Uint16Array>(w[i]!).fill(all[i]!) : [all[i]!]));
  return { train: { mode: 'lines', items: train }, val: { mode: 'lines', items: val } };
}

export function corpusItems(corpus: Corpus): Uint16Array[] {
  const { data, offsets } = corpus.items!;
  const out: Uint16Array[] = [];
  for (let i = 0; i + 1 < offsets.length; i++) out.push(data.subarray(offsets[i]!, offsets[i + 1]!));
  return out;
}

/** The first characters of the corpus as text, for previews. */
export function corpusPreview(corpus: Corpus, maxChars = 2000): string {
  if (corpus.text) return corpus.vocab.decode(corpus.text.subarray(0, maxChars));
  const items = corpusItems(corpus);
  let s = '';
  for (const it of items) {
    if (s.length >= maxChars) break;
    s += corpus.vocab.decode(it) + '\n';
  }
  return s.slice(0, maxChars);
}
