/**
 * Copying a corpus into the library: one streaming pass that hashes (sha256 of the bytes), validates
 * UTF-8, counts characters, lines and each character's frequency, and writes the copy to a temporary
 * file renamed to corpora/<sha256>.txt, so a moved or edited original never breaks a run.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CharmerError } from '../common/errors.ts';
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
  /** Counts of code units outside surrogate pairs, by code unit: a typed array, not a Map lookup per character. */
  bmp = new Float64Array(65536);
  /** Characters in first-seen order (ties keep it after the sort, as a Map's order did). */
  order: string[] = [];
  pairs = new Map<string, number>();
  add(s: string): void {
    const n = s.length;
    const bmp = this.bmp;
    let chars = 0;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      chars++;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          const pair = s.slice(i, i + 2);
          const seen = this.pairs.get(pair);
          if (seen === undefined) this.order.push(pair);
          this.pairs.set(pair, (seen ?? 0) + 1);
          i++;
          continue;
        }
      }
      if (c === 10) this.newlines++;
      if (bmp[c]++ === 0) this.order.push(String.fromCharCode(c));
    }
    this.chars += chars;
    if (n) this.last = s[n - 1]!;
    if (this.head.length < 65536) this.head += s.slice(0, 65536 - this.head.length);
  }
  stats(hash: string, bytes: number): CorpusStats {
    const lines = this.chars === 0 ? 0 : this.newlines + (this.last === '\n' ? 0 : 1);
    const count = (ch: string) => (ch.length === 2 ? this.pairs.get(ch)! : this.bmp[ch.charCodeAt(0)]!);
    const charCounts: Record<string, number> = {};
    for (const ch of [...this.order].sort((a, b) => count(b) - count(a))) charCounts[ch] = count(ch);
    return { hash, bytes, chars: this.chars, lines, charCounts, head: this.head };
  }
}

function validate(name: string, chunk: string, offset: number): void {
  const nul = chunk.indexOf('\0');
  if (nul >= 0) {
    throw new CharmerError(
      'BINARY_FILE',
      `${name} is not a text file: it contains a NUL byte (near character ${offset + nul}). Choose a plain-text file (.txt) saved as UTF-8.`,
    );
  }
}

function invalidUtf8(name: string): CharmerError {
  return new CharmerError('INVALID_UTF8', `${name} is not valid UTF-8 text. Save it as UTF-8 in your editor and import it again.`);
}

/**
 * Opens a file for reading only when it is a regular file. A named pipe would block a read (and one
 * of Node's four I/O threads with it) until something writes to it, so the file is opened with
 * O_NONBLOCK (which never waits, even on a FIFO) and checked with fstat on the very descriptor that
 * will be read: no swap between the check and the open. Errors are sentences about the source
 * file, never about the library (EACCES here is the source's permission, not a read-only library).
 */
export async function openRegularFile(src: string): Promise<{ fh: fs.promises.FileHandle; size: number }> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(src, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw sourceError(e, src);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new CharmerError('IS_DIRECTORY', `${src} is a folder, not a text file. Choose a .txt file inside it.`, { path: src });
    if (!st.isFile()) {
      throw new CharmerError('NOT_A_FILE', `${src} is not a regular file (it is a named pipe, device or socket). Choose a text file.`, { path: src });
    }
    return { fh, size: st.size };
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}

/** What went wrong opening or reading a source file, as a sentence about that file. */
export function sourceError(e: unknown, src: string): unknown {
  if (e instanceof CharmerError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new CharmerError('FILE_NOT_FOUND', `There is no file at ${src}. Check the path.`, { path: src });
  if (code === 'EISDIR') return new CharmerError('IS_DIRECTORY', `${src} is a folder, not a text file. Choose a .txt file inside it.`, { path: src });
  if (code === 'EACCES' || code === 'EPERM') {
    return new CharmerError(
      'IO_ERROR',
      `Charmer may not read ${src} (permission denied). Make the file readable for your user, or copy it somewhere readable, and import it again.`,
      { path: src },
    );
  }
  if (code === 'ELOOP')
    return new CharmerError('IO_ERROR', `${src} is a symbolic link that points to itself. Choose the file it was meant to point to.`, { path: src });
  if (code) return new CharmerError('IO_ERROR', `Could not read ${src} (${code}). Check the file and try again.`, { path: src });
  return e;
}

/** Streams `src` into `tmp` while computing its stats. */
export async function copyAndMeasure(src: string, tmp: string, onProgress?: (p: ImportProgress) => void): Promise<CorpusStats> {
  const name = path.basename(src);
  const { fh, size } = await openRegularFile(src);
  if (size === 0) {
    await fh.close();
    throw new CharmerError('EMPTY_CORPUS', `${src} is empty: there is nothing to learn from.`, { path: src });
  }
  const st = { size };
  const hash = createHash('sha256');
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const counter = new Counter();
  let out: number;
  try {
    out = fs.openSync(tmp, 'w');
  } catch (e) {
    await fh.close();
    throw e;
  }
  let bytes = 0;
  try {
    // O_NONBLOCK stays set on the descriptor: harmless for a regular file, which never blocks.
    const input = fh.createReadStream({ highWaterMark: 1 << 20, autoClose: true });
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
    await fh.close().catch(() => {});
  }
  if (counter.chars === 0 || (counter.head.trim() === '' && counter.chars < 65536)) {
    throw new CharmerError('EMPTY_CORPUS', `${src} holds only blank space: there is nothing to learn from.`, { path: src });
  }
  return counter.stats(hash.digest('hex'), bytes);
}

/** Characters measured between two turns of the event loop: a few milliseconds of work. */
const TEXT_SLICE = 1 << 18;

/**
 * The same for text held in memory, written to `tmp`. A pasted 50 MB text takes seconds to count;
 * it is done a slice at a time, giving the event loop a turn between slices, so a server (or the
 * Electron main process) keeps answering everyone else meanwhile.
 */
export async function writeAndMeasureText(text: string, tmp: string, onProgress?: (p: ImportProgress) => void): Promise<CorpusStats> {
  if (text.includes('\0')) throw new CharmerError('BINARY_FILE', 'The text contains a NUL character; paste plain text.');
  if (text.trim() === '') throw new CharmerError('EMPTY_CORPUS', 'The text is empty: there is nothing to learn from.');
  const total = Buffer.byteLength(text, 'utf8');
  const hash = createHash('sha256');
  const counter = new Counter();
  const out = fs.openSync(tmp, 'w');
  let bytes = 0;
  try {
    for (let at = 0; at < text.length;) {
      let end = Math.min(text.length, at + TEXT_SLICE);
      // Never split a surrogate pair: each half alone would be encoded as U+FFFD.
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end++;
      const slice = text.slice(at, end);
      const buf = Buffer.from(slice, 'utf8');
      hash.update(buf);
      counter.add(slice);
      let off = 0;
      while (off < buf.length) off += fs.writeSync(out, buf, off, buf.length - off);
      bytes += buf.length;
      at = end;
      onProgress?.({ bytesRead: bytes, totalBytes: total });
      if (at < text.length) await new Promise<void>((r) => setImmediate(r));
    }
    fs.fsyncSync(out);
  } finally {
    fs.closeSync(out);
  }
  return counter.stats(hash.digest('hex'), bytes);
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
