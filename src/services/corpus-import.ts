/**
 * Copying a corpus into the library: one streaming pass that hashes (sha256 of the bytes), validates
 * UTF-8, counts characters, lines and each character's frequency, and writes the copy to a temporary
 * file renamed to corpora/<sha256>.txt, so a moved or edited original never breaks a run.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CharmerError } from '../engine/errors.ts';
import type { ImportProgress } from './types.ts';

export interface CorpusStats {
  hash: string;
  bytes: number;
  chars: number;
  lines: number;
  charCounts: Record<string, number>;
  /** The first 64 KB of text, for guessing the mode. */
  head: string;
}

class Counter {
  chars = 0;
  newlines = 0;
  last = '';
  head = '';
  counts = new Map<string, number>();
  add(s: string): void {
    for (const ch of s) {
      this.chars++;
      if (ch === '\n') this.newlines++;
      this.counts.set(ch, (this.counts.get(ch) ?? 0) + 1);
    }
    if (s.length) this.last = s[s.length - 1]!;
    if (this.head.length < 65536) this.head += s.slice(0, 65536 - this.head.length);
  }
  stats(hash: string, bytes: number): CorpusStats {
    const lines = this.chars === 0 ? 0 : this.newlines + (this.last === '\n' ? 0 : 1);
    const charCounts: Record<string, number> = {};
    for (const [k, v] of [...this.counts].sort((a, b) => b[1] - a[1])) charCounts[k] = v;
    return { hash, bytes, chars: this.chars, lines, charCounts, head: this.head };
  }
}

function validate(name: string, chunk: string, offset: number): void {
  const nul = chunk.indexOf('\0');
  if (nul >= 0) {
    throw new CharmerError('BINARY_FILE', `${name} is not a text file: it contains a NUL byte (near character ${offset + nul}). Choose a plain-text file (.txt) saved as UTF-8.`);
  }
}

function invalidUtf8(name: string): CharmerError {
  return new CharmerError('INVALID_UTF8', `${name} is not valid UTF-8 text. Save it as UTF-8 in your editor and import it again.`);
}

/** Streams `src` into `tmp` while computing its stats. */
export async function copyAndMeasure(src: string, tmp: string, onProgress?: (p: ImportProgress) => void): Promise<CorpusStats> {
  const name = path.basename(src);
  let st: fs.Stats;
  try {
    st = fs.statSync(src);
  } catch {
    throw new CharmerError('FILE_NOT_FOUND', `There is no file at ${src}. Check the path.`, { path: src });
  }
  if (st.isDirectory()) throw new CharmerError('IS_DIRECTORY', `${src} is a folder, not a text file. Choose a .txt file inside it.`, { path: src });
  if (st.size === 0) throw new CharmerError('EMPTY_CORPUS', `${src} is empty: there is nothing to learn from.`, { path: src });
  const hash = createHash('sha256');
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const counter = new Counter();
  const out = fs.openSync(tmp, 'w');
  let bytes = 0;
  try {
    const input = fs.createReadStream(src, { highWaterMark: 1 << 20 });
    for await (const chunk of input as AsyncIterable<Buffer>) {
      hash.update(chunk);
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        throw invalidUtf8(name);
      }
      validate(name, text, counter.chars);
      counter.add(text);
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(out, chunk, off, chunk.length - off);
      bytes += chunk.length;
      onProgress?.({ bytesRead: bytes, totalBytes: st.size });
    }
    try {
      counter.add(decoder.decode());
    } catch {
      throw invalidUtf8(name);
    }
    fs.fsyncSync(out);
  } finally {
    fs.closeSync(out);
  }
  if (counter.chars === 0 || counter.head.trim() === '' && counter.chars < 65536) {
    throw new CharmerError('EMPTY_CORPUS', `${src} holds only blank space: there is nothing to learn from.`, { path: src });
  }
  return counter.stats(hash.digest('hex'), bytes);
}

/** The same for text held in memory. */
export function measureText(text: string): { stats: CorpusStats; bytes: Buffer } {
  const buf = Buffer.from(text, 'utf8');
  if (text.includes('\0')) throw new CharmerError('BINARY_FILE', 'The text contains a NUL character; paste plain text.');
  if (text.trim() === '') throw new CharmerError('EMPTY_CORPUS', 'The text is empty: there is nothing to learn from.');
  const counter = new Counter();
  counter.add(text);
  return { stats: counter.stats(createHash('sha256').update(buf).digest('hex'), buf.length), bytes: buf };
}

/** Reads the first maxChars characters of a file (whole characters only). */
export function readPreview(file: string, maxChars: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(maxChars * 4);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = new TextDecoder('utf-8').decode(buf.subarray(0, n)).replace(/^\uFEFF/, '');
    return [...text.replace(/\uFFFD+$/, '')].slice(0, maxChars).join('');
  } finally {
    fs.closeSync(fd);
  }
}
